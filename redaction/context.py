"""What redaction remembers of one conversation: who asked for what, and numbers read out in pieces.

Held in memory for a window of time and utterances. Where a conversation's parties are on several processes,
what one party asked the other (`SharedRequest`: entity ids and counters, never words) is exchanged between them
through `shared_requests` and `merge_requests`; numbers read in pieces, names and half questions stay where their
speaker's stream is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from redaction import spanish
from redaction.detectors import CARD_COMPLETE_DIGITS, NumberContext, Span, mentioned, not_a_card
from redaction.digit_runs import digit_words, number_digits
from redaction.entities import EntityId
from redaction.mentions import words_of
from redaction.names import name_words
from redaction.numbers_es import fold

MAX_CARD_DIGITS = 19


# Asked for, these are the whole of the next utterance: one answer closes them.
ANSWERED_ONCE = frozenset({EntityId.NAME, EntityId.SECURITY_ANSWER, EntityId.USERNAME, EntityId.ADDRESS})
NUMBERS = frozenset({EntityId.CREDIT_CARD_NUMBER, EntityId.CVV, EntityId.PIN, EntityId.SSN})
SPLIT_QUESTION_S = 10.0  # an agent's utterance is read together with the one before it within this time


@dataclass
class _Request:
    entities: set[EntityId]
    at: float
    answers_left: int
    not_a_card: bool = False  # the question named its number: "what's the tracking number?"
    answering: set[EntityId] = field(default_factory=set)  # numbers the last answer began to give
    wall: float | None = None  # wall-clock time of the question once shared: the same request on every process

    def answered(self, spans: list[Span]) -> None:
        """Close what the utterance before answered, and note what this one answers. A secret number stays
        open for one more utterance after its first digits, if that one reads on (a PIN read as "1234" and
        "56", a CVV as "5 6" and "1"); anything else is answered at once."""
        self.entities -= self.answering
        found = {EntityId(span.entity) for span in spans if span.entity in EntityId.__members__}
        self.answering = found & NUMBERS
        self.entities -= found - NUMBERS
        self.entities -= ANSWERED_ONCE  # a name or security answer is the next utterance, or was not given


@dataclass(frozen=True)
class SharedRequest:
    """An open request as processes exchange it: what was asked (entity ids), when (wall clock), how many of the
    other party's utterances it still shapes; no word of the conversation."""

    entities: tuple[str, ...]
    wall: float
    answers_left: int
    not_a_card: bool
    answering: tuple[str, ...]

    def supersedes(self, other: SharedRequest) -> bool:
        """A later question, or the same one further answered."""
        return self.wall > other.wall or (self.wall == other.wall and self.answers_left < other.answers_left)


@dataclass
class _Fragment:
    digits: str
    at: float
    utterances: int
    card: bool  # already taken as the start of a card number


class ConversationContext:
    def __init__(self, window_s: float = 30.0, window_utterances: int = 3) -> None:
        self._window_s = window_s
        self._window_utterances = window_utterances
        self._requests: dict[str, _Request] = {}  # by the role that is expected to answer
        self._fragments: dict[str, _Fragment] = {}
        self._unfinished: dict[str, tuple[str, float]] = {}  # an utterance that named nothing: half a question?
        self.names: set[str] = set()  # words of the names given in the call, masked wherever they come back

    def number_context(
        self,
        role: str,
        text: str,
        now: float,
        active: frozenset[EntityId],
        assume: frozenset[EntityId] = frozenset(),
        language: str = "en",
    ) -> NumberContext:
        expected = set(mentioned(text, active, language)) | assume
        named_otherwise = not_a_card(text, language)
        request = self._requests.get(role)
        if request and now - request.at <= self._window_s and request.answers_left > 0:
            expected |= request.entities - request.answering
            if request.answering and reads_on(text, language):  # "1" after "5 6": the rest of the CVV
                expected |= request.answering
            named_otherwise = named_otherwise or request.not_a_card
        fragment = self._fragments.get(role)
        if fragment and (now - fragment.at > self._window_s or fragment.utterances >= self._window_utterances):
            fragment = None
        return NumberContext(
            frozenset(expected),
            fragment.digits if fragment else "",
            bool(fragment and fragment.card),
            named_otherwise=named_otherwise,
        )

    def expects(self, role: str, entity: EntityId, now: float) -> bool:
        request = self._requests.get(role)
        return bool(
            request and entity in request.entities and now - request.at <= self._window_s and request.answers_left > 0
        )

    def expected(self, role: str, now: float) -> frozenset[EntityId]:
        """What the other party asked `role` for and is still open."""
        request = self._requests.get(role)
        if request and now - request.at <= self._window_s and request.answers_left > 0:
            return frozenset(request.entities)
        return frozenset()

    def record(
        self, role: str, text: str, now: float, spans: list[Span], active: frozenset[EntityId], language: str = "en"
    ) -> None:
        """After an utterance is redacted: note what it asked the other party for and any number left open."""
        if EntityId.NAME in active:
            self.names |= name_words(text, spans, language)
        request = self._requests.get(role)
        if request:
            request.answers_left -= 1
            request.answered(spans)  # a card read in pieces goes on as a fragment too
        # The agent naming a card, CVV, PIN... opens it whatever the ASR made of the punctuation, also when
        # the question was split over two utterances; the customer must ask.
        question = role == "agent" or "?" in text or "¿" in text or _asks(text, language)
        asked = self._asked(role, text, now, active, language) if question else set()
        if asked or (question and not_a_card(text, language)):
            self._ask(role, asked, now, not_a_card=not asked)
        elif not question:
            self._announce(role, text, now, active, language)
        self._note_numbers(role, text, now, spans, language)

    def _announce(self, role: str, text: str, now: float, active: frozenset[EntityId], language: str) -> None:
        """A speaker naming their own secret number ("My card number is...") reads it next, maybe in groups
        with pauses long enough to end utterances: those are expected to hold it, as if the other party had
        asked (fail safe: the groups alone are 4 digits each, too short to be a card)."""
        named = mentioned(text, active, language) & NUMBERS
        if named and not not_a_card(text, language):
            self._requests[role] = _Request(set(named), now, self._window_utterances, False)

    def shared_requests(self, now: float, wall: float) -> dict[str, SharedRequest]:
        """The open requests by answering role (`now` this context's clock, `wall` the wall clock at that moment)."""
        shared = {}
        for role, request in self._requests.items():
            if now - request.at > self._window_s:
                continue
            if request.wall is None:
                request.wall = round(wall - (now - request.at), 6)
            entities = tuple(sorted(e.value for e in request.entities))
            answering = tuple(sorted(e.value for e in request.answering))
            shared[role] = SharedRequest(entities, request.wall, request.answers_left, request.not_a_card, answering)
        return shared

    def merge_requests(self, shared: dict[str, SharedRequest], now: float, wall: float) -> None:
        """Take the other processes' requests that supersede ours (unknown entity ids are ignored)."""
        mine = self.shared_requests(now, wall)
        for role, theirs in shared.items():
            if role in mine and not theirs.supersedes(mine[role]):
                continue
            known = {e for e in EntityId if e.value in theirs.entities}
            answering = {e for e in EntityId if e.value in theirs.answering}
            at = now - max(0.0, wall - theirs.wall)
            self._requests[role] = _Request(known, at, theirs.answers_left, theirs.not_a_card, answering, theirs.wall)

    def _ask(self, role: str, asked: set[EntityId], now: float, not_a_card: bool) -> None:
        """A new question replaces the other party's open one; naming only another kind of number ("on the
        account", "the tracking number?") leaves a secret still asked for open."""
        for other in ("customer", "agent"):
            if other == role:
                continue
            open_request = self._requests.get(other)
            if not asked and open_request and open_request.entities and now - open_request.at <= self._window_s:
                continue
            self._requests[other] = _Request(set(asked), now, self._window_utterances, not_a_card)

    def _asked(self, role: str, text: str, now: float, active: frozenset[EntityId], language: str) -> set[EntityId]:
        """What `text` names, read after the speaker's previous utterance when that one named nothing: "And the
        security" + "code on the back"."""
        asked = mentioned(text, active, language) - {EntityId.EMAIL}
        previous = self._unfinished.pop(role, None)
        if not asked and previous and now - previous[1] <= SPLIT_QUESTION_S:
            asked = mentioned(f"{previous[0]} {text}", active, language) - {EntityId.EMAIL}
        if not asked:
            self._unfinished[role] = (text, now)
        return asked

    def _note_numbers(self, role: str, text: str, now: float, spans: list[Span], language: str) -> None:
        digits = number_digits(text, language)  # homophones inside a run count: "for 1 1 1" is 4111
        if not digits:
            fragment = self._fragments.get(role)
            if fragment:
                fragment.utterances += 1
            return
        cards = [s for s in spans if s.entity == EntityId.CREDIT_CARD_NUMBER]
        previous = self._fragments.get(role)
        if previous and now - previous.at <= self._window_s:
            digits = previous.digits + digits
        complete = any(s.keep_last for s in cards) or len(digits) >= CARD_COMPLETE_DIGITS
        if complete and cards:  # a card was just read: its CVV or expiry date may come next
            self._fragments[role] = _Fragment("", now, 0, card=True)
        elif complete:
            self._fragments.pop(role, None)
        else:
            self._fragments[role] = _Fragment(digits[-MAX_CARD_DIGITS:], now, 0, bool(cards))


_ASKING = (
    "can i have",
    "could i have",
    "may i have",
    "what is",
    "what's",
    "please",
    "give me",
    "tell me",
    "read me",
    "provide",
    "confirm",
    "verify",
    "i need",
    "i'll need",
    "i will need",
    "go ahead",
)


def reads_on(text: str, language: str = "en") -> bool:
    """An utterance that is little but digits: the rest of a number read in the utterance before."""
    digits, reading = digit_words(language), spanish.READING_WORDS if language == "es" else READING_WORDS
    words = [w for w in words_of(text, language) if not w.isdigit() and w not in digits and w not in reading]
    return len(words) <= 2


READING_WORDS = frozenset("and uh um er ah it s its is that that's the rest last then yes yeah sure okay".split())


def _asks(text: str, language: str) -> bool:
    if language == "es":
        folded = fold(text)
        return any(phrase in folded for phrase in spanish.ASKING)
    lowered = text.lower()
    return any(phrase in lowered for phrase in _ASKING)

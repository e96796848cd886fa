"""The text stage between ASR and every output: smart formatting, then redaction in the stream's output mode."""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from mediagw.config import ConfigError
from mediagw.endpointing import PIECED_NUMBERS
from mediagw.shared.context import ContextStore, LocalContexts
from mediagw.turns import StreamTurns, TurnOrder
from redaction import ner
from redaction.context import ConversationContext
from redaction.entities import NEEDS_NER, EntityId
from redaction.languages import ENGLISH, spoken_form, to_written
from redaction.redactor import Redactor
from redaction.settings import EntitySettings

log = logging.getLogger(__name__)

REDACTED, UNREDACTED, BOTH = "redacted", "unredacted", "redacted_and_unredacted"
NUMBER_SECRETS = frozenset({EntityId.CVV, EntityId.PIN, EntityId.SSN, EntityId.CREDIT_CARD_NUMBER})


@dataclass(frozen=True)
class TextOutput:
    text: str  # what outputs show: redacted unless the stream asked for unredacted text
    unredacted: str | None = None  # only in redacted_and_unredacted mode


class Conversations:
    """Redaction memory of live conversations, by conversation id, forgotten after `idle_s` without an utterance;
    and the order of their parties' utterances, kept while a stream of the conversation holds it."""

    def __init__(self, window_s: float, window_utterances: int, idle_s: float = 3600.0) -> None:
        self._window_s = window_s
        self._window_utterances = window_utterances
        self._idle_s = idle_s
        self._contexts: dict[str, tuple[ConversationContext, float]] = {}
        self._orders: weakref.WeakValueDictionary[str, TurnOrder] = weakref.WeakValueDictionary()

    def order(self, conversation_id: str) -> TurnOrder:
        order = self._orders.get(conversation_id)
        if order is None:
            order = self._orders[conversation_id] = TurnOrder()
        return order

    def __len__(self) -> int:
        return len(self._contexts)

    def get(self, conversation_id: str, now: float) -> ConversationContext:
        entry = self._contexts.get(conversation_id)
        context = entry[0] if entry else ConversationContext(self._window_s, self._window_utterances)
        self._contexts[conversation_id] = (context, now)
        if len(self._contexts) % 256 == 0:
            self._forget_idle(now)
        return context

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, (_, seen) in self._contexts.items() if now - seen > self._idle_s]:
            del self._contexts[key]


class TextStage:
    def __init__(self, redactor: Redactor, settings: EntitySettings, conversations: Conversations, mask: str) -> None:
        self._redactor = redactor
        self._settings = settings
        self._conversations = conversations
        self._mask = mask
        self.contexts: ContextStore = LocalContexts()  # start-up sets RedisContexts in a cluster

    @property
    def redactor(self) -> Redactor:
        return self._redactor

    def require_model(self, active: frozenset[EntityId]) -> None:
        """Refuse (ConfigError) entities that need the named-entity model where it is missing; load it now
        where it is needed, so no utterance waits for it."""
        try:
            ner.require(active)
        except ner.NerUnavailable as error:
            raise ConfigError(str(error)) from error
        if active & NEEDS_NER:
            ner.pipeline()

    def turns(self, conversation_id: str, role: str, limit_s: float, on_late: Callable[[], None]) -> StreamTurns:
        """A stream's place in its conversation's order, so it is redacted after the questions put to it (on this
        node, and with a shared context on the others)."""
        contexts = self.contexts
        return StreamTurns(
            self._conversations.order(conversation_id),
            role,
            limit_s,
            on_late,
            pull=lambda turn: contexts.pull(conversation_id, self._context(conversation_id), turn, limit_s),
            push=lambda: contexts.push(conversation_id, self._context(conversation_id)),
            opened=lambda turn: contexts.opened(conversation_id, turn),
            closed=lambda turn: contexts.closed(conversation_id, turn),
        )

    def _context(self, conversation_id: str) -> ConversationContext:
        return self._conversations.get(conversation_id, time.monotonic())

    def number_expected(self, text: str, *, conversation_id: str, role: str, language: str = ENGLISH) -> bool:
        """Whether a digit group `role` reads in `text` is likely a piece of a longer number (endpointing: the
        mid-phrase wait): the other party asked for one of PIECED_NUMBERS, `text` names one, or `role` read
        digits that completed nothing just before. Read-only: the context is written by `process` alone."""
        written = to_written(text, language)
        now = time.monotonic()
        context = self._conversations.get(conversation_id, now)
        numbers = context.number_context(role, written, now, PIECED_NUMBERS, language=language)
        return bool(numbers.expected & PIECED_NUMBERS or numbers.previous_digits)

    def process(
        self,
        text: str,
        *,
        conversation_id: str,
        role: str,
        smart_formatting: bool,
        output: str,
        fail_safe: bool = False,
        language: str = ENGLISH,
    ) -> TextOutput:
        """`fail_safe`: the other party's last words are not known yet; any secret number is taken as asked for.
        `language`: the stream's ISO 639-1 code ('en', 'es'), whose words formatting and redaction read."""
        if not smart_formatting:
            return TextOutput(spoken_form(text, language))  # redaction needs written text: refused at start (4092)
        written = to_written(text, language)
        now = time.monotonic()
        context = self._conversations.get(conversation_id, now)
        try:
            assume = NUMBER_SECRETS & self._settings.active if fail_safe else frozenset()
            active = self._settings.active
            redacted = self._redactor.redact(written, role, active, context, now, assume, language).text
        except Exception as error:  # fail closed, and say nothing of the text
            log.error("redaction failed (%s); the utterance is masked whole", type(error).__name__)
            redacted = "".join(self._mask if c.isalnum() else c for c in written)
        if output == UNREDACTED:
            return TextOutput(written)  # redaction still ran, so the conversation's context stays whole
        return TextOutput(redacted, written if output == BOTH else None)

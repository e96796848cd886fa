"""The fail-safe PCI rule: any long run of digits is masked, however the ASR spelled or split it.

Card numbers reach the text stage garbled: digits one by one with commas ("4, 1, 0, 4, ..."), as
thousands ("4,104,332,181"), with a digit heard as a word ("for 1 1 1", "fine fine fine"), with digits
dropped or repeated so that neither Luhn nor the length fits. So this rule looks at none of that: a run of
8 or more digits, counting digit homophones inside it and allowing separators between them, is masked.
Its last four stay visible only when they are the last four of a card number, that is when the run (with
the digits the same speaker read just before) is a Luhn-valid 13-19 digit number ending exactly there.
The cost: in redacted mode, long order, account and phone numbers read as one run are masked too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from redaction import spanish
from redaction.detectors import Span, is_card_ending_here, names_the_last_four
from redaction.entities import EntityId
from redaction.itn import REPEATERS, SOUNDALIKES, TENS, UNITS, ZERO_WORDS
from redaction.numbers_es import fold

LONG_RUN_DIGITS = 8
CARD_CONTEXT_DIGITS = 3  # while a secret number is expected, any digit, or this many homophones, is of it
CARD_LAST = 4

# Number words that ITN left (it gave up on "fifty five thousand five hundred and fifty five ..."): each stands
# for digits read out, and counts as the digits it writes ("hundred" 00). ITN's own tables, read as digits.
NUMBER_WORD_DIGITS: dict[str, str] = {
    **{word: str(value) for word, value in {**UNITS, **TENS}.items()},
    "hundred": "00",
    "thousand": "000",
}
# What Whisper writes for a spoken digit when it does not write the digit: ITN's soundalikes and zeros, and more
# homophones heard on phone lines. They count only inside a run.
HOMOPHONE_DIGITS: dict[str, str] = {
    **SOUNDALIKES,
    **dict.fromkeys(ZERO_WORDS, "0"),
    "owe": "0", "on": "1", "tu": "2", "tree": "3", "free": "3", "fo": "4", "fine": "5", "fife": "5", "hive": "5",
    "time": "5", "sicks": "6", "sex": "6", "sick": "6", "nein": "9",
}  # fmt: skip
DIGIT_WORDS = {**HOMOPHONE_DIGITS, **NUMBER_WORD_DIGITS}
# Words a reader puts between groups of digits without ending the number.
JOINER_WORDS = frozenset({"and", "uh", "um", "umm", "er", "ah", "hmm", "dash", "then"})
MAX_JOINER_WORDS = 2  # in a row, between two digits
# Prices are digit items of their own (several in a row are what the ASR made of a card); percentages and
# counts ("the 16 digit number", "three digits", "the last four") are no digits read out and end a run.
_COUNT = r"(?:\d+|three|four|five|six|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|nineteen)"


def _token_pattern(counts: str, letters: str) -> re.Pattern[str]:
    return re.compile(
        r"(?P<amount>[$£€]\s?\d+(?:,\d{3})*(?:\.\d+)?)"
        rf"|(?P<other>\d+(?:,\d{{3}})*(?:\.\d+)?\s?%|{counts})"
        rf"|(?P<num>\d+)|(?P<word>{letters}+(?:'{letters}+)?)|(?P<sep>[,.\-\u2013\u2014;]+)|(?P<space>\s+)|(?P<x>.)",
        re.IGNORECASE,
    )


_TOKEN = _token_pattern(rf"{_COUNT}(?=[ -]?digits?\b)|(?<=last )(?:four|4|six|6)\b", "[A-Za-z]")


@dataclass(frozen=True)
class _Digits:
    start: int
    end: int
    digits: str
    kind: str  # WRITTEN digits, a number WORD, a SPOKEN homophone standing for a digit, or an AMOUNT ($5,000)


@dataclass
class _Run:
    items: list[_Digits]

    @property
    def digits(self) -> str:
        return "".join(item.digits for item in self.items)

    def kinds(self) -> set[str]:
        return {item.kind for item in self.items}

    def is_number(self) -> bool:
        """Whether this run is read out digits: prices alone are prices unless several come in a row (the ASR
        made "five five five five" into "$5,000, $55,000, $55,000")."""
        return self.kinds() != {AMOUNT} or len(self.items) >= AMOUNTS_IN_A_ROW


WRITTEN, WORD, SPOKEN, AMOUNT = "written", "word", "spoken", "amount"
NUMBER_WORDS = frozenset(NUMBER_WORD_DIGITS) - {"one"}  # "the one on file" is no number
AMOUNTS_IN_A_ROW = 3


@dataclass(frozen=True)
class _Reading:
    """One language's words for digits read out."""

    token: re.Pattern[str]
    digit_words: Mapping[str, str]  # homophones and number words, and the digits each stands for
    number_words: frozenset[str]  # of those, the number words (the others count only among digits)
    one_words: frozenset[str]  # "one": a digit only when a short secret is asked for or a card is being read
    joiners: frozenset[str]
    letter_words: frozenset[str]  # one-letter words, not letters spelled out between digits
    fold: Callable[[str], str]  # how a word is looked up


_READINGS = {
    "en": _Reading(_TOKEN, DIGIT_WORDS, NUMBER_WORDS, frozenset({"one"}), JOINER_WORDS, frozenset("ai"), str.lower),
    "es": _Reading(
        _token_pattern(spanish.COUNT, r"[^\W\d_]"),
        spanish.DIGIT_WORDS,
        frozenset(spanish.DIGIT_WORDS) - frozenset(spanish.HOMOPHONE_DIGITS) - spanish.ONE_WORDS,
        spanish.ONE_WORDS,
        spanish.JOINER_WORDS,
        spanish.LETTER_WORDS,
        fold,
    ),
}


def digit_words(language: str = "en") -> Mapping[str, str]:
    """The words that stand for digits in `language` (looked up lower case, in Spanish without accents)."""
    return _READINGS.get(language, _READINGS["en"]).digit_words


def digit_run_spans(
    text: str,
    previous_digits: str = "",
    expected: EntityId | None = None,
    long_runs: bool = True,
    reading: bool = False,
    language: str = "en",
) -> Iterator[Span]:
    """Spans of the runs of `text` with LONG_RUN_DIGITS digits or more (`long_runs`: the PCI rule is on), and
    of any digit when a secret number (`expected`: a card, CVV, PIN, SSN) was asked for; `previous_digits` are
    the speaker's unfinished number from the utterance before, `reading` that a card is being read out.
    Number words and homophones are read in `language` ('en', 'es'); the rule applies in every language."""
    words = _READINGS.get(language, _READINGS["en"])
    for run in _runs(text, words):
        if not run.is_number():
            continue
        digits = run.digits
        long = long_runs and len(digits) >= LONG_RUN_DIGITS
        if not long and _names_the_last_four(text, run, language):
            continue
        if long:
            keep = CARD_LAST if _ends_a_card(run, previous_digits) else 0
            yield Span(run.items[0].start, run.items[-1].end, EntityId.CREDIT_CARD_NUMBER, keep)
        elif expected is not None and (
            run.kinds() != {SPOKEN}
            or len(digits) >= CARD_CONTEXT_DIGITS
            or _says_one(text, run, expected, reading, words)
        ):
            keep = CARD_LAST if expected == EntityId.CREDIT_CARD_NUMBER and _ends_a_card(run, previous_digits) else 0
            yield Span(run.items[0].start, run.items[-1].end, expected, keep)


def _says_one(text: str, run: _Run, expected: EntityId, reading: bool, words: _Reading) -> bool:
    """ "one" is a digit when a CVV, PIN or SSN was asked for, or while a card is being read, not when a card
    was just named ("the one on file")."""
    reading = reading or expected in (EntityId.CVV, EntityId.PIN, EntityId.SSN)
    return reading and any(words.fold(text[item.start : item.end]) in words.one_words for item in run.items)


def _names_the_last_four(text: str, run: _Run, language: str) -> bool:
    return run.kinds() == {WRITTEN} and names_the_last_four(text, run.items[0].start, run.digits, language)


def number_digits(text: str, language: str = "en") -> str:
    """The digits of the numbers read in `text`: runs that hold a written digit or 3 digits or more (homophones
    count inside them, so "to" in "I want to pay" is no number; a price alone is none either)."""
    return "".join(
        run.digits
        for run in _runs(text, _READINGS.get(language, _READINGS["en"]))
        if run.is_number() and (WRITTEN in run.kinds() or len(run.digits) >= CARD_CONTEXT_DIGITS)
    )


def _ends_a_card(run: _Run, previous_digits: str) -> bool:
    """With the speaker half way through a number, only the whole of it can be the card."""
    return _written_tail(run.items) and is_card_ending_here(previous_digits + run.digits)


def _written_tail(items: list[_Digits]) -> bool:
    """Whether the run's last four digits were written as digits (a homophone would stay visible as a word)."""
    seen = 0
    for item in reversed(items):
        if item.kind != WRITTEN:
            return False
        seen += len(item.digits)
        if seen >= CARD_LAST:
            return True
    return False


def _runs(text: str, words: _Reading) -> Iterator[_Run]:
    builder = _RunBuilder(words)
    for token in words.token.finditer(text):
        yield from builder.feed(token.lastgroup or "", token.group(0), token.start(), token.end())
    yield from builder.close()


class _RunBuilder:
    """Joins digits into runs across separators, joiner words and at most one unknown word between written
    digits or prices ("4001 hungry then 11001": the ASR's word for "hundred"; "$5,500, if $5,500")."""

    def __init__(self, words: _Reading) -> None:
        self._words = words
        self._items: list[_Digits] = []
        self._joiners = 0
        self._repeat = 1
        self._bridged = False  # an unknown word since the last digit

    def feed(self, kind: str, value: str, start: int, end: int) -> Iterator[_Run]:
        item = _as_digits(kind, value, start, end, self._repeat, self._words)
        if item is not None:
            if self._bridged and item.kind in (SPOKEN, WORD) and len(item.digits) < 2:  # "hundred" goes on, "to" not
                yield from self.close()
            self._items.append(item)
            self._joiners, self._repeat, self._bridged = 0, 1, False
            return
        word = self._words.fold(value) if kind == "word" else ""
        if word in REPEATERS:
            self._repeat = REPEATERS[word]
        elif kind in ("space", "sep") or word in self._words.joiners or self._stray_letter(word):
            self._joiners += bool(word)
            if self._joiners > MAX_JOINER_WORDS:
                yield from self.close()
        elif word and self._items and self._items[-1].kind != SPOKEN and not self._bridged:
            self._bridged = True
        else:
            yield from self.close()

    def close(self) -> Iterator[_Run]:
        if self._items:
            yield _Run(self._items)
        self._items, self._joiners, self._repeat, self._bridged = [], 0, 1, False

    def _stray_letter(self, word: str) -> bool:
        """A lone letter between digits is the ASR spelling out what it heard ("6-o-on-w-on"), not a word."""
        return len(word) == 1 and word not in self._words.letter_words


def _as_digits(kind: str, value: str, start: int, end: int, repeat: int, words: _Reading) -> _Digits | None:
    if kind == "num":
        return _Digits(start, end, value * repeat if len(value) == 1 else value, WRITTEN)
    if kind == "amount":
        return _Digits(start, end, "".join(c for c in value if c.isdigit()), AMOUNT)
    if kind == "word" and (digit := words.digit_words.get(words.fold(value))):
        return _Digits(start, end, digit * repeat, WORD if words.fold(value) in words.number_words else SPOKEN)
    return None

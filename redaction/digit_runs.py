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
from collections.abc import Iterator
from dataclasses import dataclass

from redaction.detectors import Span, is_card_ending_here
from redaction.entities import EntityId

LONG_RUN_DIGITS = 8
CARD_CONTEXT_DIGITS = 3  # while a card is asked for or being read, any digit, or this many homophones, is of it
CARD_LAST = 4

# What Whisper writes for a spoken digit when it does not write the digit (ITN turns the plain number
# words into digits before this runs; the ones here are those it leaves, and homophones).
DIGIT_WORDS: dict[str, str] = {
    "zero": "0", "oh": "0", "o": "0", "owe": "0",
    "one": "1", "won": "1",
    "two": "2", "to": "2", "too": "2", "tu": "2",
    "three": "3", "tree": "3", "free": "3",
    "four": "4", "for": "4", "fore": "4", "fo": "4",
    "five": "5", "fine": "5", "fife": "5", "hive": "5",
    "six": "6", "sicks": "6", "sex": "6", "sick": "6",
    "seven": "7",
    "eight": "8", "ate": "8",
    "nine": "9", "nein": "9",
}  # fmt: skip
REPEATERS = {"double": 2, "triple": 3}
# Words a reader puts between groups of digits without ending the number.
JOINER_WORDS = frozenset({"and", "uh", "um", "umm", "er", "ah", "hmm", "dash", "then"})
MAX_JOINER_WORDS = 2  # in a row, between two digits
# Amounts ($59, €1,250.99, 10%) and counts ("the 16 digit number") are no digits read out; they end a run.
_TOKEN = re.compile(
    r"(?P<amount>[$£€]\s?\d[\d,]*(?:\.\d+)?|\d[\d,]*(?:\.\d+)?\s?%|\d+(?=[ -]?digits?\b))"
    r"|(?P<num>\d+)|(?P<word>[A-Za-z]+)|(?P<sep>[,.\-\u2013\u2014;]+)|(?P<space>\s+)|(?P<other>.)"
)


@dataclass(frozen=True)
class _Digits:
    start: int
    end: int
    digits: str
    spoken: bool  # a word standing for digits, not digits themselves


@dataclass
class _Run:
    items: list[_Digits]

    @property
    def digits(self) -> str:
        return "".join(item.digits for item in self.items)


def digit_run_spans(text: str, previous_digits: str = "", card_expected: bool = False) -> Iterator[Span]:
    """Spans of the runs of `text` with LONG_RUN_DIGITS digits or more, or any digit when a card number is
    expected; `previous_digits` are the speaker's unfinished number from the utterance before."""
    for run in _runs(text):
        digits = run.digits
        written = any(not item.spoken for item in run.items)
        if len(digits) >= LONG_RUN_DIGITS or (card_expected and (written or len(digits) >= CARD_CONTEXT_DIGITS)):
            keep = CARD_LAST if _ends_a_card(run, previous_digits) else 0
            yield Span(run.items[0].start, run.items[-1].end, EntityId.CREDIT_CARD_NUMBER, keep)


def number_digits(text: str) -> str:
    """The digits of the numbers read in `text`: runs that hold a written digit or 3 digits or more (homophones
    count inside them, so "to" in "I want to pay" is no number)."""
    return "".join(
        run.digits
        for run in _runs(text)
        if len(run.digits) >= CARD_CONTEXT_DIGITS or any(not item.spoken for item in run.items)
    )


def _ends_a_card(run: _Run, previous_digits: str) -> bool:
    """With the speaker half way through a number, only the whole of it can be the card."""
    return _written_tail(run.items) and is_card_ending_here(previous_digits + run.digits)


def _written_tail(items: list[_Digits]) -> bool:
    """Whether the run's last four digits were written as digits (a homophone would stay visible as a word)."""
    seen = 0
    for item in reversed(items):
        if item.spoken:
            return False
        seen += len(item.digits)
        if seen >= CARD_LAST:
            return True
    return False


def _runs(text: str) -> Iterator[_Run]:
    run: list[_Digits] = []
    joiners = 0
    repeat = 1
    for token in _TOKEN.finditer(text):
        kind, value = token.lastgroup, token.group(0)
        item = _as_digits(kind, value, token.start(), token.end(), repeat)
        if item is not None:
            run.append(item)
            joiners, repeat = 0, 1
        elif kind == "word" and value.lower() in REPEATERS:
            repeat = REPEATERS[value.lower()]
        elif kind in ("space", "sep") or (kind == "word" and value.lower() in JOINER_WORDS):
            joiners += kind == "word"
            if joiners > MAX_JOINER_WORDS:
                yield from _close(run)
                run, joiners = [], 0
        else:
            yield from _close(run)
            run, joiners, repeat = [], 0, 1
    yield from _close(run)


def _as_digits(kind: str | None, value: str, start: int, end: int, repeat: int) -> _Digits | None:
    if kind == "num":
        return _Digits(start, end, value * repeat if len(value) == 1 else value, spoken=False)
    if kind == "word" and (digit := DIGIT_WORDS.get(value.lower())):
        return _Digits(start, end, digit * repeat, spoken=True)
    return None


def _close(run: list[_Digits]) -> Iterator[_Run]:
    if run:
        yield _Run(run)

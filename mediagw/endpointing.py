"""Where a speculative transcript stops, for the segmenter's end-of-utterance wait (asr/segmenter.py).

A digit group is mid-phrase only where a longer number is under way: the other party asked for a card, SSN,
phone number, CVV or PIN, the speaker named one (in this utterance or the one before), or read digits just
before (redaction's conversation context knows these: mediagw/postprocess.py `number_expected`). Elsewhere a
number read digit by digit ("sure it is 4 5 2 7 8 1 3", an account number) is finished when its speaker stops,
so it is not held for the mid-phrase wait."""

from __future__ import annotations

import re
from collections.abc import Callable

from asr.segmenter import Ending
from redaction import itn, itn_es
from redaction.detectors import CARD_COMPLETE_DIGITS, mentioned
from redaction.entities import EntityId

# Numbers read in pieces with pauses between them, whose pieces a split would leave for redaction to join.
PIECED_NUMBERS = frozenset(
    {EntityId.CREDIT_CARD_NUMBER, EntityId.SSN, EntityId.PHONE_NUMBER, EntityId.CVV, EntityId.PIN}
)

# Words after which a speaker goes on: conjunctions, fillers, articles, prepositions, a verb awaiting its object.
_CONTINUING = frozenset(
    "and or but so because then um uh er erm ah hmm mm like the a an to of for with my your our their is are was "
    "it's at in on from by if that which".split()
)
# The same in Spanish, accents as Whisper writes them: "y", "pero", "este" (the filler), "el", "de", "mi", "que"...
_CONTINUING_ES = frozenset(
    "y e o u pero porque entonces pues este eh em mmm o sea como el la los las un una unos unas al del de a para "
    "con por en mi mis su sus tu nuestro que cual es son está estoy si".split()
)
_CONTINUING_BY_LANGUAGE = {"en": _CONTINUING, "es": _CONTINUING_ES}
_WRITTEN_BY_LANGUAGE = {"en": itn.to_written, "es": itn_es.to_written}
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_DIGIT_TAIL = re.compile(r"(?:\d+[\s,.-]*)+$")  # the digit groups the text ends with
_GROUP = re.compile(r"\d+")
_OPEN_PUNCTUATION = (",", "...", "-", ";", ":")


def _in_pieces(groups: list[str], alone: bool) -> bool:
    """A number read in pieces, more to come: its last group short (4 digits at most), not yet as long as a
    card, and read as groups, or a 4-digit group, or a group said on its own ("4111."); "Alpha Bravo 792."
    or "at 10:30" are whole."""
    if len(groups[-1]) > 4 or len("".join(groups)) >= CARD_COMPLETE_DIGITS:
        return False
    return len(groups) > 1 or len(groups[-1]) == 4 or alone


def names_a_number(text: str, language: str = "en") -> bool:
    """Whether `text` names a number read in pieces ("my card number is", "social security"), without context."""
    written = _WRITTEN_BY_LANGUAGE.get(language, itn.to_written)(text)
    return bool(mentioned(written, PIECED_NUMBERS, language))


def ending_of(text: str, language: str = "en", number_expected: Callable[[], bool] | None = None) -> Ending:
    """FINISHED, OPEN or UNKNOWN (no words) for a Whisper transcript. Whisper's own full stop is no guide: it
    ends a digit group with one, and a short utterance decoded alone often has none. Number words are read as
    digits (the text stage's ITN) so that "four one one one" is a group like "4111". A digit group is OPEN only
    where `number_expected()` says a card, phone... is under way (the module's docstring; None: always)."""
    written = _WRITTEN_BY_LANGUAGE.get(language, itn.to_written)(text).strip()
    words = _WORD.findall(written.lower())
    if not words:
        return Ending.UNKNOWN
    tail = _DIGIT_TAIL.search(written)
    if tail:
        pieces = _in_pieces(_GROUP.findall(tail.group()), alone=tail.start() == 0)
        return Ending.OPEN if pieces and (number_expected is None or number_expected()) else Ending.FINISHED
    if written.endswith(("?", "!")):
        return Ending.FINISHED  # "... can I help you with?"
    if words[-1] in _CONTINUING_BY_LANGUAGE.get(language, _CONTINUING) or written.endswith(_OPEN_PUNCTUATION):
        return Ending.OPEN
    return Ending.FINISHED

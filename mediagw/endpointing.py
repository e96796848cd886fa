"""Where a speculative transcript stops, for the segmenter's end-of-utterance wait (asr/segmenter.py)."""

from __future__ import annotations

import re

from asr.segmenter import Ending
from redaction import itn, itn_es
from redaction.detectors import CARD_COMPLETE_DIGITS

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


def ending_of(text: str, language: str = "en") -> Ending:
    """FINISHED, OPEN or UNKNOWN (no words) for a Whisper transcript. Whisper's own full stop is no guide: it
    ends a digit group with one, and a short utterance decoded alone often has none. Number words are read as
    digits (the text stage's ITN) so that "four one one one" is a group like "4111"."""
    written = _WRITTEN_BY_LANGUAGE.get(language, itn.to_written)(text).strip()
    words = _WORD.findall(written.lower())
    if not words:
        return Ending.UNKNOWN
    tail = _DIGIT_TAIL.search(written)
    if tail:
        return Ending.OPEN if _in_pieces(_GROUP.findall(tail.group()), alone=tail.start() == 0) else Ending.FINISHED
    if written.endswith(("?", "!")):
        return Ending.FINISHED  # "... can I help you with?"
    if words[-1] in _CONTINUING_BY_LANGUAGE.get(language, _CONTINUING) or written.endswith(_OPEN_PUNCTUATION):
        return Ending.OPEN
    return Ending.FINISHED

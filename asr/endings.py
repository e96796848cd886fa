"""Does a speculative transcript end a sentence, or stop mid-phrase? It sets how long the segmenter waits."""

from __future__ import annotations

import enum
import re


class Ending(enum.Enum):
    FINISHED = "finished"  # words, the last of which can end a sentence
    OPEN = "open"  # mid-phrase: a digit group (card or phone read in pieces), a trailing "and" or "um", a comma
    UNKNOWN = "unknown"  # no words (the model heard none, or the no-speech guard dropped them)


# Words after which a speaker goes on: conjunctions, fillers, articles, prepositions, a verb awaiting its object.
_CONTINUING = frozenset(
    "and or but so because then um uh er erm ah hmm mm like the a an to of for with my your our their is are was "
    "its it's at in on from by if that which".split()
)
# Digits read as words: a card, phone or account number read in groups.
_NUMBER_WORDS = frozenset(
    "zero oh o one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand double "
    "triple".split()
)
_WORD = re.compile(r"[a-z0-9']+")


def ending_of(text: str) -> Ending:
    """Classify where `text` (a Whisper transcript) stops. Whisper's own full stop is no guide: it ends a digit
    group with one, and a short utterance decoded alone often has none."""
    stripped = text.strip()
    words = _WORD.findall(stripped.lower())
    if not words:
        return Ending.UNKNOWN
    last = words[-1]
    if last[-1].isdigit() or last in _NUMBER_WORDS or last in _CONTINUING:
        return Ending.OPEN
    if stripped.endswith((",", "...", "-", ";", ":")):
        return Ending.OPEN
    return Ending.FINISHED

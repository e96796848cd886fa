"""Names as callers give them: after a cue ("my name is maria lopez", "this is Maria"), as the answer to the
agent's question, from the named-entity model, and again wherever a name given once comes back in the call."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from redaction.detectors import Span
from redaction.entities import EntityId

E = EntityId

# Cues after which any words but these are a name; after a weak cue only Capitalised words are.
STRONG_CUE = re.compile(
    r"\b(?:my (?:full |first |last )?name is|my name's|name is|name's|call me|last name is|first name is|surname is|"
    r"spelled|the name is|the name's|under the name|account holder is)\s+",
    re.IGNORECASE,
)
WEAK_CUE = re.compile(
    r"\b(?:this is|i am|i'm|it's|it is|speaking with|talking to|talking with|mr\.?|mrs\.?|ms\.?|miss|dr\.?)"
    r"\s+",
    re.IGNORECASE,
)
NOT_NAMES = frozenset(
    "a an the and or but so of to in on at for from by with about my your our his her their its it it's is was "
    "be i i'm you we they he she this that here there just not no yes yeah sure okay ok calling trying looking "
    "going call calls called hoping wondering having getting good great fine well sorry glad happy thanks thank "
    "please hello hi hey speaking regarding about because actually really very also still now today tomorrow "
    "customer service support agent account card number monday tuesday wednesday thursday friday saturday sunday "
    "january february march april may june july august september october november december what who how when "
    "where why can could would will should do did does have has had am are were been one two three four five "
    "bill billing payment order problem question issue name spelled like as correct right back after before "
    "later soon again up down out off over in at on tomorrow tonight morning afternoon evening anytime".split()
)
_NAME_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
MAX_NAME_WORDS = 3


def cue_spans(text: str) -> Iterator[Span]:
    for pattern, strong in ((STRONG_CUE, True), (WEAK_CUE, False)):
        for cue in pattern.finditer(text):
            yield from _name_after(text, cue.end(), strong)


def _name_after(text: str, start: int, strong: bool) -> Iterator[Span]:
    position = start
    for taken, word in enumerate(_NAME_WORD.finditer(text, start)):
        between = text[position : word.start()]
        if taken and (any(c in between for c in ".,?!;") or len(between) > 2):
            return
        value = word.group(0)
        if value.lower() in NOT_NAMES or (not strong and not value[0].isupper()):
            return
        yield Span(word.start(), word.end(), E.NAME)
        position = word.end()
        if taken + 1 >= MAX_NAME_WORDS:
            return


def name_words(text: str, spans: Iterable[Span]) -> set[str]:
    """The words of the NAME spans found, lower case, to find again later in the call."""
    words: set[str] = set()
    for span in spans:
        if span.entity == E.NAME:
            for word in _NAME_WORD.findall(text[span.start : span.end]):
                if len(word) >= 2 and word.lower() not in NOT_NAMES:
                    words.add(word.lower())
    return words


def remembered_spans(text: str, names: set[str]) -> Iterator[Span]:
    if not names:
        return
    for word in _NAME_WORD.finditer(text):
        value = word.group(0).lower()
        if value in names or (value.endswith("'s") and value[:-2] in names):
            yield Span(word.start(), word.end(), E.NAME)

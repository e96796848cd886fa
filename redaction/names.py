"""Names as callers give them: after a cue ("my name is maria lopez", "this is Maria"), as the answer to the
agent's question, from the named-entity model, and again wherever a name given once comes back in the call.

Spanish ("me llamo María López", "a nombre de José") is read folded, with its cues in catalogue_es.py; a name
given once is remembered folded, so "Maria" finds "María" again."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from redaction import catalogue_es
from redaction.detectors import Span
from redaction.entities import EntityId
from redaction.numbers_es import fold

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
PARTICLES = frozenset({"de", "del", "la", "las", "los"})  # inside Spanish names, not counted as their words


_SPANISH_WORD = re.compile(r"[^\W\d_][\w'-]*")  # with accents: "María", "Núñez"


def cue_spans(text: str, language: str = "en") -> Iterator[Span]:
    if language == "es":
        lowered = catalogue_es.folded(text)
        for pattern, strong in ((catalogue_es.STRONG_NAME_CUE, True), (catalogue_es.WEAK_NAME_CUE, False)):
            for cue in pattern.finditer(lowered):
                yield from _name_after(text, cue.end(), strong, language)
        return
    for pattern, strong in ((STRONG_CUE, True), (WEAK_CUE, False)):
        for cue in pattern.finditer(text):
            yield from _name_after(text, cue.end(), strong, language)


def _name_after(text: str, start: int, strong: bool, language: str) -> Iterator[Span]:
    word_pattern, not_names, lowered = _words(language)
    position, taken = start, 0
    for word in word_pattern.finditer(text, start):
        between = text[position : word.start()]
        if taken and (any(c in between for c in ".,?!;") or len(between) > 2):
            return
        value = word.group(0)
        position = word.end()
        if taken and strong and language == "es" and lowered(value) in PARTICLES:
            continue  # "me llamo Leonardo de la Cruz"; after "soy" ("Soy Ana de Telcel") the name ends
        if lowered(value) in not_names or (not strong and not value[0].isupper()):
            return
        yield Span(word.start(), word.end(), E.NAME)
        taken += 1
        if taken >= MAX_NAME_WORDS:
            return


def _words(language: str) -> tuple[re.Pattern[str], frozenset[str], Callable[[str], str]]:
    if language == "es":
        return _SPANISH_WORD, catalogue_es.NOT_NAMES, fold
    return _NAME_WORD, NOT_NAMES, str.lower


def name_words(text: str, spans: Iterable[Span], language: str = "en") -> set[str]:
    """The words of the NAME spans found, lower case (folded in Spanish), to find again later in the call."""
    word_pattern, not_names, lowered = _words(language)
    words: set[str] = set()
    for span in spans:
        if span.entity == E.NAME:
            for word in word_pattern.findall(text[span.start : span.end]):
                if len(word) >= 2 and lowered(word) not in not_names:
                    words.add(lowered(word))
    return words


def remembered_spans(text: str, names: set[str], language: str = "en") -> Iterator[Span]:
    if not names:
        return
    word_pattern, _, lowered = _words(language)
    for word in word_pattern.finditer(text):
        value = lowered(word.group(0))
        if value in names or (value.endswith("'s") and value[:-2] in names):
            yield Span(word.start(), word.end(), E.NAME)

"""US street addresses and ZIP codes as a caller says them and Whisper writes them: "123 Main Street apartment
4B Springfield Illinois 62704", "4 5 Elm Road, Austin, TX 78701", "P.O. Box 77".

A house number, one to four street-name words and a USPS street suffix, then what may follow in one breath: a
unit, a city and state, a ZIP. Street-name words are never function words ("2 dogs in the park" is no address),
and a weak suffix ("Park", "View") counts only with a tail or where an address is named or asked for.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from importlib import resources

from redaction import catalogue_es
from redaction.detectors import Span
from redaction.entities import EntityId

E = EntityId

STRONG_SUFFIXES = frozenset(
    "street st avenue ave road rd drive dr lane ln boulevard blvd court ct parkway pkwy highway hwy terrace ter "
    "circle cir place pl way trail trl".split()
)
FUNCTION_WORDS = frozenset(
    "a an the in on at of to for from by with and or but my your our their his her its is are was were be "
    "been i you we they he she it this that these those me us them up down out over about into than then just "
    "so if as not no yes do did does have has had will would can could should may might per every each all "
    "some any more most other times time years year days day months weeks minutes hours dollars".split()
)
_WORD = r"[A-Za-z][\w'.-]*"
_UNIT = (  # and the Spanish words of a unit, for US addresses said in Spanish
    r"(?:apartment|apt\.?|unit|suite|ste\.?|number|no\.?|\#|floor|fl\.?|room|rm\.?|building|bldg\.?|lot|space"
    r"|(?:apartamento|departamento|interior)(?:\s+n[uú]mero)?|n[uú]mero)"
)
_DIGIT_WORD = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|ten)"


def _wordlist(name: str) -> list[str]:
    text = resources.files("redaction").joinpath(f"wordlists/{name}").read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


@cache
def address_pattern() -> re.Pattern[str]:
    suffixes = "|".join(sorted({re.escape(s) for s in _wordlist("street_suffixes.txt")}, key=len, reverse=True))
    states = _wordlist("us_states.txt")
    names = "|".join(re.escape(s) for s in states if not s.isupper())
    abbreviations = "|".join(s for s in states if s.isupper())
    unit_value = rf"(?:\#\s?)?(?:[A-Za-z]?\d{{1,5}}(?:-?[A-Za-z0-9])?|{_DIGIT_WORD})(?:[\s-][A-Za-z](?![\w']))?"
    state = rf"(?:(?i:{names})|(?:{abbreviations}))"
    return re.compile(  # a house number may carry ITN's thousands comma ("8,330")
        rf"(?<![\w$.,])(?P<number>(?:\d{{1,3}},\d{{3}}|\d{{1,6}})(?:[ -]\d{{1,5}})?[A-Za-z]?)\s+"
        rf"(?P<street>(?:(?i:north|south|east|west|n|s|e|w)\.?\s+)?(?:{_WORD}\s+){{0,3}}?{_WORD})\s+"
        rf"(?P<suffix>(?i:{suffixes}))\b\.?"
        rf"(?P<tail>(?:,?\s+(?i:{_UNIT})\s*{unit_value})?"
        rf"(?:,?\s+(?:{_WORD},?\s+){{0,3}}{state}\b\.?(?:,?\s+\d{{5}}(?:[ -]\d{{4}})?)?"
        rf"|,?\s+(?:{_WORD},?\s+){{0,4}}\d{{5}}(?:[ -]\d{{4}})?)?)"
        r"(?![\w])"
        r"|(?i:\bp\.?\s?o\.?\s+box\s+\d{1,6})",
    )


@cache
def zip_pattern() -> re.Pattern[str]:
    names = "|".join(re.escape(s) for s in _wordlist("us_states.txt") if not s.isupper())
    abbreviations = "|".join(s for s in _wordlist("us_states.txt") if s.isupper())
    return re.compile(
        rf"(?:(?i:{names})|(?:{abbreviations})|(?i:zip(?:\s?code)?|postal code)(?:\s+(?i:is|was))?)[,:]?\s+"
        r"(?P<zip>\d{5}(?:[ -]\d{4})?|\d\d,\d{3}(?!,\d)|(?:\d\s){4}\d)(?![\w-])"  # "62,704": Whisper's comma
    )


@cache
def place_pattern() -> re.Pattern[str]:
    """A state and a ZIP with the city before it: the end of an address whose street the ASR mangled."""
    states = _wordlist("us_states.txt")
    names = "|".join(re.escape(s) for s in states if not s.isupper())
    abbreviations = "|".join(s for s in states if s.isupper())
    return re.compile(
        rf"(?:\b[A-Z][\w'-]*,?\s+){{0,3}}(?:(?i:{names})|(?:{abbreviations}))\b\.?,?\s+"
        r"(?:\d{5}(?:[ -]\d{4})?|\d\d,\d{3}(?!,\d))(?![\w-])"
    )


VALUE_CUE = re.compile(
    r"\b(?:address is|address's|address was|live at|living at|live on|moved to|located at)\s+", re.IGNORECASE
)
_VALUE_WORD = re.compile(r"[\w'-]+")
MAX_VALUE_WORDS = 6


def address_spans(text: str, cued: bool, language: str = "en") -> Iterator[Span]:
    found = list(_street_spans(text, cued))
    if language == "es":  # "calle Juárez número 120, colonia Centro", and US addresses said in Spanish
        found += _spanish_spans(text)
    yield from found
    if not found:  # the street was misheard: what follows "my address is", and the place before a ZIP
        yield from _after_cue(text, language)
        for match in place_pattern().finditer(text):
            yield Span(match.start(), match.end(), E.ADDRESS)


def _spanish_spans(text: str) -> Iterator[Span]:
    for match in catalogue_es.ADDRESS.finditer(catalogue_es.folded(text)):
        yield Span(match.start(), match.end(), E.ADDRESS)


def _after_cue(text: str, language: str) -> Iterator[Span]:
    cues = catalogue_es.VALUE_CUE.finditer(catalogue_es.folded(text)) if language == "es" else VALUE_CUE.finditer(text)
    for cue in cues:
        for taken, word in enumerate(_VALUE_WORD.finditer(text, cue.end())):
            if taken >= MAX_VALUE_WORDS or any(c in text[cue.end() : word.start()] for c in ".?!"):
                break
            yield Span(word.start(), word.end(), E.ADDRESS)


def _street_spans(text: str, cued: bool) -> Iterator[Span]:
    for match in address_pattern().finditer(text):
        if match.group("number") is None:  # a P.O. box
            yield Span(match.start(), match.end(), E.ADDRESS)
            continue
        street = [w.lower().strip(".") for w in match.group("street").split()]
        if any(w in FUNCTION_WORDS for w in street):
            continue
        strong = match.group("suffix").lower().strip(".") in STRONG_SUFFIXES
        if strong or cued or match.group("tail").strip(" ,"):
            end = match.end("tail") if match.group("tail") else match.end()
            yield Span(match.start(), end, E.ADDRESS)


def zip_spans(text: str, cued: bool, language: str = "en") -> Iterator[Span]:
    """A ZIP after a state or the word 'zip' ('código postal'); any 5 or 9 digits when a ZIP was asked for."""
    for match in zip_pattern().finditer(text):
        yield Span(match.start("zip"), match.end("zip"), E.ZIP)
    if language == "es":
        for match in catalogue_es.ZIP.finditer(catalogue_es.folded(text)):
            yield Span(match.start("zip"), match.end("zip"), E.ZIP)
        if cued:  # "Es el 7 5 6 6 9": read digit by digit
            for match in re.finditer(r"(?<![\w-])(?:\d ){4}\d(?![\w-])", text):
                yield Span(match.start(), match.end(), E.ZIP)
    if cued:
        for match in re.finditer(r"(?<![\w-])\d{5}(?:[ -]\d{4})?(?![\w-])", text):
            yield Span(match.start(), match.end(), E.ZIP)

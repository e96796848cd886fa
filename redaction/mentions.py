"""Where an utterance names a PCI or PII entity, however the ASR wrote it: "the security code on the pack",
"see vee vee", "the Phil card number", "4 digit pin", "C.V.V.". Punctuation plays no part.

Phrases are matched word by word: each word exactly, as one of its listed mishearings, or, for words of
five letters or more, within one edit (rapidfuzz). Short words match only exactly or as listed, because one
edit turns "pin" into "in" and "card" into "hard".
"""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import cache, lru_cache

from rapidfuzz.distance import Levenshtein

from redaction import spanish
from redaction.entities import EntityId
from redaction.numbers_es import fold

E = EntityId

PHRASES: dict[EntityId, tuple[str, ...]] = {
    E.CREDIT_CARD_NUMBER: (
        "card", "cards", "card number", "credit", "credit card", "debit", "debit card", "discover",
        "long number", "number on the front", "full card number", "card details", "expiry", "expiry date",
        "expiration", "expiration date", "exp date", "valid thru", "valid through", "visa", "mastercard",
        "master card", "amex", "american express", "discover card",
    ),
    E.CVV: (
        "security code", "security number", "cvv", "cvv2", "cvc", "cvc2", "cid", "csc", "c v v", "c v c",
        "see vee vee", "tv", "c v b", "verification code", "verification number", "three digit code", "3 digit code",
        "four digit code", "4 digit code", "three digits", "3 digits", "code on the back", "digits on the back",
        "number on the back", "numbers on the back", "back of the card", "back of your card",
    ),
    E.PIN: (
        "pin", "pins", "bin", "pin number", "pin code", "personal identification", "personal identification number",
        "4 digit pin", "pin no",
    ),
    E.SSN: (
        "social", "social security", "social security number", "ssn", "s s n", "last four of your social",
        "social insurance number",
    ),
    E.PASSWORD: (
        "password", "passcode", "pass code", "passphrase", "pass phrase", "pass word", "passwords", "passcodes",
        "pass codes", "passphrases",
    ),
    E.DOB: ("date of birth", "birth date", "birthdate", "birthday", "born", "dob", "d o b"),
}  # fmt: skip

# What Whisper writes for a keyword's word on a phone line (each heard in tests or listening).
MISHEARD: dict[str, frozenset[str]] = {
    word: frozenset(heard)
    for word, heard in {
        "back": ("pack", "bag", "black", "bac"),
        "full": ("phil", "fill", "fool", "fall", "for"),
        "card": ("car", "cart", "cod", "guard", "cards"),
        "pin": ("pen", "pim", "ping", "pinn", "bin"),
        "code": ("coat", "cold", "coke", "cove", "codes"),
        "cvv": ("cvb", "cbv", "cvd", "cv", "cvvs", "cbb"),
        "cvc": ("cbc", "cvcs"),
        "vee": ("v", "vie", "b", "bee"),
        "see": ("c", "sea", "si"),
        "social": ("soshal", "socials", "so"),
        "security": ("secure", "securities", "securty", "security's"),
        "digit": ("digits", "didget", "dig"),
        "number": ("numbers", "no", "num"),
        "birth": ("berth", "bird", "burst"),
        "expiry": ("expiring", "expire", "expires"),
        "password": ("pass", "paso"),
    }.items()
}
_TOKEN = re.compile(r"[a-z0-9]+")
_ACRONYM = re.compile(r"\b(?:[a-z]\.){2,}")  # "c.v.v." -> "c v v"


@cache
def _all_phrases(language: str) -> tuple[tuple[EntityId, tuple[str, ...]], ...]:
    if language == "es":
        return tuple(
            (entity, tuple(words_of(phrase, language)))
            for entity, phrases in spanish.PHRASES.items()
            for phrase in phrases
        )
    return tuple((entity, tuple(phrase.split())) for entity, phrases in PHRASES.items() for phrase in phrases)


def words_of(text: str, language: str = "en") -> list[str]:
    """The words of `text`, lower case; in Spanish without accents and without articles and possessives."""
    if language == "es":
        words = _TOKEN.findall(_ACRONYM.sub(lambda m: m.group(0).replace(".", " "), fold(text)))
        return [word for word in words if word not in spanish.FUNCTION_WORDS]
    lowered = _ACRONYM.sub(lambda m: m.group(0).replace(".", " "), text.lower())
    return _TOKEN.findall(lowered)


def mentions(text: str, entities: Collection[EntityId], language: str = "en") -> set[EntityId]:
    """The entities among `entities` that `text` names, in the words of `language` ('en' or 'es')."""
    words = words_of(text, language)
    found: set[EntityId] = set()
    for i, word in enumerate(words):
        for entity, phrase in _starting_with(word, language):
            if (
                entity in entities
                and entity not in found
                and _matches(words[i + 1 : i + len(phrase)], phrase[1:], language)
            ):
                found.add(entity)
    return found


@lru_cache(maxsize=4096)
def _starting_with(word: str, language: str) -> tuple[tuple[EntityId, tuple[str, ...]], ...]:
    """The phrases whose first word `word` may be: each distinct word of a call is looked at once."""
    return tuple(
        (e, phrase) for e, phrase in _all_phrases(language) if _same_word(word, phrase[0], len(phrase) > 1, language)
    )


def _matches(words: list[str], phrase: tuple[str, ...], language: str) -> bool:
    return len(words) == len(phrase) and all(
        _same_word(heard, said, True, language) for heard, said in zip(words, phrase, strict=True)
    )


def _same_word(heard: str, said: str, in_phrase: bool, language: str) -> bool:
    if heard == said:
        return True
    if not in_phrase:  # a keyword on its own ("card", "pin") must be the word itself
        return False
    if heard in (spanish.MISHEARD if language == "es" else MISHEARD).get(said, ()):
        return True
    return len(said) >= 5 and Levenshtein.distance(heard, said, score_cutoff=1) <= 1

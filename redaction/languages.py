"""The languages the text stage formats and redacts in their own words (ISO 639-1 codes).

Other languages get English's tables: written digits are still read, so the fail-safe PCI rule still applies.
"""

from __future__ import annotations

from redaction import formatting, formatting_es, itn, itn_es

ENGLISH, SPANISH = "en", "es"
LANGUAGES = frozenset({ENGLISH, SPANISH})


def base_language(language: str) -> str:
    """'es-US' -> 'es'; a language without tables of its own -> 'en'."""
    code = language.split("-")[0].lower()
    return code if code in LANGUAGES else ENGLISH


def to_written(text: str, language: str = ENGLISH) -> str:
    """Spoken forms (number words, amounts, dates, e-mail addresses) to written ones, in the text's language."""
    if base_language(language) == SPANISH:
        return itn_es.to_written(text)
    return itn.to_written(text)


def spoken_form(text: str, language: str = ENGLISH) -> str:
    """Written forms to spoken ones for `smartFormatting: false`: lower case, no punctuation, numbers as words."""
    if base_language(language) == SPANISH:
        return formatting_es.spoken_form(text)
    return formatting.spoken_form(text)

"""The model's ISO 639-1 codes as the region-qualified tags AudioHook and the reference use."""

from __future__ import annotations

import re

from mediagw.languages import language_tag, language_tags

GENESYS_TAG = re.compile(r"^[a-z]{2,3}-[A-Za-z]{2,3}$")  # languageCodeRegex of Genesys' reference implementation


def test_english_is_en_us_and_other_codes_take_a_region() -> None:
    assert [language_tag(code) for code in ("en", "es", "de", "pt", "EN", "en-GB")] == [
        "en-US",
        "es-US",
        "de-DE",
        "pt-BR",
        "en-US",
        "en-GB",
    ]


def test_every_tag_matches_genesys_language_codes_and_is_listed_once() -> None:
    tags = language_tags(["en", "en", "fr", "haw", "zh", ""])
    assert tags == ("en-US", "fr-FR", "haw-HAW", "zh-CN")
    assert all(GENESYS_TAG.match(tag) for tag in tags)

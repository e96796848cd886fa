"""Language names at the edges: the model's ISO 639-1 codes as the region-qualified tags clients use (en -> en-US)."""

from __future__ import annotations

from collections.abc import Iterable

# The region each language is most often transcribed for; others take their own code as region (de -> de-DE).
DEFAULT_REGIONS = {
    "en": "US",
    "es": "US",
    "pt": "BR",
    "zh": "CN",
    "ja": "JP",
    "ko": "KR",
    "hi": "IN",
    "ar": "SA",
    "he": "IL",
    "sv": "SE",
    "da": "DK",
    "cs": "CZ",
    "el": "GR",
    "uk": "UA",
    "vi": "VN",
    "ms": "MY",
    "fa": "IR",
    "ur": "PK",
    "ta": "IN",
    "te": "IN",
    "bn": "IN",
    "ca": "ES",
    "eu": "ES",
    "gl": "ES",
    "nb": "NO",
    "nn": "NO",
    "sl": "SI",
    "sr": "RS",
    "et": "EE",
    "ka": "GE",
    "kk": "KZ",
    "sw": "KE",
    "af": "ZA",
    "cy": "GB",
}


def language_tag(code: str) -> str:
    """`en` -> `en-US`, `de` -> `de-DE`; a tag that already has a region is kept."""
    if "-" in code:
        return code
    return f"{code.lower()}-{DEFAULT_REGIONS.get(code.lower(), code.upper())}"


def language_tags(codes: Iterable[str]) -> tuple[str, ...]:
    """The model's languages as tags, each once, in the model's order."""
    return tuple(dict.fromkeys(language_tag(code) for code in codes if code))

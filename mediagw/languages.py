"""Language names at the edges: the model's ISO 639-1 codes as the region-qualified tags clients use (en -> en-US)."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

DEFAULT_LANGUAGE = "en-US"  # the reference's default when a start names no language
_LANGUAGE_TAG = re.compile(r"^([a-zA-Z]{2,3})(?:-[a-zA-Z0-9]{2,8})*$")

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


def model_language(tag: str) -> str:
    """IETF tag to the model's ISO 639-1 code: en-US -> en. Malformed tags map to nothing."""
    match = _LANGUAGE_TAG.match(tag)
    return match.group(1).lower() if match else ""


def supported(tag: str, codes: Collection[str]) -> bool:
    """Whether a model with these ISO 639-1 codes transcribes `tag` (en-US, es-US...)."""
    code = model_language(tag)
    return bool(code) and code in {c.lower() for c in codes}


def language_tags(codes: Iterable[str]) -> tuple[str, ...]:
    """The model's languages as tags, each once, in the model's order."""
    return tuple(dict.fromkeys(language_tag(code) for code in codes if code))

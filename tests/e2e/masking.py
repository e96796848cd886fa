"""What end-to-end tests assert of redacted text: properties that hold whatever words the model heard."""

from __future__ import annotations

import re
from typing import Any

from mediagw.evaluation import normalize

MASK = "#"
CARD = "4111111111111111"  # what the travel call's customer reads out ("4111 1111 1111 1111")
VISIBLE = 4  # the reference may leave a card's last four digits readable


def shown_digits(text: str, language: str = "en") -> str:
    """The digits a reader sees, spoken or written, with separators and masks stripped ("four 1-1" -> "411")."""
    return re.sub(r"\D", "", normalize(text, language))


def secret_run(text: str, secret: str = CARD, language: str = "en") -> int:
    """Length of the longest run of `secret`'s digits that `text` shows."""
    shown, best = shown_digits(text, language), 0
    for start in range(len(shown)):
        end = start + best + 1
        while end <= len(shown) and shown[start:end] in secret:
            best, end = end - start, end + 1
    return best


def assert_masked(text: str, secret: str = CARD, language: str = "en") -> None:
    """The mask is there and no more of the secret than its last four digits can be read."""
    assert MASK in text, f"nothing masked: {text!r}"
    assert secret_run(text, secret, language) <= VISIBLE, f"the secret shows through: {text!r}"


def assert_shown(text: str, secret: str = CARD) -> None:
    """Unredacted: nothing masked, and more of the secret than a redacted text may show."""
    assert MASK not in text, f"masked: {text!r}"
    assert secret_run(text, secret) > VISIBLE, f"the secret is not in the unredacted text: {text!r}"


def strings_of(value: Any) -> list[str]:
    """Every string in a JSON value, keys and values."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *strings_of(v)]]
    if isinstance(value, list):
        return [s for v in value for s in strings_of(v)]
    return []

"""Bounds on decoding so a hallucination loop is cut instead of stalling a worker."""

from __future__ import annotations

import zlib
from collections.abc import Sequence


def max_new_tokens(audio_seconds: float, tokens_per_second: float, floor: int, ceiling: int) -> int:
    """A budget in proportion to the audio: fast speech is ~4-5 tokens/s, a loop runs to the model's limit."""
    return max(floor, min(ceiling, int(floor + audio_seconds * tokens_per_second)))


def compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def cut_repetition(tokens: Sequence[int], max_repeats: int, max_period: int = 12) -> list[int]:
    """Truncate the first run in which a 1..max_period token pattern repeats more than `max_repeats` times.

    The kept text holds `max_repeats` copies, so a genuine repetition ("1111 1111 1111 1111") survives while
    a decoder stuck in a loop is stopped.
    """
    for end in range(1, len(tokens) + 1):
        for period in range(1, min(max_period, end // (max_repeats + 1)) + 1):
            span = period * (max_repeats + 1)
            window = tokens[end - span : end]
            if all(window[i] == window[i % period] for i in range(span)):
                return list(tokens[: end - period])
    return list(tokens)

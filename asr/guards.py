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


_NUMBER_WORDS = frozenset(
    "zero oh one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand".split()
)
_SENTENCE_END = (".", "?", "!")


def repeated_tail(words: Sequence[str], min_words: int = 4) -> int | None:
    """Where a text starts over: the index of the first word of a tail that repeats, word for word, a run that
    began a sentence earlier ("Good morning. This is the desk. Good morning. This is"), the most Whisper does
    with babble or hiss after the speech. None when there is none.

    The tail is at least `min_words` words, with at least 3 different ones and 2 that are not numbers: a card's
    digit groups ("four one one one four one one one"), "no, no, no" and a repeat inside a sentence ("the flight
    to Boston, not the flight to Boston") stay."""
    keys = [word.strip(" ,.?!;:\"'").lower() for word in words]
    starts = [i == 0 or words[i - 1].rstrip().endswith(_SENTENCE_END) for i in range(len(words))]
    for cut in range(1, len(keys) - min_words + 1):
        tail = keys[cut:]
        if len(set(tail)) < 3 or sum(not (w.isdigit() or w in _NUMBER_WORDS) for w in set(tail)) < 2:
            continue
        if any(starts[i] and keys[i : i + len(tail)] == tail for i in range(cut)):  # overlapping: a loop
            return cut
    return None

"""Where speech began: a stream's noise floor, and the walk back from the VAD's first voiced frame over audio
above it. Silero hears some first words late ("Thank" of "Thank you" scores 0.1 where "you" scores 0.8), later
than the pre-roll reaches; the audio's level does not miss them."""

from __future__ import annotations

import math
from collections.abc import Sequence

from asr.frame import Pcm

FLOOR_RISE_DB = 0.05  # per 20 ms frame: the floor follows a louder line in seconds, a quieter one at once
GAP_FRAMES = 5  # a dip this long inside the onset (a stop consonant between two words) does not end the walk


def level_db(samples: Pcm) -> float | None:
    """The frame's power in dB (int16 scale); None for digital silence (a lost packet filled with zeros)."""
    if not samples.any():
        return None
    power = float((samples.astype("float64") ** 2).mean())
    return 10 * math.log10(power + 1.0)


class NoiseFloor:
    """A stream's line noise: the quietest recent unvoiced level, rising slowly (speech never feeds it)."""

    def __init__(self) -> None:
        self.db: float | None = None

    def update(self, level: float | None) -> None:
        if level is None:
            return
        self.db = level if self.db is None or level < self.db else self.db + FLOOR_RISE_DB


def onset(levels: Sequence[float | None], first: int, floor: float | None, margin_db: float, limit: int) -> int:
    """The index of the earliest frame before `first` (the first voiced one), at most `limit` frames back, that
    is `margin_db` over the floor with no quiet run longer than GAP_FRAMES between it and `first`."""
    if floor is None:
        return first
    start, quiet = first, 0
    for index in range(first - 1, max(-1, first - limit - 1), -1):
        level = levels[index]
        if level is not None and level >= floor + margin_db:
            start, quiet = index, 0
        elif (quiet := quiet + 1) > GAP_FRAMES:
            break
    return start

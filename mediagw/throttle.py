"""A log line that a flood would repeat: written at once, then at most once per interval with a count of the rest."""

from __future__ import annotations

import logging


class ThrottledLog:
    """`log(now, message, *args)` at `level`; between writes, lines are counted, and the next write says how many
    were held back. Time is passed in (`loop.time()` or a sans-I/O core's `now`)."""

    def __init__(self, logger: logging.Logger, level: int = logging.WARNING, interval_s: float = 10.0) -> None:
        self._logger = logger
        self._level = level
        self._interval_s = interval_s
        self._next_at: float | None = None
        self.held_back = 0

    def log(self, now: float, message: str, *args: object) -> None:
        if self._next_at is not None and now < self._next_at:
            self.held_back += 1
            return
        if self.held_back:
            message = f"{message} (and {self.held_back} more like it in the last {self._interval_s:.0f} s)"
            self.held_back = 0
        self._next_at = now + self._interval_s
        self._logger.log(self._level, message, *args)

"""Waiting for state in tests: poll with a deadline, return as soon as it holds, never a fixed sleep.

Deadlines are generous (a 3x slower CPU must pass) because a poll costs nothing once the state is reached.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

T = TypeVar("T")

DEADLINE_S = 60.0


async def eventually(
    probe: Callable[[], Awaitable[T]] | Callable[[], T],
    until: Callable[[T], object] = bool,
    *,
    timeout_s: float = DEADLINE_S,
    interval_s: float = 0.02,
    what: str = "the awaited state",
) -> T:
    """Call `probe` (plain or async) until `until(value)` holds; its last value, or AssertionError at the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        value: Any = probe()
        if inspect.isawaitable(value):
            value = await value
        if until(value):
            return cast(T, value)
        if loop.time() >= deadline:
            raise AssertionError(f"{what}: not reached within {timeout_s} s (last: {value!r:.300})")
        await asyncio.sleep(interval_s)  # the poll's interval, not a wait for the state


def wait_until(
    probe: Callable[[], T], *, timeout_s: float = DEADLINE_S, interval_s: float = 0.05, what: str = "the awaited state"
) -> T:
    """The same for plain threads: `probe()` until it returns something truthy (exceptions count as not yet)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = probe()
        except Exception as error:  # e.g. a server not listening yet
            value, last = cast(T, None), repr(error)
        else:
            last = repr(value)
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not reached within {timeout_s} s (last: {last:.300})")
        time.sleep(interval_s)  # the poll's interval

"""Telling a gateway's blocked event loop apart from a machine that gave its thread no CPU.

asyncio's debug mode warns when one callback held the loop longer than `slow_callback_duration`, measured in
wall time. On a loaded machine (other processes on the 2 cores, a test's own extra gateways and ASR workers)
a callback that took 5 ms of work can take 150 ms of wall time while the thread waits in the kernel's run
queue. Linux counts that wait per thread (`/proc/thread-self/schedstat`: CPU ns, run-queue wait ns, slices),
so each gateway thread samples its own counters every 20 ms; a warning counts as a blocked loop only if the
callback's wall time, less the run-queue wait since the sample before it began, still reaches the limit.

The wait that counts is the longest of any thread of the process, the loop's own included: a callback that needs
the GIL waits, asleep on a futex, while the thread holding it sits in the run queue (an ASR decode's Python part,
another gateway's loop in the same test process), and that wait shows only in the holder's counters. Time spent
running, sleeping in a blocking call or waiting for a lock that no starved thread holds is never excused. Where
schedstat cannot be read, every warning counts, as before.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

SCHEDSTAT = Path("/proc/thread-self/schedstat")
TASKS = Path("/proc/self/task")
SAMPLE_EVERY_S = 0.02
HISTORY = 500  # 10 s of samples: longer than any stall worth excusing


@dataclass(frozen=True)
class Sample:
    at: float  # time.monotonic(), as the loop's clock
    waits: dict[int, float]  # each thread's run-queue wait so far, by thread id


def read_wait_s() -> float | None:
    """The calling thread's run-queue wait so far, or None where Linux's schedstat is not readable."""
    try:
        return int(SCHEDSTAT.read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def read_process_waits() -> dict[int, float]:
    """Every thread's run-queue wait so far (threads that end between listing and reading are left out)."""
    waits: dict[int, float] = {}
    try:
        tids = os.listdir(TASKS)
    except OSError:
        return waits
    for tid in tids:
        try:
            with open(TASKS / tid / "schedstat", "rb") as stat:
                waits[int(tid)] = int(stat.read().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            continue
    return waits


class RunQueueSampler:
    """One loop thread's run-queue wait, sampled by a task on that loop (the thread reads its own counters)."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s  # the loop's slow_callback_duration
        self.samples: deque[Sample] = deque(maxlen=HISTORY)

    async def run(self) -> None:
        if read_wait_s() is None:
            return
        SAMPLERS[threading.get_ident()] = self
        try:
            while True:
                self.sample()
                await asyncio.sleep(SAMPLE_EVERY_S)
        finally:
            SAMPLERS.pop(threading.get_ident(), None)

    def sample(self) -> None:
        waits = read_process_waits()
        if waits:
            self.samples.append(Sample(time.monotonic(), waits))

    def starved_s(self, took_s: float) -> float:
        """The longest run-queue wait of any thread since the last sample taken before a callback that just ran for
        `took_s` began (threads started since then are left out: their wait may predate the callback)."""
        now, waits = time.monotonic(), read_process_waits()
        began = now - took_s
        before = [s for s in self.samples if s.at <= began]
        if not waits or not before:
            return 0.0
        then = before[-1].waits
        return max((waits[tid] - then[tid] for tid in waits.keys() & then.keys()), default=0.0)


SAMPLERS: dict[int, RunQueueSampler] = {}


class SlowCallbackRecorder(logging.Handler):
    """Collects asyncio's debug-mode warnings about callbacks that held the loop too long, less CPU starvation.

    asyncio logs the warning in the loop's own thread right after the callback, so the sampler found by thread
    id is the one of the loop that stalled."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []
        self.excused: list[str] = []  # stalls the run queue explains: kept for a failing test's message

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "took" not in message or "seconds" not in message:
            return
        took = record.args[-1] if isinstance(record.args, tuple) and record.args else None
        sampler = SAMPLERS.get(threading.get_ident())
        if isinstance(took, float) and sampler is not None:
            starved = sampler.starved_s(took)
            if took - starved < sampler.limit_s:
                self.excused.append(f"{message} (waited {starved:.3f} s for a CPU)")
                return
            message = f"{message} (of which {starved:.3f} s waiting for a CPU)"
        self.records.append(message)

"""The e2e fixtures' blocked-loop check: a callback that holds the loop counts, CPU starvation does not."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import pytest

from tests.loop_stalls import RunQueueSampler, SlowCallbackRecorder, read_wait_s
from tests.waits import eventually

pytestmark = pytest.mark.skipif(read_wait_s() is None, reason="no /proc/thread-self/schedstat here")


def run_on_loop(callback: Callable[[], None], cpu: int | None = None) -> float:
    """Run `callback` as one callback of a debug-mode loop in its own thread, sampled as the gateway's are;
    its wall time."""
    took: list[float] = []

    def thread() -> None:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})  # this thread only
        loop = asyncio.new_event_loop()
        loop.set_debug(True)
        loop.slow_callback_duration = 0.1

        async def main() -> None:
            sampler = RunQueueSampler(0.1)
            sampling = asyncio.ensure_future(sampler.run())
            await eventually(lambda: len(sampler.samples) >= 2, what="samples before the stall")
            ran = asyncio.Event()

            def timed() -> None:
                began = time.monotonic()
                callback()
                took.append(time.monotonic() - began)
                ran.set()  # asyncio logs the stall before the loop wakes `main` again

            loop.call_soon(timed)
            await asyncio.wait_for(ran.wait(), 10)
            sampling.cancel()

        loop.run_until_complete(main())
        loop.close()

    worker = threading.Thread(target=thread)
    worker.start()
    worker.join(30)
    return took[0]


def test_a_callback_that_sleeps_is_a_blocked_loop(slow_callbacks: SlowCallbackRecorder) -> None:
    run_on_loop(lambda: time.sleep(0.2))
    assert len(slow_callbacks.records) == 1 and not slow_callbacks.excused


def test_a_callback_that_computes_is_a_blocked_loop(slow_callbacks: SlowCallbackRecorder) -> None:
    def compute() -> None:
        began = time.thread_time()
        while time.thread_time() - began < 0.15:
            pass

    run_on_loop(compute)
    assert len(slow_callbacks.records) == 1


def test_a_thread_waiting_for_a_cpu_is_not_a_blocked_loop(slow_callbacks: SlowCallbackRecorder) -> None:
    cpu = min(os.sched_getaffinity(0))
    spin = f"import os; os.sched_setaffinity(0, {{{cpu}}}); print(flush=True)\nwhile True: pass"
    hogs = [
        subprocess.Popen(
            [sys.executable, "-c", spin],
            stdout=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    try:
        for hog in hogs:
            assert hog.stdout is not None
            hog.stdout.readline()  # it spins on the CPU now

        def short_work() -> None:  # 40 ms of CPU, several times that of wall time behind four busy processes
            began = time.thread_time()
            while time.thread_time() - began < 0.04:
                pass

        took = run_on_loop(short_work, cpu=cpu)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert took >= 0.1, f"the hogs did not slow the callback ({took:.3f} s): nothing was tested"
    assert not slow_callbacks.records, slow_callbacks.records
    assert len(slow_callbacks.excused) == 1


def test_the_excuse_is_the_longest_run_queue_wait_of_any_thread_of_the_process() -> None:
    """A callback that needs the GIL sleeps on it (not in the run queue) while the thread holding it waits for a
    CPU: that wait shows only in the holder's counters, so the sampler reads every thread of the process."""
    crowded = min(os.sched_getaffinity(0))
    spin = f"import os; os.sched_setaffinity(0, {{{crowded}}}); print(flush=True)\nwhile True: pass"
    hogs = [subprocess.Popen([sys.executable, "-c", spin], stdout=subprocess.PIPE) for _ in range(4)]
    go, spun, release = threading.Event(), threading.Event(), threading.Event()
    waited: list[float] = []

    def starved_thread() -> None:  # spins 0.3 s of wall time on the crowded core, then stays alive to be read
        os.sched_setaffinity(0, {crowded})
        go.wait(10)
        before, began = read_wait_s(), time.monotonic()
        while time.monotonic() - began < 0.3:
            pass
        after = read_wait_s()
        assert before is not None and after is not None
        waited.append(after - before)
        spun.set()
        release.wait(10)

    sampler = RunQueueSampler(0.1)
    other = threading.Thread(target=starved_thread)
    try:
        for hog in hogs:
            assert hog.stdout is not None
            hog.stdout.readline()
        other.start()  # before the sample: threads that start later are left out
        sampler.sample()
        began = time.monotonic()
        go.set()
        assert spun.wait(10)
        starved = sampler.starved_s(time.monotonic() - began)
    finally:
        release.set()
        other.join(10)
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert waited[0] >= 0.1, f"the busy processes did not delay the thread ({waited[0]:.3f} s): nothing was tested"
    assert starved >= waited[0] - 0.005, (starved, waited)

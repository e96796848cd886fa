"""The pool's backlog counts every utterance no worker has taken: queued, and waiting for room in a full queue."""

from __future__ import annotations

import asyncio
import threading

import numpy as np

from asr.pool import AsrPool
from asr.recognizer import Recognition, RecognitionRequest


async def test_backlog_counts_producers_waiting_for_room() -> None:
    gate = threading.Event()
    taken = threading.Event()

    def recognize(batch: list[RecognitionRequest]) -> list[Recognition]:
        taken.set()
        gate.wait(10)
        return [Recognition("x") for _ in batch]

    pool = AsrPool(recognize, workers=1, queue_size=2, max_batch=1)
    pool.start()
    calls = [asyncio.create_task(pool.transcribe(RecognitionRequest(np.zeros(160, dtype=np.int16)))) for _ in range(6)]
    assert await asyncio.to_thread(taken.wait, 10)
    for _ in range(100):  # the tasks run their first steps on the loop: one taken, two queued, three waiting
        if pool.backlog == 5:
            break
        await asyncio.sleep(0)
    assert (pool.queue_depth, pool.backlog) == (2, 5)
    gate.set()
    await asyncio.gather(*calls)
    assert pool.backlog == 0
    await pool.close()

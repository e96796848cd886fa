"""The ASR pool: off the loop, bounded, batching under backlog, its backlog counted, failures contained."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from asr.pool import AsrPool
from asr.recognizer import Recognition, RecognitionRequest
from tests.waits import eventually


def request(tag: int) -> RecognitionRequest:
    return RecognitionRequest(np.full(160, tag, dtype=np.int16))


async def test_backlog_is_batched_and_each_caller_gets_its_own_result() -> None:
    release = threading.Event()
    batches: list[int] = []

    decoding = threading.Event()

    def recognize(batch: list[RecognitionRequest]) -> list[Recognition]:
        decoding.set()
        release.wait(60)
        batches.append(len(batch))
        return [Recognition(str(int(r.samples[0]))) for r in batch]

    pool = AsrPool(recognize, workers=1, queue_size=16, max_batch=4)
    pool.start()
    calls = [asyncio.create_task(pool.transcribe(request(i))) for i in range(6)]
    # all six were queued before the worker woke: it takes four, then two
    assert await asyncio.to_thread(decoding.wait, 60), "the first batch never reached the decoder"
    release.set()
    results = await asyncio.gather(*calls)
    await pool.close()
    assert [r.text for r in results] == [str(i) for i in range(6)]
    assert batches == [4, 2]


async def test_a_full_queue_makes_producers_wait_instead_of_dropping() -> None:
    release = threading.Event()

    decoding = threading.Event()

    def recognize(batch: list[RecognitionRequest]) -> list[Recognition]:
        decoding.set()
        release.wait(60)
        return [Recognition("x") for _ in batch]

    pool = AsrPool(recognize, workers=1, queue_size=2, max_batch=1)
    pool.start()
    calls = [asyncio.create_task(pool.transcribe(request(i))) for i in range(5)]
    assert await asyncio.to_thread(decoding.wait, 60), "the first request never reached the decoder"
    # One decoding, two queued, two producers waiting for room: the backlog (what overload refuses new streams
    # on) counts the waiting producers too.
    await eventually(lambda: (pool.queue_depth, pool.backlog), lambda seen: seen == (2, 4), what="queued and waiting")
    assert not any(c.done() for c in calls)
    release.set()
    assert len(await asyncio.gather(*calls)) == 5
    await pool.close()


async def test_a_failed_decode_fails_its_callers_and_the_worker_lives_on() -> None:
    def recognize(batch: list[RecognitionRequest]) -> list[Recognition]:
        if batch[0].samples[0] == 1:
            raise RuntimeError("decoder exploded")
        return [Recognition("ok") for _ in batch]

    pool = AsrPool(recognize, workers=1, queue_size=4, max_batch=1)
    pool.start()
    with pytest.raises(RuntimeError, match="exploded"):
        await pool.transcribe(request(1))
    assert (await pool.transcribe(request(2))).text == "ok"
    await pool.close()

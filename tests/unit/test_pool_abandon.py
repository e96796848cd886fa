"""The shutdown deadline: the ASR pool gives up every utterance not decoded (queued, waiting, in a running decode)
at once, later requests too, and closing it does not wait for the decode still running in its thread."""

from __future__ import annotations

import asyncio
import threading

import numpy as np

from asr.pool import Abandoned, AsrPool
from asr.recognizer import Recognition, RecognitionRequest


def request(tag: int) -> RecognitionRequest:
    return RecognitionRequest(np.full(160, tag, dtype=np.int16))


async def test_abandon_fails_queued_waiting_and_running_utterances_and_close_does_not_wait() -> None:
    decoding, release = threading.Event(), threading.Event()

    def recognize(batch: list[RecognitionRequest]) -> list[Recognition]:
        decoding.set()
        release.wait(60)  # a decode that outlives the deadline
        return [Recognition("late") for _ in batch]

    pool = AsrPool(recognize, workers=1, queue_size=2, max_batch=1, stream_queue_size=1)
    pool.start()
    calls = [asyncio.create_task(pool.transcribe(request(i), stream=i % 2)) for i in range(6)]
    assert await asyncio.to_thread(decoding.wait, 60)
    assert pool.unfinished == 6
    assert pool.abandon() == 6  # one running, queued ones, and ones waiting for room
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(o, Abandoned) for o in outcomes)
    try:
        await asyncio.wait_for(pool.transcribe(request(9)), 1)
    except Abandoned:
        pass
    else:
        raise AssertionError("a request after the deadline was taken")
    await asyncio.wait_for(pool.close(), 5)  # the decode still runs in its thread; close does not wait for it
    release.set()

"""The ASR pool serves streams in turn: one stream's backlog never delays another stream's next utterance by more
than one decode; one stream's share of the queue is capped (only that stream waits); batches mix streams."""

from __future__ import annotations

import asyncio
import threading

import numpy as np

from asr.pool import AsrPool
from asr.recognizer import Recognition, RecognitionRequest
from tests.waits import eventually


def request(tag: int) -> RecognitionRequest:
    return RecognitionRequest(np.full(160, tag, dtype=np.int16))


class SteppedDecoder:
    """Each decode waits until the test lets it through, and records what it was given (tags in order)."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self._steps = threading.Semaphore(0)
        self.started = threading.Semaphore(0)

    def __call__(self, batch: list[RecognitionRequest]) -> list[Recognition]:
        self.started.release()
        assert self._steps.acquire(timeout=60), "the test never let the decode through"
        tags = [int(r.samples[0]) for r in batch]
        self.batches.append(tags)
        return [Recognition(str(t)) for t in tags]

    def step(self) -> None:
        self._steps.release()

    async def wait_started(self) -> None:
        assert await asyncio.to_thread(self.started.acquire, True, 60), "no decode started"


async def test_a_flooding_streams_backlog_does_not_delay_another_streams_next_utterance() -> None:
    decoder = SteppedDecoder()
    pool = AsrPool(decoder, workers=1, queue_size=256, max_batch=1, stream_queue_size=32)
    pool.start()
    flood = [asyncio.create_task(pool.transcribe(request(100 + i), "flooder")) for i in range(20)]
    await decoder.wait_started()  # the flooder's first utterance is being decoded, 19 wait
    await eventually(lambda: pool.queue_depth, lambda depth: depth == 19, what="the flood queued")
    other = asyncio.create_task(pool.transcribe(request(1), "realtime"))
    await eventually(lambda: pool.queue_depth, lambda depth: depth == 20, what="the other stream's utterance queued")
    decoder.step()  # the decode in progress ends: the next one is the other stream's, not the flooder's 2nd
    await decoder.wait_started()
    decoder.step()
    assert (await asyncio.wait_for(other, 10)).text == "1"
    assert decoder.batches == [[100], [1]]
    for _ in range(19):
        decoder.step()
    assert [r.text for r in await asyncio.gather(*flood)] == [str(100 + i) for i in range(20)]  # its own order
    await pool.close()


async def test_streams_take_turns_and_a_batch_takes_utterances_of_several_streams() -> None:
    decoder = SteppedDecoder()
    pool = AsrPool(decoder, workers=1, queue_size=256, max_batch=4)
    pool.start()
    first = asyncio.create_task(pool.transcribe(request(0), "a"))
    await decoder.wait_started()
    calls = [asyncio.create_task(pool.transcribe(request(10 + i), "a")) for i in range(6)]
    calls += [asyncio.create_task(pool.transcribe(request(20 + i), "b")) for i in range(2)]
    calls += [asyncio.create_task(pool.transcribe(request(30), "c"))]
    await eventually(lambda: pool.queue_depth, lambda depth: depth == 9, what="all queued")
    for _ in range(4):
        decoder.step()
    await asyncio.gather(first, *calls)
    await pool.close()
    # b and c were never served, a just was: b, c first, then a, each stream in its own order
    assert decoder.batches == [[0], [20, 30, 10, 21], [11, 12, 13, 14], [15]]


async def test_one_streams_share_of_the_queue_is_capped_and_its_excess_waits_without_counting_as_overload() -> None:
    release = threading.Event()
    decoding = threading.Event()

    def recognize(batch: list[RecognitionRequest]) -> list[Recognition]:
        decoding.set()
        release.wait(60)
        return [Recognition(str(int(r.samples[0]))) for r in batch]

    pool = AsrPool(recognize, workers=1, queue_size=256, max_batch=1, stream_queue_size=3)
    pool.start()
    flood = [asyncio.create_task(pool.transcribe(request(i), "flooder")) for i in range(10)]
    assert await asyncio.to_thread(decoding.wait, 60)
    # one decoding, three queued (its cap), six waiting for the flooder's own room: the node is not overloaded
    # by one stream's flood (asr.max_backlog counts each stream's share only)
    await eventually(lambda: (pool.queue_depth, pool.backlog), lambda seen: seen == (3, 3), what="capped share")
    others = [asyncio.create_task(pool.transcribe(request(50 + i), f"s{i}")) for i in range(2)]
    await eventually(lambda: (pool.queue_depth, pool.backlog), lambda seen: seen == (5, 5), what="others queued")
    release.set()
    assert [r.text for r in await asyncio.gather(*flood)] == [str(i) for i in range(10)]
    assert [r.text for r in await asyncio.gather(*others)] == ["50", "51"]
    await pool.close()


async def test_a_full_pool_queue_is_shared_out_fairly_when_room_comes() -> None:
    decoder = SteppedDecoder()
    pool = AsrPool(decoder, workers=1, queue_size=2, max_batch=1, stream_queue_size=8)
    pool.start()
    first = asyncio.create_task(pool.transcribe(request(0), "a"))
    await decoder.wait_started()
    flood = [asyncio.create_task(pool.transcribe(request(10 + i), "a")) for i in range(5)]  # 2 queued, 3 wait
    await eventually(lambda: pool.backlog, lambda backlog: backlog == 5, what="the flood queued and waiting")
    other = asyncio.create_task(pool.transcribe(request(1), "b"))  # waits for room in the pool's queue
    await eventually(lambda: pool.backlog, lambda backlog: backlog == 6, what="the other waiting")
    for _ in range(3):
        decoder.step()
    await asyncio.wait_for(other, 10)
    # the room freed by a's first decode goes to b, which has never been served: b is decoded next after a's
    # utterance that was queued before it came
    assert decoder.batches == [[0], [10], [1]]
    for _ in range(4):
        decoder.step()
    await asyncio.gather(first, *flood)
    await pool.close()

"""The ASR worker pool: threads that share one model, off the event loop, fed fairly from per-stream queues."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from asr.recognizer import Recognition, RecognitionRequest

log = logging.getLogger(__name__)

RecognizeBatch = Callable[[list[RecognitionRequest]], list[Recognition]]


class PoolClosed(RuntimeError):
    """The pool is shutting down and takes no new work."""


class SpeculationSkipped(RuntimeError):
    """An utterance came to decode before a worker took this speculative decode: it is dropped."""


class Abandoned(PoolClosed):
    """The shutdown deadline came before this utterance was decoded: the caller keeps it for later."""


@dataclass(eq=False)
class _Job:
    request: RecognitionRequest
    future: asyncio.Future[Recognition]
    stream: Hashable = None
    taken: bool = False  # a worker has it (decoding or decoded)


SpeculativeJob = _Job  # what `speculate` hands back, for `confirm` or `withdraw`


@dataclass
class _Lane:
    """One stream's utterances: `queued` may be taken by a worker, `waiting` wait for room (the stream's cap or
    the pool's queue_size). `served` orders the lanes: the one served longest ago goes first."""

    served: int
    arrival: int
    queued: deque[_Job] = field(default_factory=deque)
    waiting: deque[_Job] = field(default_factory=deque)


class AsrPool:
    """`workers` decodes run at once, fed from per-stream lanes, least recently served stream first.

    A stream's backlog never delays another stream's next utterance by more than one decode: each pick takes one
    utterance of the stream served longest ago, so a stream that floods waits its turn behind every other one.
    `stream_queue_size` utterances of one stream may be queued and `queue_size` in all; beyond either the producer
    waits (its utterance is queued when room comes, still in its stream's order).

    A worker that finds a backlog takes up to `max_batch` utterances (of any streams, in the same fair order) into
    one decode: under load this raises throughput, and when the queue is short it costs nothing, since no worker
    waits to fill a batch. Callers without a stream key share one lane.

    Speculative decodes (an utterance whose end is not confirmed yet) are the first work skipped under load: one
    is accepted only while a worker is idle and nothing is queued, and one no worker has taken yet is dropped
    (SpeculationSkipped) as soon as an utterance comes to decode.
    They count in no backlog. `confirm` turns one into an utterance that waits its turn in its stream's lane
    (unless a worker has it already); `withdraw` drops it, or ignores its result if its decode has begun.
    """

    def __init__(
        self,
        recognize: RecognizeBatch,
        workers: int,
        queue_size: int,
        max_batch: int = 1,
        stream_queue_size: int | None = None,
    ) -> None:
        self._recognize = recognize
        self._worker_count = workers
        self._max_batch = max(1, max_batch)
        self._queue_size = max(1, queue_size)
        self._stream_queue_size = max(1, stream_queue_size) if stream_queue_size else None  # None: no cap
        self._lanes: dict[Hashable, _Lane] = {}
        self._served: dict[Hashable, int] = {}  # when each recently active stream was last served
        self._clock = itertools.count()
        self._queued = 0  # jobs in `queued` of every lane
        self._waiting = 0  # jobs in `waiting` of every lane
        self._unfinished = 0  # jobs not yet decoded
        self._work_ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="asr")
        self._workers: list[asyncio.Task[None]] = []
        self._closed = False
        self._abandoned = False
        self._running: set[asyncio.Future[Recognition]] = set()  # futures of the decodes in the executor now
        self._busy = 0  # workers decoding now
        self._speculative: deque[_Job] = deque()  # speculative decodes no worker has taken

    @property
    def backlog(self) -> int:
        """Utterances no worker has taken yet, each stream counting at most `stream_queue_size` of them: one
        stream's flood (which only that stream waits for) does not make the node look overloaded."""
        return self._queued + sum(min(len(lane.waiting), self._stream_room(lane)) for lane in self._lanes.values())

    @property
    def queue_depth(self) -> int:
        return self._queued

    @property
    def unfinished(self) -> int:
        """Utterances queued, waiting or being decoded."""
        return self._unfinished

    def start(self) -> None:
        self._workers = [asyncio.create_task(self._work(), name=f"asr-{i}") for i in range(self._worker_count)]

    async def transcribe(self, request: RecognitionRequest, stream: Hashable = None) -> Recognition:
        """Queue one utterance of `stream` and wait for its text; waits for room when the stream's share or the
        pool's queue is full."""
        if self._abandoned:
            raise Abandoned("ASR pool gave up its work at the shutdown deadline")
        if self._closed:
            raise PoolClosed("ASR pool is shut down")
        job = _Job(request, asyncio.get_running_loop().create_future(), stream)
        self._unfinished += 1
        self._idle.clear()
        self._enqueue(job)
        return await job.future

    def speculate(self, request: RecognitionRequest, stream: Hashable = None) -> SpeculativeJob | None:
        """Decode ahead of need if the pool has room: None (skipped) while any utterance is queued or waiting, or
        every worker is busy or has a speculation to take. The result comes on the job's future."""
        if self._closed or self._queued or self._waiting or self._busy + len(self._speculative) >= self._worker_count:
            return None
        job = _Job(request, asyncio.get_running_loop().create_future(), stream)
        self._speculative.append(job)
        self._unfinished += 1
        self._idle.clear()
        self._work_ready.set()
        return job

    def confirm(self, job: SpeculativeJob) -> None:
        """The utterance is final as speculated: not taken yet, it now waits its turn as any utterance does."""
        if job.taken or job.future.done():
            return
        self._speculative.remove(job)
        self._enqueue(job)

    def withdraw(self, job: SpeculativeJob) -> bool:
        """The speculation is void. Returns whether a decode was spent on it (begun or done)."""
        if job.taken:
            job.future.cancel()  # a decode running still ends; its result is ignored
            return True
        if not job.future.done():
            self._speculative.remove(job)
            job.future.cancel()
            self._finished(1)
        return False

    def _enqueue(self, job: _Job) -> None:
        self._skip_speculations()
        lane = self._lanes.get(job.stream)
        if lane is None:
            lane = self._lanes[job.stream] = _Lane(self._served.get(job.stream, -1), next(self._clock))
        lane.waiting.append(job)
        self._waiting += 1
        self._admit()

    def _skip_speculations(self) -> None:
        skipped = list(self._speculative)
        self._speculative.clear()
        for job in skipped:
            job.future.set_exception(SpeculationSkipped("an utterance came to decode first"))
        if skipped:
            self._finished(len(skipped))

    def _finished(self, count: int) -> None:
        self._unfinished -= count
        if not self._unfinished:
            self._idle.set()

    async def drain(self) -> None:
        """Wait until every queued utterance has been decoded."""
        await self._idle.wait()

    def abandon(self) -> int:
        """The shutdown deadline: every utterance not decoded yet (queued, waiting, or in a decode that is still
        running) fails at once with `Abandoned`, and so does any later request. Returns how many were given up.
        A decode already in the executor runs to its end; its result is ignored."""
        self._abandoned = self._closed = True
        jobs = [job for lane in self._lanes.values() for job in (*lane.queued, *lane.waiting)]
        jobs += self._speculative
        self._speculative.clear()
        self._lanes.clear()
        self._queued = self._waiting = 0
        self._work_ready.clear()
        given_up = 0
        for future in [*(job.future for job in jobs), *self._running]:
            if not future.done():
                future.set_exception(Abandoned("not decoded before the shutdown deadline"))
                given_up += 1
        self._finished(len(jobs))
        return given_up

    async def close(self) -> None:
        """Stop: after `abandon` without waiting for the decode still running (the process is leaving),
        otherwise once every queued utterance is decoded."""
        self._closed = True
        if not self._abandoned:
            await self.drain()
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._executor.shutdown(wait=not self._abandoned, cancel_futures=True)

    def _stream_room(self, lane: _Lane) -> int:
        if self._stream_queue_size is None:
            return len(lane.waiting)
        return max(0, self._stream_queue_size - len(lane.queued))

    def _admit(self) -> None:
        """Move waiting utterances into their lanes while there is room, least recently served stream first."""
        while self._waiting and self._queued < self._queue_size:
            candidates = [lane for lane in self._lanes.values() if lane.waiting and self._stream_room(lane)]
            if not candidates:
                break
            lane = min(candidates, key=lambda c: (c.served, c.arrival))
            lane.queued.append(lane.waiting.popleft())
            self._waiting -= 1
            self._queued += 1
        if self._queued:
            self._work_ready.set()

    def _take(self) -> list[_Job]:
        """Up to max_batch queued utterances, one at a time from the least recently served stream; speculative
        decodes only when no utterance is queued."""
        jobs = self._take_queued() or [
            self._speculative.popleft() for _ in range(min(self._max_batch, len(self._speculative)))
        ]
        if not self._queued and not self._speculative:
            self._work_ready.clear()
        for job in jobs:
            job.taken = True
        return jobs

    def _take_queued(self) -> list[_Job]:
        jobs: list[_Job] = []
        while len(jobs) < self._max_batch and self._queued:
            key, lane = min(
                ((k, v) for k, v in self._lanes.items() if v.queued), key=lambda kv: (kv[1].served, kv[1].arrival)
            )
            jobs.append(lane.queued.popleft())
            self._queued -= 1
            lane.served = self._served[key] = next(self._clock)
            if not lane.queued and not lane.waiting:
                del self._lanes[key]
        self._forget_old_streams()
        self._admit()
        return jobs

    def _forget_old_streams(self) -> None:
        """A stream served before every active one would go first anyway: its entry can go (bounded memory)."""
        if len(self._served) <= 2 * len(self._lanes) + 64:
            return
        oldest_active = min((lane.served for lane in self._lanes.values()), default=next(self._clock))
        for key in [k for k, served in self._served.items() if served < oldest_active and k not in self._lanes]:
            del self._served[key]

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._work_ready.wait()
            jobs = self._take()
            if not jobs:
                continue
            self._running.update(job.future for job in jobs)
            self._busy += 1
            try:
                results = await loop.run_in_executor(self._executor, self._recognize, [j.request for j in jobs])
            except Exception as error:  # a failed decode fails its utterances, never the worker
                log.exception("asr decode failed")
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(error)
            else:
                for job, result in zip(jobs, results, strict=True):
                    if not job.future.done():
                        job.future.set_result(result)
            finally:
                self._busy -= 1
                self._running.difference_update(job.future for job in jobs)
                self._finished(len(jobs))

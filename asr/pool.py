"""The ASR worker pool: a bounded queue in front of threads that share one model, off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from asr.recognizer import Recognition, RecognitionRequest

log = logging.getLogger(__name__)

RecognizeBatch = Callable[[list[RecognitionRequest]], list[Recognition]]


class PoolClosed(RuntimeError):
    """The pool is shutting down and takes no new work."""


class AsrPool:
    """`workers` decodes run at once; `queue_size` utterances wait, and a full queue makes producers wait.

    A worker that finds a backlog takes up to `max_batch` utterances into one decode: under load this raises
    throughput, and when the queue is short it costs nothing, since no worker waits to fill a batch.
    """

    def __init__(self, recognize: RecognizeBatch, workers: int, queue_size: int, max_batch: int = 1) -> None:
        self._recognize = recognize
        self._worker_count = workers
        self._max_batch = max(1, max_batch)
        self._queue: asyncio.Queue[tuple[RecognitionRequest, asyncio.Future[Recognition]]] = asyncio.Queue(queue_size)
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="asr")
        self._workers: list[asyncio.Task[None]] = []
        self._closed = False
        self._waiting = 0  # producers waiting for room in a full queue

    @property
    def backlog(self) -> int:
        """Utterances no worker has taken yet: those queued and those whose producers wait for room."""
        return self._queue.qsize() + self._waiting

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    def start(self) -> None:
        self._workers = [asyncio.create_task(self._work(), name=f"asr-{i}") for i in range(self._worker_count)]

    async def transcribe(self, request: RecognitionRequest) -> Recognition:
        """Queue one utterance and wait for its text; waits for room when the queue is full."""
        if self._closed:
            raise PoolClosed("ASR pool is shut down")
        future: asyncio.Future[Recognition] = asyncio.get_running_loop().create_future()
        self._waiting += 1
        try:
            await self._queue.put((request, future))
        finally:
            self._waiting -= 1
        return await future

    async def drain(self) -> None:
        """Wait until every queued utterance has been decoded."""
        await self._queue.join()

    async def close(self) -> None:
        self._closed = True
        await self.drain()
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._executor.shutdown(wait=True)

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = [await self._queue.get()]
            while len(jobs) < self._max_batch and not self._queue.empty():
                jobs.append(self._queue.get_nowait())
            try:
                results = await loop.run_in_executor(self._executor, self._recognize, [r for r, _ in jobs])
            except Exception as error:  # a failed decode fails its utterances, never the worker
                log.exception("asr decode failed")
                for _, future in jobs:
                    if not future.done():
                        future.set_exception(error)
            else:
                for (_, future), result in zip(jobs, results, strict=True):
                    if not future.done():
                        future.set_result(result)
            finally:
                for _ in jobs:
                    self._queue.task_done()

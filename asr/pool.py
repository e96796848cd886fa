"""The ASR worker pool: a bounded queue in front of threads that share one model, off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from asr.recognizer import Recognition, RecognitionRequest

log = logging.getLogger(__name__)

Recognize = Callable[[RecognitionRequest], Recognition]


class PoolClosed(RuntimeError):
    """The pool is shutting down and takes no new work."""


class AsrPool:
    """`workers` utterances are decoded at once; `queue_size` wait, and a full queue makes producers wait."""

    def __init__(self, recognize: Recognize, workers: int, queue_size: int) -> None:
        self._recognize = recognize
        self._worker_count = workers
        self._queue: asyncio.Queue[tuple[RecognitionRequest, asyncio.Future[Recognition]]] = asyncio.Queue(queue_size)
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="asr")
        self._workers: list[asyncio.Task[None]] = []
        self._closed = False
        self.busy = 0

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
        await self._queue.put((request, future))
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
            request, future = await self._queue.get()
            self.busy += 1
            try:
                result = await loop.run_in_executor(self._executor, self._recognize, request)
            except Exception as error:  # a failed decode fails its utterance, never the worker
                log.exception("asr decode failed")
                if not future.done():
                    future.set_exception(error)
            else:
                if not future.done():
                    future.set_result(result)
            finally:
                self.busy -= 1
                self._queue.task_done()

"""Labels frames with a VAD too costly for the event loop (Silero: ~0.1 ms of CPU a 32 ms window) in one
thread. Requests from every stream queue up; each run of the thread takes all of them (one executor hop per tick
for all streams, whatever queued while the last run was busy goes into the next). onnxruntime releases the GIL
while the model runs. A stream keeps at most one request in flight (asr/vad.py's state is the stream's), so its
frames are labelled in order."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

from asr.frame import Pcm
from asr.vad import Vad

_executor: concurrent.futures.ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
_threads: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, VadThread] = weakref.WeakKeyDictionary()


def _shared_executor() -> concurrent.futures.ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="vad")
        return _executor


@dataclass(frozen=True)
class _Request:
    vad: Vad
    frames: Sequence[Pcm]
    future: asyncio.Future[list[bool]]


def _label_all(requests: list[_Request]) -> list[list[bool] | BaseException]:
    """In the thread: each request's labels, or the error that one request raised (the others still run)."""
    out: list[list[bool] | BaseException] = []
    for request in requests:
        try:
            out.append(request.vad.label(request.frames))
        except Exception as error:  # a bad stream fails its own request only
            out.append(error)
    return out


class VadThread:
    """The event loop's side: `label` returns a future resolved on the loop, in the order requests were made."""

    def __init__(self, executor: concurrent.futures.Executor | None = None) -> None:
        self._executor = executor
        self._queued: list[_Request] = []
        self._runner: asyncio.Task[None] | None = None
        self.runs = 0  # executor hops so far (requests per run: how well ticks batch)

    def label(self, vad: Vad, frames: Sequence[Pcm]) -> asyncio.Future[list[bool]]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[bool]] = loop.create_future()
        self._queued.append(_Request(vad, frames, future))
        if self._runner is None or self._runner.done():
            self._runner = loop.create_task(self._run(), name="vad-thread")
        return future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        executor = self._executor or _shared_executor()
        while self._queued:
            batch, self._queued = self._queued, []
            self.runs += 1
            try:
                results = await loop.run_in_executor(executor, _label_all, batch)
            except asyncio.CancelledError:
                for request in batch + self._queued:
                    request.future.cancel()
                raise
            except Exception as error:  # the executor itself failed (shut down): every request learns it
                results = [error] * len(batch)
            self._settle(batch, results)

    @staticmethod
    def _settle(batch: list[_Request], results: list[list[bool] | BaseException]) -> None:
        for request, result in zip(batch, results, strict=True):
            if request.future.done():
                continue
            if isinstance(result, BaseException):
                request.future.set_exception(result)
            else:
                request.future.set_result(result)


def vad_thread() -> VadThread:
    """The running loop's VadThread (one per loop; the thread behind them is one per process)."""
    loop = asyncio.get_running_loop()
    thread = _threads.get(loop)
    if thread is None:
        thread = _threads[loop] = VadThread()
    return thread

"""Graceful shutdown that keeps its promise: drain, end what is still open, give up what is left at the deadline.

With T = server.shutdown_timeout_s and C = min(server.shutdown_close_s, T / 2), from the SIGTERM (t0):

  draining   t0 on        new work is refused (GET /v1/ready 503, streaming URLs 503, direct API 5001, Twilio 1001,
                          AudioHook 503, SIPREC INVITE 503 with Retry-After, a new Amazon Connect contact's
                          start-streaming 5001); calls in progress go on, until none is
                          left (the process leaves at once) or the close phase begins
  closing    t0 + T - C   open streams are ended as their protocol says (finalResponse 5001, Twilio 1001, AudioHook
                          disconnect, SIPREC BYE, KVS readers stopped); what they said is flushed and decoded while
                          time is left
  deadline   t0 + T       the ASR pool gives up: every utterance not decoded is stored as untranscribed, its audio
                          spooled where recording is allowed (mediagw/outputs/spool.py), and the streams end
  leaving    up to LEAVE_S more for the sockets to close and the runner to clean up; the CLI's watchdog ends the
                          process at t0 + T + HARD_EXIT_S whatever still runs (a decode in a thread, a stuck peer)

`hurry` (a second SIGTERM, or SIGINT) moves the deadline to now: the same steps, at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from aiohttp import web

from mediagw.services import Services

log = logging.getLogger(__name__)
LEAVE_S = 2.0  # after the deadline: for the streams' last messages (5001, BYE) and the spool's writes
HARD_EXIT_S = 4.0  # after the deadline: the process exits whatever still runs (terminationGracePeriod: T + 5)
POLL_S = 0.05


class Shutdown:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._task: asyncio.Task[None] | None = None
        self._hurry = asyncio.Event()
        self.untranscribed = 0  # utterances the deadline left undecoded

    @property
    def started(self) -> bool:
        return self._task is not None

    async def run(self, immediately: bool = False) -> None:
        """Drain and stop (once: a second call waits for the first, and with `immediately` hurries it)."""
        self._services.begin_drain()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="shutdown")
        if immediately:
            self.hurry()
        await asyncio.shield(self._task)

    def hurry(self) -> None:
        self._hurry.set()

    async def _run(self) -> None:
        services = self._services
        settings = services.config.server
        loop = asyncio.get_running_loop()
        began = loop.time()
        timeout = settings.shutdown_timeout_s
        deadline = began + timeout
        close_at = deadline - min(settings.shutdown_close_s, timeout / 2)
        log.info(
            "shutting down: draining (%d in progress); open streams end in %.1f s, the rest is spooled in %.1f s",
            services.in_progress(),
            max(0.0, close_at - began),
            timeout,
        )
        await self._until(close_at, lambda: services.in_progress() == 0)
        closing = self._close()
        await self._until(deadline, lambda: services.in_progress() == 0 and all(t.done() for t in closing))
        if services.pool is not None and services.pool.unfinished:
            self.untranscribed = services.pool.abandon()
            log.warning(
                "shutdown deadline: %d utterance(s) not transcribed, recorded as untranscribed (audio spooled where "
                "recording is allowed)",
                self.untranscribed,
            )
        elif services.pool is not None:
            services.pool.abandon()  # nothing left; later requests (a stream's last flush) are spooled at once
        leave = loop.time() + LEAVE_S
        await self._until(leave, lambda: services.in_progress(asr=False) == 0 and all(t.done() for t in closing), False)
        for task in closing:
            task.cancel()
        log.info("shutdown: streams ended %.1f s after the signal", loop.time() - began)

    def _close(self) -> list[asyncio.Task[None]]:
        """End every open stream now; returns the tasks that end them (they finish once their audio is flushed)."""
        services = self._services
        services.shutting_down = True
        tasks: list[asyncio.Task[None]] = []
        for runner in services.runners:  # SIPREC's recordings, Amazon Connect's readers
            tasks.append(asyncio.create_task(runner.close(), name=f"shutdown-{type(runner).__name__}"))
        sessions = list(services.sessions)
        if sessions:
            log.info("shutting down: ending %d open stream(s)", len(sessions))
        for session in sessions:
            session.shutdown()
            tasks.append(asyncio.create_task(session.wait_closed(), name="shutdown-session"))
        return tasks

    async def _until(self, deadline: float, done: Callable[[], bool], hurried: bool = True) -> None:
        """Until `done()` holds, the deadline passes or (`hurried`) the shutdown is hurried. Polled: the conditions
        span the sockets, the SIP server, the readers and the ASR pool, which share no event."""
        loop = asyncio.get_running_loop()
        while not done() and not (hurried and self._hurry.is_set()):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._hurry.wait() if hurried else asyncio.sleep(POLL_S), min(POLL_S, remaining))


def abort_connections(runner: web.BaseRunner) -> int:
    """After the drain: the HTTP/WebSocket connections still open (a peer that stopped reading, so its last
    message never drains) are aborted, so the runner's cleanup does not wait for them."""
    server = runner.server
    handlers = server.connections if server is not None else []
    for handler in handlers:
        if handler.transport is not None:
            handler.transport.abort()
    return len(handlers)

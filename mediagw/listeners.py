"""What keeps a listener usable under a flood of connections: a limit on open connections per listener (HTTP and
WebSocket, SIP over TCP and TLS), the HTTP idle timeout, and a deadline for an HTTP request's body to arrive.

aiohttp has no connection limit of its own: `LimitedSite` counts the connections of its listener and answers one
past the limit with 503 and a close, before aiohttp sees it, so the open files a flood can take are bounded and
the API stays reachable. A warning says when a limit is hit, at most every 10 s.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from mediagw.api.routes import SERVICES
from mediagw.config import Config
from mediagw.throttle import ThrottledLog

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REFUSED_HTTP = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 21\r\nRetry-After: 1\r\n"
    b"Connection: close\r\n\r\ntoo many connections\n"
)


class ConnectionLimit:
    """The open connections of one listener against its `limit` (0: none). `on_refused` counts a refusal."""

    def __init__(self, listener: str, limit: int, on_refused: Callable[[], None] | None = None) -> None:
        self.listener = listener
        self.limit = limit
        self.open = 0
        self._on_refused = on_refused
        self._log = ThrottledLog(log)

    def admit(self) -> bool:
        """Count a new connection in, or refuse it (False: close it at once) when the listener is full."""
        if self.limit and self.open >= self.limit:
            if self._on_refused is not None:
                self._on_refused()
            self._log.log(
                time.monotonic(),
                "%s: %d connections open, the limit: a new connection was refused",
                self.listener,
                self.limit,
            )
            return False
        self.open += 1
        return True

    def release(self) -> None:
        self.open -= 1


class _Counted(asyncio.Protocol):
    """One accepted HTTP connection: counted against the limit, then handed to aiohttp's handler, made only
    once admitted (a refused connection costs no parser)."""

    def __init__(self, make: Callable[[], asyncio.Protocol], limit: ConnectionLimit) -> None:
        self._make = make
        self._limit = limit
        self._inner: asyncio.Protocol | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._limit.admit():
            assert isinstance(transport, asyncio.Transport)
            transport.write(REFUSED_HTTP)
            transport.close()
            return
        self._inner = self._make()
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        inner, self._inner = self._inner, None
        if inner is not None:
            self._limit.release()
            inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()


class LimitedSite(web.BaseSite):
    """A TCP site like aiohttp's `TCPSite`, with at most `limit.limit` connections open at once."""

    __slots__ = ("_host", "_port", "_limit")

    def __init__(self, runner: web.BaseRunner, host: str, port: int, limit: ConnectionLimit, **kwargs: Any) -> None:
        super().__init__(runner, **kwargs)
        self._host = host
        self._port = port
        self._limit = limit

    @property
    def name(self) -> str:
        return f"{'https' if self._ssl_context else 'http'}://{self._host}:{self._port}"

    @property
    def port(self) -> int:
        """The bound port (the asked one was 0: any free port)."""
        assert self._server is not None
        sockets = self._server.sockets  # type: ignore[attr-defined]
        return int(sockets[0].getsockname()[1])

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            lambda: _Counted(server, self._limit),
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
        )


def http_runner(app: web.Application, config: Config, **kwargs: Any) -> web.AppRunner:
    """The app's runner: an HTTP connection idle (no request, or a request's headers unfinished) for
    `server.idle_timeout_s` is closed."""
    return web.AppRunner(
        app,
        shutdown_timeout=config.server.shutdown_timeout_s + 5,
        keepalive_timeout=config.server.idle_timeout_s,
        **kwargs,
    )


async def start_http_site(
    runner: web.AppRunner,
    config: Config,
    host: str,
    port: int,
    ssl_context: ssl.SSLContext | None = None,
) -> LimitedSite:
    """Listen on `host`:`port` with `server.max_connections` (connections past it: 503, closed)."""
    refused = runner.app[SERVICES].metrics.connections_refused.labels("http").inc
    limit = ConnectionLimit(f"HTTP listener {host}:{port}", config.server.max_connections, refused)
    site = LimitedSite(runner, host, port, limit, ssl_context=ssl_context)
    await site.start()
    return site


def body_deadline(timeout_s: float) -> Middleware:
    """Middleware: a request body not fully received `timeout_s` after its headers fails the read with 408, and
    the connection is closed (a slowloris: a large Content-Length, then a byte now and then). 0: no deadline."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not timeout_s or not request.body_exists:
            return await handler(request)
        content = request.content
        expired: list[bool] = []

        def expire() -> None:
            if not content.is_eof():
                expired.append(True)
                log.info("%s %s: request body not received within %.0f s", request.method, request.path, timeout_s)
                content.set_exception(web.HTTPRequestTimeout(text="request body not received in time"))

        timer = asyncio.get_running_loop().call_later(timeout_s, expire)
        content.on_eof(timer.cancel)
        try:
            response = await handler(request)
        finally:
            timer.cancel()
        if expired:
            response.force_close()
        return response

    return middleware

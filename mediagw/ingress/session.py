"""What every WebSocket media ingress does around its protocol, in one place so that no adapter forgets a piece.

Admission (the adapter's credential check, then refusal while the gateway drains), registration for graceful
shutdown (`Services.sessions`), the open-streams gauge, the idle deadline, containment of unexpected errors and,
however the socket ends, detach (the adapter flushes what it received). An adapter gives `serve` its `Ingress`
description, a credential check and a factory of its `MediaSocket`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from aiohttp import web

from mediagw.ingress.idle import IdleWatch
from mediagw.services import Services

log = logging.getLogger(__name__)
Admitted = TypeVar("Admitted")


@dataclass(frozen=True)
class Refusal:
    """Why a connection is not served: as HTTP `status` before the upgrade, or WebSocket `close_code` after it."""

    reason: str
    status: int = 401
    close_code: int = 1008


SHUTTING_DOWN = Refusal("Service shutting down", status=503, close_code=1001)


class Refused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.reason)
        self.refusal = refusal


@dataclass(frozen=True)
class Ingress:
    namespace: str  # the calls' namespace, and the open-streams gauge's label
    label: str  # prefix of the error metric's labels ("twilio-1008", "audiohook-401")
    idle_timeout_s: float
    max_message_bytes: int
    refuse_before_upgrade: bool = False  # True: refusals are HTTP answers; False: upgrade, then close with a code
    refusal_delay_s: float = 0.0  # every refusal waits as long, so timing does not tell which check failed


class MediaSocket(Protocol):
    """An adapter's side of one admitted socket."""

    async def receive(self) -> None:
        """Serve the socket until it ends (touching the idle watch on every message)."""

    async def close_idle(self) -> None:
        """No message for the idle timeout: tell the client as the protocol can, and close."""

    async def close_for_shutdown(self) -> None:
        """Gateway shutdown: tell the client as the protocol can and close, well within the shutdown timeout."""

    async def close_internal_error(self) -> None:
        """An unexpected error: close with the protocol's internal error, no details."""

    async def detach(self) -> None:
        """The socket ended, however: flush what was received (the utterances in progress are transcribed)."""


async def serve(
    request: web.Request,
    services: Services,
    ingress: Ingress,
    admit: Callable[[], Awaitable[Admitted]],
    open_socket: Callable[[web.WebSocketResponse, Admitted, IdleWatch], MediaSocket],
) -> web.StreamResponse:
    """Admit the request (`admit` raises `Refused`), upgrade it and serve it as a registered session."""
    try:
        admitted = await admit()
        if services.draining:
            raise Refused(SHUTTING_DOWN)
    except Refused as refused:
        return await _refuse(request, services, ingress, refused.refusal)
    ws = web.WebSocketResponse(max_msg_size=ingress.max_message_bytes)
    await ws.prepare(request)
    idle = IdleWatch(ingress.idle_timeout_s)
    await RegisteredSession(services, ingress, open_socket(ws, admitted, idle), idle).run()
    return ws


async def _refuse(request: web.Request, services: Services, ingress: Ingress, refusal: Refusal) -> web.StreamResponse:
    code = refusal.status if ingress.refuse_before_upgrade else refusal.close_code
    log.warning("%s connection refused (%d): %s", ingress.label, code, refusal.reason, extra={"ingress": ingress.label})
    services.metrics.errors.labels(f"{ingress.label}-{code}").inc()
    if ingress.refusal_delay_s:
        await asyncio.sleep(ingress.refusal_delay_s)
    if ingress.refuse_before_upgrade:
        headers = {"Retry-After": "5"} if refusal.status == 503 else None
        return web.json_response({"error": refusal.reason}, status=refusal.status, headers=headers)
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.close(code=refusal.close_code, message=refusal.reason.encode())
    return ws


class RegisteredSession:
    """One admitted socket as `Services.sessions` sees it: shut down on demand, closed once detached."""

    def __init__(self, services: Services, ingress: Ingress, socket: MediaSocket, idle: IdleWatch) -> None:
        self._services = services
        self._ingress = ingress
        self._socket = socket
        self._idle = idle
        self._closing: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()

    async def run(self) -> None:
        gauge = self._services.metrics.open_streams.labels(self._ingress.namespace)
        self._services.sessions.add(self)
        gauge.inc()
        watchdog = asyncio.create_task(self._close_when_idle())
        try:
            await self._socket.receive()
        except Exception:  # a bug must end this socket only, and tell its client nothing of it
            log.exception("%s socket failed", self._ingress.label, extra={"ingress": self._ingress.label})
            self._services.metrics.errors.labels(f"{self._ingress.label}-internal").inc()
            with contextlib.suppress(Exception):
                await self._socket.close_internal_error()
        finally:
            watchdog.cancel()
            gauge.dec()
            self._services.sessions.discard(self)
            await self._detach()

    async def _detach(self) -> None:
        try:
            await self._socket.detach()
        except Exception:
            log.exception("%s detach failed", self._ingress.label, extra={"ingress": self._ingress.label})
        finally:
            self._closed.set()

    async def _close_when_idle(self) -> None:
        await self._idle.expired()
        await self._socket.close_idle()

    def shutdown(self) -> None:
        if self._closing is None and not self._closed.is_set():
            self._closing = asyncio.create_task(self._socket.close_for_shutdown())

    async def wait_closed(self) -> None:
        await self._closed.wait()

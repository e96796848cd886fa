"""aiohttp transport for Genesys AudioHook: the upgrade is authenticated, then protocol events go onto the call."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import numpy as np
from aiohttp import WSMsgType, web

from mediagw.audio.g711 import ulaw_to_pcm
from mediagw.calls import Call
from mediagw.ingress.audiohook.auth import AuthError, ReplayCache, verify_upgrade
from mediagw.ingress.audiohook.protocol import (
    AudioHookSession,
    AudioReceived,
    ClientError,
    Discarded,
    ProtocolFailed,
    Resumed,
    Send,
    SessionClosed,
    SessionOpened,
)
from mediagw.ingress.idle import IdleWatch
from mediagw.services import Services

log = logging.getLogger(__name__)
NAMESPACE = "genesysaudiohook"
ROLE_OF_CHANNEL = {"external": "customer", "internal": "agent"}
REFUSAL_DELAY_S = 0.5  # every refused upgrade waits as long, so timing does not tell which check failed
CLOSE_AFTER_FAILURE_S = 5.0  # after our disconnect, the client's close is awaited this long
MAX_MESSAGE_BYTES = 1 << 20


async def handle_audiohook(request: web.Request, services: Services, replay: ReplayCache) -> web.StreamResponse:
    config = services.config.audiohook
    keys = {entry.key: entry.client_secret or None for entry in config.api_keys}
    try:
        credentials = verify_upgrade(
            request.method,
            request.path_qs,
            request.headers,
            api_keys=keys,
            now=time.time(),
            replay=replay,
            max_skew_s=config.max_clock_skew_s,
        )
    except AuthError as error:
        log.warning("audiohook upgrade refused (%d): %s", error.status, error.reason, extra={"ingress": NAMESPACE})
        services.metrics.errors.labels(f"audiohook-{error.status}").inc()
        await asyncio.sleep(REFUSAL_DELAY_S)
        return web.json_response({"error": error.reason}, status=error.status)
    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES)
    await ws.prepare(request)
    loop = asyncio.get_running_loop()
    stream = AudioHookStream(
        ws,
        services,
        AudioHookSession(loop.time(), session_id=credentials.session_id, organization_id=credentials.organization_id),
    )
    log.info(
        "audiohook session %s connected (correlation %s)",
        credentials.session_id,
        credentials.correlation_id,
        extra={"ingress": NAMESPACE, "organization_id": credentials.organization_id},
    )
    services.sessions.add(stream)
    services.metrics.open_streams.labels(NAMESPACE).inc()
    try:
        await stream.run()
    finally:
        services.metrics.open_streams.labels(NAMESPACE).dec()
        services.sessions.discard(stream)
        await stream.detach()
    return ws


class AudioHookStream:
    """One AudioHook WebSocket: protocol events onto the call registered under the conversation id."""

    def __init__(self, ws: web.WebSocketResponse, services: Services, session: AudioHookSession) -> None:
        self._ws = ws
        self._services = services
        self._session = session
        self._call: Call | None = None
        self._roles: tuple[str, ...] = ()
        self._log: dict[str, object] = {"ingress": NAMESPACE}
        self._closed = asyncio.Event()
        self._idle = IdleWatch(services.config.audiohook.idle_timeout_s)

    async def run(self) -> None:
        watchdog = asyncio.create_task(self._close_when_idle())
        try:
            await self._receive()
        finally:
            watchdog.cancel()
            self._closed.set()

    async def _receive(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            message = await self._ws.receive()
            now = loop.time()
            self._idle.touch(now)
            if message.type is WSMsgType.TEXT:
                events = self._session.receive_text(message.data, now)
            elif message.type is WSMsgType.BINARY:
                events = self._session.receive_binary(message.data, now)
            else:
                return
            for event in events:
                if not await self._handle(event):
                    return

    async def _handle(self, event: object) -> bool:
        """False ends the socket."""
        if isinstance(event, AudioReceived):
            self._audio(event)
        elif isinstance(event, Send):
            await self._ws.send_str(event.text)
        elif isinstance(event, SessionOpened):
            self._opened(event)
        elif isinstance(event, Discarded):
            self._silence(event.samples)
        elif isinstance(event, Resumed):
            self._silence(event.paused_samples)  # paused time passed on the call: utterance times stay true
        elif isinstance(event, ClientError):
            log.warning("audiohook client error %d: %s", event.code, event.message[:200], extra=self._log)
        elif isinstance(event, SessionClosed):
            log.info("audiohook session closed (%s)", event.reason, extra=self._log)
            await self._ws.close()
            return False
        elif isinstance(event, ProtocolFailed):
            log.warning("audiohook protocol error %d: %s", event.code, event.reason, extra=self._log)
            self._services.metrics.errors.labels(f"audiohook-{event.code}").inc()
            asyncio.get_running_loop().call_later(CLOSE_AFTER_FAILURE_S, self._close_soon)
        return True

    def _opened(self, event: SessionOpened) -> None:
        self._roles = tuple(ROLE_OF_CHANNEL[channel] for channel in event.channels)
        self._call = self._services.attach_media(NAMESPACE, event.conversation_id)
        self._log.update(call_id=event.conversation_id, stream_id=event.session_id)
        log.info("audiohook session opened channels=%s", ",".join(event.channels), extra=self._log)

    def _audio(self, event: AudioReceived) -> None:
        call = self._call
        if call is None:
            return
        for role, ulaw in (("customer", event.external), ("agent", event.internal)):
            if ulaw and (transcription := call.count(role, len(ulaw))):
                transcription.push(ulaw_to_pcm(ulaw))

    def _silence(self, samples: int) -> None:
        """Discarded audio: the clock moves on, as silence, so later utterance times stay true."""
        if self._call is None or samples <= 0:
            return
        for role in self._roles:
            if transcription := self._call.count(role, samples):
                transcription.push(np.zeros(samples, dtype=np.int16))

    def _close_soon(self) -> None:
        if not self._ws.closed:
            asyncio.ensure_future(self._ws.close())  # noqa: RUF006 - closing; the handler's loop then ends

    async def _close_when_idle(self) -> None:
        await self._idle.expired()
        log.warning("audiohook session idle for %.0f s: disconnected", self._idle.idle_s, extra=self._log)
        await self._disconnect("error", "idle timeout")

    async def _disconnect(self, reason: str, info: str) -> None:
        with contextlib.suppress(RuntimeError, ConnectionError):  # already closing: closed below either way
            await self._ws.send_str(self._session.disconnect(reason, info))
        await asyncio.sleep(0)
        await self._ws.close()

    def shutdown(self) -> None:
        """Gateway shutdown: the client is told (disconnect "completed") and the socket closes; detach flushes."""
        asyncio.ensure_future(self._disconnect("completed", "gateway shutting down"))  # noqa: RUF006

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def detach(self) -> None:
        """Close, drop or failure alike: the utterance in progress is transcribed."""
        if self._call is not None:
            await self._services.detach_media(self._call, self._roles)

"""aiohttp transport for Genesys AudioHook: the upgrade is authenticated, then protocol events go onto the call."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiohttp import WSMsgType, web

from mediagw.audio.g711 import ulaw_to_pcm
from mediagw.config import AudioHookConfig
from mediagw.core.frames import Frame
from mediagw.core.node import MediaHandle
from mediagw.ingress.audiohook.auth import AuthError, Credentials, verify_upgrade
from mediagw.ingress.audiohook.connector import ConnectorSettings, ConnectorTranscription
from mediagw.ingress.audiohook.params import NAMESPACE
from mediagw.ingress.audiohook.protocol import (
    AudioHookSession,
    AudioReceived,
    ClientError,
    Discarded,
    LanguageUpdated,
    Paused,
    ProtocolFailed,
    Resumed,
    Send,
    SessionClosed,
    SessionOpened,
    State,
)
from mediagw.ingress.idle import IdleWatch
from mediagw.ingress.pacer import MediaPacer
from mediagw.ingress.session import Ingress, Refusal, Refused, serve
from mediagw.services import Services
from mediagw.shared.nonces import Nonces

log = logging.getLogger(__name__)
ROLE_OF_CHANNEL = {"external": "customer", "internal": "agent"}
REFUSAL_DELAY_S = 0.5  # every refused upgrade waits as long, so timing does not tell which check failed
CLOSE_TIMEOUT_S = 5.0  # after our disconnect, the client's close is awaited this long before the socket is closed
MAX_MESSAGE_BYTES = 1 << 20


async def handle_audiohook(request: web.Request, services: Services, nonces: Nonces) -> web.StreamResponse:
    config = services.config.audiohook
    ingress = Ingress(NAMESPACE, "audiohook", config.idle_timeout_s, MAX_MESSAGE_BYTES, True, REFUSAL_DELAY_S)
    keys = {entry.key: entry.client_secret or None for entry in config.api_keys}

    async def admit() -> Credentials:
        now = time.time()
        try:
            credentials = verify_upgrade(
                request.method,
                request.path_qs,
                request.headers,
                api_keys=keys,
                now=now,
                replay=nonces.local,
                max_skew_s=config.max_clock_skew_s,
            )
        except AuthError as error:
            raise Refused(Refusal(error.reason, status=error.status)) from None
        signed = credentials.signed
        if signed and not await nonces.claim(credentials.api_key, credentials.nonce, credentials.nonce_until, now):
            raise Refused(Refusal("signature nonce was used before", status=401))
        return credentials

    def open_socket(ws: web.WebSocketResponse, credentials: Credentials, idle: IdleWatch) -> AudioHookStream:
        log.info(
            "audiohook session %s connected (correlation %s)",
            credentials.session_id,
            credentials.correlation_id,
            extra={"ingress": NAMESPACE, "organization_id": credentials.organization_id},
        )
        connector = connector_settings(config, request.path, credentials.api_key)
        session = AudioHookSession(
            asyncio.get_running_loop().time(),
            session_id=credentials.session_id,
            organization_id=credentials.organization_id,
            supported_languages=services.language_tags,
            connector=connector is not None,
        )
        return AudioHookStream(ws, services, session, idle, connector)

    return await serve(request, services, ingress, admit, open_socket)


def connector_settings(config: AudioHookConfig, path: str, api_key: str) -> ConnectorSettings | None:
    """A Transcription Connector session (its path, or its key says so) gets its key's settings; Monitor: None."""
    entry = next(entry for entry in config.api_keys if entry.key == api_key)
    if not entry.connector and path.rstrip("/") != config.connector_path.rstrip("/"):
        return None
    return ConnectorSettings(entry.redaction_output, entry.smart_formatting, entry.words)


class AudioHookStream:
    """One AudioHook socket (a `MediaSocket`): protocol events onto the call registered under the conversation id.

    A `disconnect` we send (protocol error, idle, shutdown) starts the close transaction: the client's `close` is
    answered `closed` and only then is the socket closed, or after `CLOSE_TIMEOUT_S` without it.
    """

    def __init__(
        self,
        ws: web.WebSocketResponse,
        services: Services,
        session: AudioHookSession,
        idle: IdleWatch,
        connector: ConnectorSettings | None = None,
    ):
        self._ws = ws
        self._services = services
        self._session = session
        self._idle = idle
        self._media: MediaHandle | None = None
        self._roles: tuple[str, ...] = ()
        self._log: dict[str, object] = {"ingress": NAMESPACE}
        self._ended = asyncio.Event()
        self._closer: asyncio.Task[None] | None = None
        self._connector_settings = connector
        self._connector: ConnectorTranscription | None = None
        self._pacer = MediaPacer(services.config.limits.realtime_burst_s, asyncio.get_running_loop().time())

    async def receive(self) -> None:
        try:
            await self._receive()
        finally:
            self._ended.set()

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
            await self._pacer.pace(len(event.external or event.internal or b""))  # real time + burst at most
        elif isinstance(event, Send):
            await self._ws.send_str(event.text)
        elif isinstance(event, SessionOpened):
            await self._opened(event)
        elif isinstance(event, Discarded | Resumed):
            self._skipped(event)
            if self._connector is not None and isinstance(event, Resumed):
                self._connector.resume()
        elif isinstance(event, Paused):
            if self._connector is not None:
                self._connector.pause()
        elif isinstance(event, LanguageUpdated):
            if self._connector is not None:
                self._connector.update(event.language)  # before the running streams take the new language
            self._language(event.language)
        elif isinstance(event, ClientError):
            log.warning("audiohook client error %d: %s", event.code, event.message[:200], extra=self._log)
        elif isinstance(event, SessionClosed):
            log.info("audiohook session closed (%s)", event.reason, extra=self._log)
            if not event.answered:  # a connector: its last events, then `closed`
                await self._close_connector()
            await self._ws.close()
            return False
        elif isinstance(event, ProtocolFailed):
            log.warning("audiohook protocol error %d: %s", event.code, event.reason, extra=self._log)
            self._services.metrics.errors.labels(f"audiohook-{event.code}").inc()
            self._closer = self._closer or asyncio.create_task(self._close_after_transaction())
        return True

    async def _opened(self, event: SessionOpened) -> None:
        self._roles = tuple(ROLE_OF_CHANNEL[channel] for channel in event.channels)
        self._media = await self._services.media.attach(NAMESPACE, event.conversation_id, self._roles, event.position)
        self._log.update(call_id=event.conversation_id, stream_id=event.session_id)
        kind = "monitor" if self._connector_settings is None else "connector"
        log.info("audiohook %s session opened channels=%s", kind, ",".join(event.channels), extra=self._log)
        if event.language:
            self._language(event.language)
        if self._connector_settings is not None:
            send = self._ws.send_str
            self._connector = ConnectorTranscription(
                self._services, self._media, self._session, event, self._connector_settings, send, self._log
            )
            self._connector.open()

    async def _close_connector(self) -> None:
        if self._connector is not None:
            await self._connector.close()
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self._ws.send_str(self._session.closed())

    def _language(self, tag: str) -> None:
        if self._media is not None:
            self._media.media_language(tag, self._log)

    def _audio(self, event: AudioReceived) -> None:
        media = self._media
        if media is None:
            return
        for role, ulaw in (("customer", event.external), ("agent", event.internal)):
            if ulaw:
                media.feed(role, Frame.encoded(event.position, ulaw, ulaw_to_pcm))

    def _skipped(self, event: Discarded | Resumed) -> None:
        """Paused or discarded audio keeps its place on the call's clock, as silence: later times stay true."""
        samples = event.samples if isinstance(event, Discarded) else event.paused_samples
        if event.skew:
            log.info("audiohook client's start is %+d samples from ours", event.skew, extra=self._log)
        if self._media is None or samples <= 0:
            return
        for role in self._roles:
            self._media.feed(role, Frame.silence(event.position, samples))

    async def _disconnect(self, reason: str, info: str) -> None:
        """Ask the client to close (`disconnect`), then let the close transaction end the socket."""
        if self._session.state in (State.CONNECTED, State.OPEN):
            with contextlib.suppress(ConnectionError, RuntimeError):  # already closing: closed below either way
                await self._ws.send_str(self._session.disconnect(reason, info))
        await self._close_after_transaction()

    async def _close_after_transaction(self) -> None:
        """The client's `close` is answered by the receive loop, which then closes; without it, close anyway."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ended.wait(), CLOSE_TIMEOUT_S)
        if not self._ws.closed:
            log.warning("audiohook client sent no close within %.0f s", CLOSE_TIMEOUT_S, extra=self._log)
            await self._ws.close()

    async def close_idle(self) -> None:
        log.warning("audiohook session idle for %.0f s: disconnected", self._idle.idle_s, extra=self._log)
        await self._disconnect("error", "idle timeout")

    async def close_for_shutdown(self) -> None:
        """The client is told (disconnect "completed") and closes; detach then flushes."""
        await self._disconnect("completed", "gateway shutting down")

    async def close_internal_error(self) -> None:
        if self._session.state in (State.CONNECTED, State.OPEN):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self._ws.send_str(self._session.disconnect("error", "internal error"))
        await self._ws.close()

    async def detach(self) -> None:
        """Close, drop or failure alike: the utterance in progress is transcribed."""
        if self._closer is not None:
            self._closer.cancel()
        if self._media is not None:
            await self._media.detach(self._roles)

"""aiohttp transport for Twilio Media Streams: token check, then protocol events onto the call's media (core/)."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import WSMsgType, web

from mediagw.audio.g711 import ulaw_to_pcm
from mediagw.core.frames import Frame
from mediagw.core.node import MediaHandle
from mediagw.ingress.idle import IdleWatch
from mediagw.ingress.pacer import MediaPacer
from mediagw.ingress.session import Ingress, Refusal, Refused, serve
from mediagw.ingress.twilio.params import DEFAULT_PARAMS, NAMESPACE, TwilioParams
from mediagw.ingress.twilio.protocol import (
    AudioReceived,
    CloseCode,
    Dropped,
    DtmfReceived,
    ProtocolFailed,
    StreamStarted,
    StreamStopped,
    TwilioStream,
)
from mediagw.services import Services
from mediagw.tokens import TWILIO, InvalidToken, StreamClaims

log = logging.getLogger(__name__)
INVALID_TOKEN = Refusal("Invalid or expired access token", close_code=CloseCode.POLICY)


async def handle_media_stream(request: web.Request, services: Services) -> web.StreamResponse:
    config = services.config.twilio
    ingress = Ingress(NAMESPACE, "twilio", config.idle_timeout_s, config.max_message_bytes)

    async def admit() -> StreamClaims:
        try:
            return services.signer.verify(request.query.get("token", ""), audience=TWILIO)
        except InvalidToken as error:
            log.info("twilio token refused: %s", error, extra={"ingress": NAMESPACE})
            raise Refused(INVALID_TOKEN) from None

    return await serve(request, services, ingress, admit, lambda ws, _, idle: TwilioSession(ws, services, idle))


class TwilioSession:
    """One Media Streams socket (a `MediaSocket`): protocol events onto the call registered under the Call SID."""

    def __init__(self, ws: web.WebSocketResponse, services: Services, idle: IdleWatch) -> None:
        self._ws = ws
        self._services = services
        self._stream = TwilioStream()
        self._media: MediaHandle | None = None
        self._log: dict[str, object] = {"ingress": NAMESPACE}
        self._idle = idle
        self._pacers: dict[str, MediaPacer] = {}  # per track: each is held to real time plus the burst

    async def receive(self) -> None:
        loop = asyncio.get_running_loop()
        received = 0
        while True:
            message = await self._ws.receive()
            self._idle.touch(loop.time())
            received += 1
            if message.type is WSMsgType.BINARY:
                await self._fail(ProtocolFailed(CloseCode.UNSUPPORTED_DATA, "binary frames are not Media Streams"))
                return
            if message.type is not WSMsgType.TEXT:
                if self._media is not None and not self._stream.stopped:
                    log.warning("twilio stream dropped without stop (%s)", message.type.name, extra=self._log)
                return
            for event in self._stream.receive(message.data):
                if not await self._handle(event):
                    return
            if received % 16 == 0:
                await asyncio.sleep(0)  # a burst of buffered messages must not hold the loop

    async def _handle(self, event: object) -> bool:
        """False ends the session."""
        if isinstance(event, AudioReceived):
            if self._media is not None:
                self._audio(self._media, event)
            await self._pace(event)
        elif isinstance(event, StreamStarted):
            roles = tuple(role for t in event.tracks if (role := self._params(None).role_of(t)) is not None)
            self._media = await self._services.media.attach(NAMESPACE, event.call_sid, roles)
            self._log.update(call_id=event.call_sid, stream_id=event.stream_sid)
            log.info("twilio stream started tracks=%s", ",".join(event.tracks), extra=self._log)
            if language := event.custom_parameters.get("language"):
                self._media.media_language(language, self._log)
        elif isinstance(event, DtmfReceived):
            log.info("twilio dtmf on %s", event.track, extra=self._log)  # the digit itself is never logged
        elif isinstance(event, Dropped):
            self._services.metrics.errors.labels(f"twilio-{event.reason.replace(' ', '-')}").inc()
        elif isinstance(event, StreamStopped):
            log.info("twilio stream stopped", extra=self._log)
            await self._ws.close()
            return False
        elif isinstance(event, ProtocolFailed):
            await self._fail(event)
            return False
        return True

    @staticmethod
    def _params(media: MediaHandle | None) -> TwilioParams:
        params = media.params if media is not None else None
        return params if isinstance(params, TwilioParams) else DEFAULT_PARAMS  # trackMap: the start's, if any

    def _audio(self, media: MediaHandle, event: AudioReceived) -> None:
        """The track's audio at its place: `filled` samples after the last (a gap, which the core fills)."""
        role = self._params(media).roles.get(event.track)
        if role is not None:
            ulaw = event.ulaw
            media.feed(role, Frame(media.position(role) + event.filled, len(ulaw), ulaw, ulaw_to_pcm))

    async def _pace(self, event: AudioReceived) -> None:
        """Gap fills count too: a timestamp jump is audio the pipeline takes, and a real one took wall time."""
        pacer = self._pacers.get(event.track)
        if pacer is None:
            burst_s = self._services.config.limits.realtime_burst_s
            pacer = self._pacers[event.track] = MediaPacer(burst_s, asyncio.get_running_loop().time())
        await pacer.pace(event.sample_count)

    async def _fail(self, failure: ProtocolFailed) -> None:
        log.warning("twilio stream closed: %s", failure.reason, extra={**self._log, "code": int(failure.code)})
        self._services.metrics.errors.labels(str(int(failure.code))).inc()
        await self._ws.close(code=failure.code, message=failure.reason[:120].encode())

    async def close_idle(self) -> None:
        log.warning("twilio stream idle for %.0f s: closed", self._idle.idle_s, extra=self._log)
        await self._ws.close(code=1001, message=b"idle timeout")

    async def close_for_shutdown(self) -> None:
        """Twilio has no message for it: the socket closes (1001) and detach transcribes what was received."""
        log.info("twilio stream closed: gateway shutting down", extra=self._log)
        await self._ws.close(code=1001, message=b"Service shutting down")

    async def close_internal_error(self) -> None:
        await self._ws.close(code=CloseCode.INTERNAL, message=b"internal error")

    async def detach(self) -> None:
        """Stop, drop, shutdown or failure alike: the utterance in progress on this stream's tracks is transcribed."""
        if self._media is None or self._stream.started is None:
            return
        params = self._params(self._media)
        roles = tuple(role for t in self._stream.started.tracks if (role := params.role_of(t)) is not None)
        await self._media.detach(roles)

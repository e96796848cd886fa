"""aiohttp transport of the direct WebSocket API: moves frames between the socket, the protocol and the pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass

from aiohttp import WSMsgType, web

from mediagw.audio.l16 import L16Decoder
from mediagw.core.adapters import Namespace
from mediagw.core.frames import Frame
from mediagw.core.node import MediaHandle
from mediagw.core.record import Participant, TranscriptionParams
from mediagw.ingress.pacer import MediaPacer
from mediagw.ingress.websocket_api import messages
from mediagw.ingress.websocket_api.protocol import (
    AudioDropped,
    AudioReceived,
    DirectStreamProtocol,
    Event,
    FinishRequested,
    State,
    StreamFailed,
    StreamStarted,
    VocabularyAccepted,
    VocabularyLimits,
    VocabularyRejected,
)
from mediagw.ingress.websocket_api.status import Status
from mediagw.languages import model_language
from mediagw.outputs.messages import dump
from mediagw.outputs.store import StreamRecord
from mediagw.pipeline import StreamPipeline, UtteranceFailed
from mediagw.services import Services
from mediagw.streams import StreamSpec
from mediagw.tokens import InvalidToken, StreamClaims
from mediagw.transcripts import Transcript
from mediagw.vocabulary import Vocabulary

log = logging.getLogger(__name__)
INGRESS = "websocket"
NAMESPACE = "websocket"  # conversations of the direct API, apart from the media gateway namespaces


def direct_namespace() -> Namespace:
    """Each direct stream is its own call (named by its stream id), started by its own startStream, never by
    start/stop-streaming, and forgotten when its socket goes."""
    return Namespace(NAMESPACE, lambda _: False, controlled=False, resumable=False)


@dataclass(frozen=True)
class End:
    """How a stream ends: the status of its finalResponse (None: the client is gone) and whether to flush."""

    status: Status | None
    flush: bool


async def handle_stream(request: web.Request, services: Services) -> web.WebSocketResponse:
    config = services.config.websocket_api
    ws = web.WebSocketResponse(max_msg_size=config.max_frame_bytes, autoping=True)
    await ws.prepare(request)
    try:
        claims = services.signer.verify(request.query.get("token", ""))
    except InvalidToken as error:
        log.warning("stream refused: %s", error, extra={"code": 1008, "ingress": INGRESS})
        services.metrics.errors.labels("1008").inc()
        await ws.close(code=1008, message=Status.INVALID_TOKEN.description.encode())
        return ws
    if services.shutting_down:
        await ws.close(code=1001, message=b"Service shutting down")
        return ws
    session = DirectStreamSession(ws, services, claims)
    services.sessions.add(session)
    services.metrics.open_streams.labels(INGRESS).inc()
    try:
        await session.run()
    finally:
        services.sessions.discard(session)
        services.metrics.open_streams.labels(INGRESS).dec()
    return ws


class DirectStreamSession:
    def __init__(self, ws: web.WebSocketResponse, services: Services, claims: StreamClaims) -> None:
        self._ws = ws
        self._services = services
        self._config = services.config.websocket_api
        self._claims = claims
        self._protocol = DirectStreamProtocol(
            services.languages,
            always_redact=services.config.redaction.always_redact,
            limits=VocabularyLimits(
                self._config.max_vocabulary_phrases, self._config.max_phrase_chars, self._config.max_sounds_like
            ),
        )
        self._decoder = L16Decoder()
        self._vocabulary = Vocabulary(base=services.custom_vocabulary)
        self._pipeline: StreamPipeline | None = None
        self._media: MediaHandle | None = None
        self._role = ""
        self._stream_id: str | None = None
        self._conversation_id = claims.external_id
        self._sender: dict[str, str] = {}
        self._audio_bytes = 0
        self._started_at = 0.0
        self._opened_at = asyncio.get_running_loop().time()
        self._pacer = MediaPacer(services.config.limits.realtime_burst_s, self._opened_at)
        self._finisher: asyncio.Task[None] | None = None
        self._receiver: asyncio.Task[End] | None = None
        self._shutdown_requested = False
        self._socket_outputs = True
        self._final_sent = False
        self._closed = asyncio.Event()
        self._log: dict[str, object] = {"call_id": claims.external_id or "-", "ingress": INGRESS}

    async def run(self) -> None:
        self._receiver = asyncio.create_task(self._receive_until_end())
        try:
            end = await self._receiver
        except asyncio.CancelledError:
            if not (self._shutdown_requested and self._receiver.cancelled()):
                raise
            end = End(Status.SHUTTING_DOWN, flush=True)
        except Exception:
            log.exception("stream failed", extra=self._log)
            end = End(Status.INTERNAL_ERROR, flush=False)
        try:
            await self._end(end)
        finally:
            self._closed.set()

    def shutdown(self) -> None:
        self._shutdown_requested = True
        if self._finisher is None and self._receiver is not None:
            self._receiver.cancel()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def _receive_until_end(self) -> End:
        loop = asyncio.get_running_loop()
        while True:
            timeout = self._receive_timeout(loop.time())
            try:
                message = await self._ws.receive(timeout=timeout)
            except TimeoutError:
                return self._timed_out(loop.time())
            if self._over_duration(loop.time()):  # a steady sender never lets receive() time out
                return self._timed_out(loop.time())
            if message.type is WSMsgType.TEXT:
                events = self._protocol.receive_text(message.data)
            elif message.type is WSMsgType.BINARY:
                events = self._protocol.receive_binary(message.data)
            else:
                return self._socket_gone(message.type, message.extra)
            for event in events:
                end = await self._handle(event)
                if end is not None:
                    return end
            # receive() does not suspend while frames are buffered: a client sending faster than real time
            # would otherwise hold the loop from every other stream.
            await asyncio.sleep(0)

    def _receive_timeout(self, now: float) -> float | None:
        if self._protocol.state is State.FINISHING:
            return None
        idle = self._config.idle_timeout_s
        if self._protocol.state is State.STREAMING:
            return max(0.0, min(idle, self._started_at + self._config.max_duration_s - now))
        return idle

    def _over_duration(self, now: float) -> bool:
        return self._protocol.state is State.STREAMING and now - self._started_at >= self._config.max_duration_s

    def _timed_out(self, now: float) -> End:
        status = Status.DURATION_LIMIT if self._over_duration(now) else Status.IDLE_TIMEOUT
        self._protocol.fail(status, "timeout")
        log.info("stream ended: %s", status.description, extra={**self._log, "code": int(status)})
        return End(status, flush=True)

    def _socket_gone(self, kind: WSMsgType, extra: object) -> End:
        if self._finisher is None and self._protocol.state is not State.CLOSED:
            log.warning("client went away mid-stream (%s %s)", kind.name, extra, extra=self._log)
        self._protocol.close()
        return End(None, flush=False)

    async def _handle(self, event: Event) -> End | None:
        if isinstance(event, AudioReceived):
            self._audio_bytes += len(event.data)
            if self._media is not None:
                media, role = self._media, self._role
                media.feed(role, Frame.of_pcm(media.position(role), self._decoder.decode(event.data)))
            await self._pacer.pace(len(event.data) // 2)  # no faster than real time + burst: reading waits
        elif isinstance(event, StreamStarted):
            return await self._start(event)
        elif isinstance(event, VocabularyAccepted):
            self._vocabulary.add(list(event.phrases))
            await self._ws.send_str(messages.vocabulary_response(Status.OK))
        elif isinstance(event, VocabularyRejected):
            log.info("vocabulary rejected: %s", event.detail, extra={**self._log, "code": int(event.status)})
            await self._ws.send_str(messages.vocabulary_response(event.status))
        elif isinstance(event, FinishRequested):
            self._finisher = asyncio.create_task(self._end(End(Status.OK, flush=True)))
        elif isinstance(event, StreamFailed):
            log.warning("stream rejected: %s", event.detail, extra={**self._log, "code": int(event.status)})
            return await self._preempt(End(event.status, flush=False))
        elif not isinstance(event, AudioDropped):
            raise AssertionError(f"unhandled event {event!r}")
        return None

    async def _start(self, event: StreamStarted) -> End | None:
        if self._services.draining:  # this node is stopping: the client streams to another one
            log.info("stream refused: the gateway is shutting down", extra={**self._log, "code": 5001})
            await self._ws.send_str(messages.start_response(None, Status.SHUTTING_DOWN))
            return End(Status.SHUTTING_DOWN, flush=False)
        if self._services.overloaded():  # ASR is too far behind for another stream: no instance can take it
            log.warning("stream refused: ASR backlog over asr.max_backlog", extra={**self._log, "code": 5002})
            await self._ws.send_str(messages.start_response(None, Status.NO_INSTANCES))
            return End(Status.NO_INSTANCES, flush=False)
        self._stream_id = str(secrets.randbits(53))
        self._conversation_id = self._claims.external_id or f"stream-{self._stream_id}"
        self._log["stream_id"] = self._stream_id
        self._started_at = asyncio.get_running_loop().time()
        params = event.params
        self._sender = {"externalId": params.external_id, "role": params.role}
        self._pipeline = self._services.pipelines.build(
            StreamSpec(
                stream_id=self._stream_id,
                ingress=INGRESS,
                context_id=self._conversation_id,
                role=params.role,
                params=TranscriptionParams(
                    params.language,
                    params.detailed_token,
                    params.audio_recording_allowed,
                    params.redaction_output,
                    params.smart_formatting,
                ),
                language=model_language(params.language),
                on_transcript=self._send_transcript,
                vocabulary=self._vocabulary,
                on_failure=self._send_failure,
            )
        )
        self._role = params.role
        self._media = await self._services.media.attach(NAMESPACE, self._stream_id, (params.role,))
        self._media.transcribe(Participant(params.role, self._stream_id, params.external_id), self._pipeline)
        if self._services.store is not None:
            await self._services.store.open_stream(
                StreamRecord(self._stream_id, NAMESPACE, self._conversation_id, params.role, params.external_id)
            )
        log.info("stream started role=%s", params.role, extra=self._log)
        await self._ws.send_str(messages.start_response(self._stream_id))
        return None

    async def _preempt(self, end: End) -> End:
        """A failure while finishStream is being processed replaces the OK finalResponse."""
        if self._finisher is not None:
            self._finisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._finisher
            self._finisher = None
        return end

    async def _end(self, end: End) -> None:
        if self._finisher is not None and asyncio.current_task() is not self._finisher:
            await self._finisher  # finishStream already ends the stream
            return
        media, self._media = self._media, None
        if media is not None:
            if end.flush:
                await media.detach()  # the stream's last utterances are transcribed
            else:
                self._socket_outputs = False
                self._services.tasks.keep(media.detach(), name=f"drain-{self._stream_id}")
        if end.status is not None:
            await self._send_final(end.status)
        self._protocol.close()
        await self._ws.close()
        log.info("stream closed", extra=self._log)

    async def _send_final(self, status: Status) -> None:
        if self._final_sent or self._ws.closed:
            return
        self._final_sent = True
        if status is not Status.OK:
            self._services.metrics.errors.labels(str(int(status))).inc()
        pipeline = self._pipeline
        left = (pipeline.untranscribed, pipeline.untranscribed_ms) if pipeline and pipeline.untranscribed else None
        summary = messages.StreamSummary(
            total_audio_bytes=self._audio_bytes,
            audio_duration_ms=pipeline.audio_ms if pipeline else 0,
            streaming_seconds=round(asyncio.get_running_loop().time() - (self._started_at or self._opened_at)),
            transcripts=pipeline.transcripts_delivered if pipeline else 0,
            untranscribed=left,
        )
        with contextlib.suppress(ConnectionError):
            await self._ws.send_str(messages.final_response(self._stream_id, status, summary))

    async def _send_failure(self, failure: UtteranceFailed) -> None:
        await self._send(messages.transcript_failed(failure))

    async def _send(self, text: str) -> None:
        if not self._socket_outputs or self._ws.closed:
            return
        try:
            await self._ws.send_str(text)
        except ConnectionError:
            self._socket_outputs = False

    async def _send_transcript(self, transcript: Transcript) -> None:
        """Store first, then the socket: a transcript that was sent is always retrievable after the call."""
        body = await self._services.delivery.store_and_publish(
            transcript, self._conversation_id, self._sender, publish=self._config.publish_webhooks
        )
        await self._send(dump(body))

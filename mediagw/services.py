"""What the routes and adapters share: configuration, ASR, metrics, token signing, open sessions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from asr.backend import AsrBackend
from asr.frame import Pcm
from asr.recognizer import Recognizer
from mediagw.calls import Call, InMemoryCallRegistry, Leg, Participant, TranscriptionParams
from mediagw.config import Config
from mediagw.languages import language_tags, supported
from mediagw.metrics import Metrics
from mediagw.outputs.messages import transcript_message, webhook_message
from mediagw.outputs.spool import SPOOLED, AudioSpool, SpoolSettings
from mediagw.outputs.store import StreamRecord, TranscriptStore
from mediagw.outputs.webhooks import WebhookPublisher
from mediagw.pipeline import StreamPipeline, TextProcessor, TranscriptionSettings, UtteranceUntranscribed
from mediagw.postprocess import TextOutput, TextStage
from mediagw.tokens import TokenSigner
from mediagw.transcripts import Transcript
from mediagw.turns import StreamTurns
from mediagw.vocabulary import Vocabulary
from redaction.settings import EntitySettings

if TYPE_CHECKING:
    from mediagw.backends.redis_asr import RedisAsr
    from mediagw.ingress.kvs.connect import ConnectReaders
    from mediagw.ingress.siprec.transport import SiprecServer

log = logging.getLogger(__name__)
CALL_LINGER_S = 900.0  # a call whose media is gone is kept this long for a new stream to resume it


class Session(Protocol):
    def shutdown(self) -> None:
        """Stop taking media, flush what was received, tell the client (5001) and close."""

    async def wait_closed(self) -> None: ...


def bind_text_stage(
    stage: TextStage, *, conversation_id: str, role: str, smart_formatting: bool, output: str, fail_safe: bool = False
) -> TextProcessor:
    """The text stage bound to a stream's settings; the pipeline adds each utterance's language."""

    def process(text: str, *, fail_safe: bool = fail_safe, language: str = "en") -> TextOutput:
        return stage.process(
            text,
            conversation_id=conversation_id,
            role=role,
            smart_formatting=smart_formatting,
            output=output,
            fail_safe=fail_safe,
            language=language,
        )

    return process


class PipelineTranscription:
    """A participant's pipeline behind the call gate's Transcription interface."""

    def __init__(self, pipeline: StreamPipeline) -> None:
        self._pipeline = pipeline

    def push(self, samples: Pcm) -> None:
        self._pipeline.push(samples)

    def set_language(self, code: str) -> None:
        self._pipeline.language = code

    async def finish(self) -> int:
        await self._pipeline.finish()
        return self._pipeline.transcripts_delivered


@dataclass
class Services:
    config: Config
    metrics: Metrics
    signer: TokenSigner
    entity_settings: EntitySettings
    text_stage: TextStage
    recognizer: Recognizer | None = None
    pool: AsrBackend | None = None  # the in-process pool, or remote_asr
    remote_asr: RedisAsr | None = None  # asr.backend redis
    store: TranscriptStore | None = None
    publisher: WebhookPublisher | None = None
    spool: AudioSpool | None = None  # what the shutdown deadline left undecoded
    siprec: SiprecServer | None = None
    connect: ConnectReaders | None = None
    sessions: set[Session] = field(default_factory=set)
    calls: InMemoryCallRegistry = field(default_factory=InMemoryCallRegistry)
    custom_vocabulary: Vocabulary = field(default_factory=Vocabulary)  # the configuration API's phrases
    _call_waiters: dict[tuple[str, str], list[asyncio.Future[Call]]] = field(default_factory=dict)
    draining: bool = False  # new work is refused (ready 503); calls in progress go on
    shutting_down: bool = False  # open streams are being ended (the last part of the shutdown timeout)
    _background: set[asyncio.Task[Any]] = field(default_factory=set)

    @property
    def languages(self) -> list[str]:
        """ISO 639-1 codes of the loaded model, or of the live remote workers (a gateway without ASR takes English,
        as the bundled model)."""
        if self.remote_asr is not None:
            return self.remote_asr.languages
        return self.recognizer.languages if self.recognizer is not None else ["en"]

    @property
    def language_tags(self) -> tuple[str, ...]:
        """The model's languages as clients name them (en-US, es-US...)."""
        return language_tags(self.languages)

    def media_language(self, call: Call, tag: str, log_extra: dict[str, object]) -> None:
        """The language a call's media names (AudioHook open/update, a Twilio <Parameter name="language">):
        transcription follows it where start-streaming named none. One the model cannot do is refused when
        transcription starts (400-202); mid-call the streams keep theirs, logged and counted as 4050, never a
        silent decode of one language as another."""
        if not supported(tag, self.languages):
            log.warning("media language %r is not supported by the model", tag[:20], extra=log_extra)
            self.metrics.errors.labels("4050").inc()
            if call.transcribing:
                return
        if call.media_language_changed(tag):
            log.info("media language %s", tag[:20], extra=log_extra)

    def attach_media(self, namespace: str, guid: str) -> Call:
        """An ingress adapter's media for a call connected: the call is known from now on."""
        call = self.calls.get(namespace, guid)
        if call is None:
            call = Call(namespace, guid)
            self.calls.add(call)
        call.media_sources += 1
        for waiter in self._call_waiters.pop((namespace, guid), []):
            if not waiter.done():
                waiter.set_result(call)
        return call

    async def detach_media(self, call: Call, roles: tuple[str, ...]) -> None:
        """That media went away: flush what it said; the call stays known for a while so a new stream can
        resume it (the reference's "Handling Failures"), then it is forgotten."""
        call.media_sources -= 1
        await call.media_ended(roles, self.now())
        if call.media_sources == 0:
            self.keep(self._forget_when_idle(call), name=f"linger-{call.guid}")

    async def _forget_when_idle(self, call: Call) -> None:
        await asyncio.sleep(CALL_LINGER_S)
        if call.media_sources == 0 and not call.transcribing and self.calls.get(call.namespace, call.guid) is call:
            self.calls.remove(call.namespace, call.guid)

    async def wait_for_call(self, namespace: str, guid: str) -> Call | None:
        """start-streaming before the media connected: wait the namespace's grace period for it."""
        grace = self.config.twilio.start_grace_s if namespace == "twilio" else 0.0
        if grace <= 0:
            return None
        waiter: asyncio.Future[Call] = asyncio.get_running_loop().create_future()
        self._call_waiters.setdefault((namespace, guid), []).append(waiter)
        try:
            return await asyncio.wait_for(waiter, grace)
        except TimeoutError:
            return None
        finally:
            waiters = self._call_waiters.get((namespace, guid), [])
            if waiter in waiters:
                waiters.remove(waiter)

    def begin_drain(self) -> None:
        """Refuse new work from now on (SIGTERM, POST /v1/drain); what is in progress goes on."""
        if not self.draining:
            log.info("draining: new streams, sessions and SIPREC INVITEs are refused")
        self.draining = True
        if self.siprec is not None:
            self.siprec.drain()

    def in_progress(self, asr: bool = True) -> int:
        """Work a drain waits for: open sockets, SIPREC recordings, KVS readers, (`asr`) utterances not yet decoded
        and streams still flushing after their client went away."""
        return (
            len(self.sessions)
            + (self.siprec.recordings if self.siprec is not None else 0)
            + (self.connect.active if self.connect is not None else 0)
            + (self.pool.unfinished if self.pool is not None and asr else 0)
            + sum(1 for task in self._background if task.get_name().startswith("drain-"))
        )

    async def keep_untranscribed(self, utterance: UtteranceUntranscribed, settings: SpoolSettings) -> None:
        """The shutdown deadline left an utterance undecoded: record it (and spool its audio where allowed)."""
        if self.spool is None:
            return
        settings = replace(settings, language=utterance.language)
        try:
            state = await self.spool.keep(utterance, settings)
        except Exception:
            log.exception("an untranscribed utterance could not be spooled", extra={"stream_id": utterance.stream_id})
            return
        self.metrics.spooled.labels("kept" if state == SPOOLED else "not-allowed").inc()

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def overloaded(self) -> bool:
        """More than asr.max_backlog utterances wait for a worker: a new stream is refused (5002)."""
        limit = self.config.asr.max_backlog
        return self.pool is not None and limit > 0 and self.pool.backlog > limit

    async def begin_transcription(
        self, call: Call, customer_id: str, agent_id: str, params: TranscriptionParams
    ) -> Leg:
        """start-streaming on a call: pipelines for both participants, their streams opened in the store."""
        leg = call.begin(customer_id, agent_id, params, self._transcription, self.now())
        if self.store is not None:
            await self.store.open_stream(
                *(
                    StreamRecord(p.stream_id, call.namespace, call.guid, p.role, p.external_id, agent_id, customer_id)
                    for p in leg.participants.values()
                )
            )
        for hook in call.on_started:
            await hook(call)
        return leg

    def _transcription(self, call: Call, participant: Participant) -> PipelineTranscription:
        params = call.params
        pipeline = StreamPipeline(
            stream_id=participant.stream_id,
            ingress=call.namespace,
            segmenter=self.config.segmenter,
            pool=self.pool,
            settings=TranscriptionSettings(params.smart_formatting, params.detailed_token),
            vocabulary=self.custom_vocabulary,
            metrics=self.metrics,
            text_stage=bind_text_stage(
                self.text_stage,
                conversation_id=f"{call.namespace}:{call.guid}",
                role=participant.role,
                smart_formatting=params.smart_formatting,
                output=params.redaction_output,
            ),
            language=call.language,
            on_transcript=partial(self._deliver, call, participant),
            origin_ms=call.media_ms(participant.role),
            turns=self.stream_turns(f"{call.namespace}:{call.guid}", participant.role),
            on_untranscribed=partial(
                self.keep_untranscribed,
                settings=SpoolSettings(
                    params.smart_formatting,
                    params.redaction_output,
                    params.detailed_token,
                    keep_audio=params.audio_recording_allowed,
                ),
            ),
        )
        return PipelineTranscription(pipeline)

    def stream_turns(self, conversation_id: str, role: str) -> StreamTurns:
        """The stream's place among its conversation's parties, so its answers are redacted after the questions."""
        limit_s = self.config.redaction.context_wait_s
        return self.text_stage.turns(conversation_id, role, limit_s, self.metrics.redaction_context_late.inc)

    async def _deliver(self, call: Call, participant: Participant, transcript: Transcript) -> None:
        sender = {"externalId": participant.external_id, "role": participant.role}
        await self.store_and_publish(transcript, call.guid, sender, publish=True)

    async def store_and_publish(
        self,
        transcript: Transcript,
        conversation_id: str,
        sender: dict[str, str],
        publish: bool,
        late: bool = False,
        spooled_id: str | None = None,
    ) -> dict[str, Any]:
        """Commit the transcript message, then hand it to the webhooks; returns the message for other outputs.
        `late`: transcribed after a restart from the spool (the message says so), `spooled_id` its spooled row."""
        body = transcript_message(transcript)
        if late:
            body["late"] = True
        if self.store is None:
            return body
        utterance_id = await self.store.save_utterance(
            transcript.stream_id,
            transcript.start_ms,
            transcript.end_ms,
            transcript.text,
            transcript.unredacted_text,
            body,
            self.publisher.target_names if publish and self.publisher is not None else (),  # queued records
            spooled_id,
        )
        if publish and self.publisher is not None:
            webhook = webhook_message(conversation_id, transcript.stream_id, sender, body)
            self.publisher.publish(utterance_id, transcript.stream_id, webhook)
        return body

    def keep(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        """Run work that outlives its connection (an abandoned stream's last utterances) to completion."""
        task = asyncio.create_task(work, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def stop_keeping(self, name: str, prefix: bool = False) -> None:
        """Cancel kept work by name (endless loops such as the retention purge, timers such as call linger)."""
        for task in list(self._background):
            if task.get_name() == name or (prefix and task.get_name().startswith(name)):
                task.cancel()

    async def drain_background(self, timeout_s: float | None = None) -> None:
        """Wait for kept work; what is still running after `timeout_s` is cancelled (a shutdown's promise)."""
        if not self._background:
            return
        _, late = await asyncio.wait(set(self._background), timeout=timeout_s)
        for task in late:
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)

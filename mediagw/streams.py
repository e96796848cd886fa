"""The one pipeline factory: a stream's settings to its running StreamPipeline, for calls and direct streams."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from functools import partial
from typing import Protocol

from asr.backend import AsrBackend
from asr.segmenter import SegmenterOptions
from mediagw.config import Config
from mediagw.core.media import CallMedia
from mediagw.core.record import Participant, TranscriptionParams
from mediagw.core.watch import CallWatchers, Transcribed
from mediagw.delivery import Delivery
from mediagw.metrics import Metrics
from mediagw.outputs.spool import SPOOLED, AudioSpool, SpoolSettings
from mediagw.pipeline import (
    DeliveredHandler,
    FailureHandler,
    StreamPipeline,
    TextProcessor,
    TranscriptHandler,
    TranscriptionSettings,
    UtteranceUntranscribed,
)
from mediagw.postprocess import TextOutput, TextStage
from mediagw.transcripts import Transcript
from mediagw.turns import StreamTurns
from mediagw.vocabulary import Vocabulary

log = logging.getLogger(__name__)


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


def segmenter_options(config: Config) -> SegmenterOptions:
    """Remote ASR decodes an utterance once, at its confirmed end: it is offered no speculative decode
    (mediagw/backends/redis_asr.py says why)."""
    if config.asr.backend == "redis":
        return replace(config.segmenter, speculate_ms=0)
    return config.segmenter


@dataclass(frozen=True)
class StreamSpec:
    stream_id: str
    ingress: str  # the metrics' label: the namespace, or "websocket"
    context_id: str  # the conversation for redaction's context and the parties' turn order
    role: str
    params: TranscriptionParams
    language: str  # ISO 639-1
    on_transcript: TranscriptHandler
    origin_ms: int = 0  # where its audio starts on the stream's clock (transcription resumed after a stop)
    vocabulary: Vocabulary | None = None  # None: the gateway's custom vocabulary
    on_failure: FailureHandler | None = None
    on_delivered: DeliveredHandler | None = None  # the call's watchers (the console)
    word_timings: bool = False  # the model's timed words on each transcript (AudioHook connector events)


class StreamParts(Protocol):
    """What a stream's pipeline is made of, as start-up set it (the gateway's Services)."""

    config: Config
    metrics: Metrics
    text_stage: TextStage
    custom_vocabulary: Vocabulary
    delivery: Delivery
    pool: AsrBackend | None
    spool: AudioSpool | None
    watchers: CallWatchers


class PipelineFactory:
    def __init__(self, parts: StreamParts) -> None:
        self._parts = parts

    def build(self, spec: StreamSpec) -> StreamPipeline:
        params, parts = spec.params, self._parts
        spool_settings = SpoolSettings(
            params.smart_formatting,
            params.redaction_output,
            params.detailed_token,
            keep_audio=params.audio_recording_allowed,
        )
        return StreamPipeline(
            stream_id=spec.stream_id,
            ingress=spec.ingress,
            segmenter=segmenter_options(parts.config),
            pool=parts.pool,
            settings=TranscriptionSettings(params.smart_formatting, params.detailed_token, spec.word_timings),
            vocabulary=parts.custom_vocabulary if spec.vocabulary is None else spec.vocabulary,
            metrics=parts.metrics,
            text_stage=bind_text_stage(
                parts.text_stage,
                conversation_id=spec.context_id,
                role=spec.role,
                smart_formatting=params.smart_formatting,
                output=params.redaction_output,
            ),
            language=spec.language,
            on_transcript=spec.on_transcript,
            origin_ms=spec.origin_ms,
            on_failure=spec.on_failure,
            on_delivered=spec.on_delivered,
            turns=self.turns(spec.context_id, spec.role),
            # the utterance's language comes with each call (AudioHook may change it mid-stream)
            number_expected=partial(parts.text_stage.number_expected, conversation_id=spec.context_id, role=spec.role),
            on_untranscribed=partial(self.keep_untranscribed, settings=spool_settings),
        )

    def for_call(self, media: CallMedia, participant: Participant) -> StreamPipeline:
        """A call participant's pipeline: its transcripts stored and sent to the webhooks as the call's."""
        sender = {"externalId": participant.external_id, "role": participant.role}

        async def deliver(transcript: Transcript) -> None:
            await self._parts.delivery.store_and_publish(transcript, media.guid, sender, publish=True)

        spec = StreamSpec(
            stream_id=participant.stream_id,
            ingress=media.namespace,
            context_id=media.conversation_id,
            role=participant.role,
            params=media.params,
            language=media.language,
            on_transcript=deliver,
            origin_ms=media.media_ms(participant.role),
            on_delivered=self.watched(media, participant.role),
        )
        return self.build(spec)

    def watched(self, media: CallMedia, role: str) -> DeliveredHandler:
        """A call's transcripts as its watchers (the ops console) see them, as the outputs have them."""

        def delivered(transcript: Transcript, stages: dict[str, float]) -> None:
            at = media.last_transcript_at[role] = time.time()
            text = transcript.text  # as the outputs have it: never unredacted_text
            self._parts.watchers.transcribed(
                Transcribed(
                    media.namespace,
                    media.guid,
                    role,
                    transcript.stream_id,
                    transcript.sequence,
                    transcript.start_ms,
                    transcript.end_ms,
                    text,
                    stages,
                    at,
                )
            )

        return delivered

    def turns(self, conversation_id: str, role: str) -> StreamTurns:
        """The stream's place among its conversation's parties, so its answers are redacted after the questions."""
        parts = self._parts
        limit_s = parts.config.redaction.context_wait_s
        return parts.text_stage.turns(conversation_id, role, limit_s, parts.metrics.redaction_context_late.inc)

    async def keep_untranscribed(self, utterance: UtteranceUntranscribed, settings: SpoolSettings) -> None:
        """The shutdown deadline left an utterance undecoded: record it (and spool its audio where allowed)."""
        spool = self._parts.spool
        if spool is None:
            return
        settings = replace(settings, language=utterance.language)
        try:
            state = await spool.keep(utterance, settings)
        except Exception:
            log.exception("an untranscribed utterance could not be spooled", extra={"stream_id": utterance.stream_id})
            return
        self._parts.metrics.spooled.labels("kept" if state == SPOOLED else "not-allowed").inc()

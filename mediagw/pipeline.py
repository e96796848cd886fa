"""One stream's audio through segmentation, ASR and formatting to its outputs, in spoken order."""

from __future__ import annotations

import asyncio
import logging
import math
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from asr.backend import AsrBackend
from asr.frame import SAMPLE_RATE, Frame, FrameAssembler, Pcm
from asr.pool import Abandoned, SpeculationSkipped, SpeculativeJob
from asr.recognizer import Recognition, RecognitionRequest
from asr.segmenter import Ending, Segment, Segmenter, SegmenterOptions, Speculation
from asr.vad_thread import vad_thread
from mediagw.endpointing import ending_of
from mediagw.latency import StageTimes
from mediagw.metrics import Metrics
from mediagw.postprocess import TextOutput
from mediagw.transcripts import Token, Transcript, tokens_from_words
from mediagw.turns import StreamTurns, Turn
from mediagw.vocabulary import Vocabulary

log = logging.getLogger(__name__)

TranscriptHandler = Callable[[Transcript], Awaitable[None]]
DeliveredHandler = Callable[[Transcript, dict[str, float]], None]  # a transcript out, with its latency by stage
_LABEL_SLICE = 25  # frames (500 ms) per request to the VAD thread
_SAID_WITHIN_MS = 10_000  # the speaker's previous utterance, this recent, is read with a speculative text


class TextProcessor(Protocol):
    """Formatting and redaction, bound to the stream's settings; `fail_safe` when the context may be missing;
    `language` the utterance's (ISO 639-1)."""

    def __call__(self, text: str, *, fail_safe: bool = False, language: str = "en") -> TextOutput: ...


class NumberExpected(Protocol):
    """Whether a digit group read in `text` is a piece of a longer number (mediagw/endpointing.py)."""

    def __call__(self, text: str, *, language: str) -> bool: ...


@dataclass(frozen=True)
class UtteranceFailed:
    """An utterance that could not be transcribed (4080): ASR or the text stage failed; the stream goes on."""

    stream_id: str
    sequence: int
    start_ms: int
    end_ms: int
    stage: str  # "asr" or "text"


FailureHandler = Callable[[UtteranceFailed], Awaitable[None]]


@dataclass(frozen=True)
class UtteranceUntranscribed:
    """An utterance the shutdown deadline left undecoded: its audio (from `audio_start_ms`) and its speech's span,
    for the spool (transcribed after the restart) or, where recording is not allowed, a record of the loss."""

    stream_id: str
    sequence: int
    start_ms: int
    end_ms: int
    audio_start_ms: int
    samples: Pcm
    language: str = "en"  # what it was to be decoded in


UntranscribedHandler = Callable[[UtteranceUntranscribed], Awaitable[None]]


@dataclass(frozen=True)
class _Recognized:
    """ASR's result, waiting for its turn: the text stage runs in spoken order, because redaction's memory of
    the conversation (a card read over two utterances) must see the utterances in the order they were said,
    not in the order their decodes finished."""

    segment: Segment
    result: Recognition
    sequence: int
    closed_at: float
    times: StageTimes
    language: str


_Outcome = _Recognized | UtteranceFailed | UtteranceUntranscribed


@dataclass(frozen=True)
class TranscriptionSettings:
    smart_formatting: bool = True
    detailed_tokens: bool = False
    word_timings: bool = False  # the model's timed words on the transcript (AudioHook connector), not its message


class TimedAudio(Protocol):
    """Where an utterance sits on its stream's clock (a Segment, or a spooled one)."""

    @property
    def start_ms(self) -> int: ...

    @property
    def end_ms(self) -> int: ...

    @property
    def audio_start_ms(self) -> int: ...


@dataclass(frozen=True)
class Heard:
    stream_id: str
    sequence: int
    closed_at: float
    language: str = "en"  # ISO 639-1: the words its tokens are spoken in without smart formatting


def transcript_of(
    result: Recognition,
    audio: TimedAudio,
    heard: Heard,
    vocabulary: Vocabulary,
    settings: TranscriptionSettings,
    text_stage: Callable[[str], TextOutput],
) -> Transcript | None:
    """ASR's result as the outputs take it: vocabulary rewrites, detailed tokens, then formatting and redaction;
    None when the model heard no word ("." or "..." is what it makes of a breath or a clipped tail)."""
    text = vocabulary.rewrite(result.text)
    if not any(c.isalnum() for c in text):
        return None
    tokens: tuple[Token, ...] | None = None
    timings: tuple[Token, ...] = ()
    if settings.detailed_tokens or settings.word_timings:
        bounds = (audio.start_ms, audio.end_ms)
        timings = tokens_from_words(
            result.words, audio.audio_start_ms, bounds, settings.smart_formatting, heard.language
        )
        if settings.detailed_tokens:  # only unredacted: detailed tokens with redaction is refused (4093)
            tokens = timings
    output = text_stage(text)
    return Transcript(
        heard.stream_id,
        heard.sequence,
        audio.start_ms,
        audio.end_ms,
        output.text,
        tokens,
        heard.closed_at,
        result.decode_ms,
        output.unredacted,
        confidence_of(result),
        timings if settings.word_timings else (),
    )


def confidence_of(result: Recognition) -> float:
    """The geometric mean of the decoded tokens' probabilities (ctranslate2's score), in [0, 1]."""
    return round(min(1.0, max(0.0, math.exp(result.avg_logprob))), 4)


class StreamPipeline:
    """Fed PCM on the event loop (`push` is cheap: VAD only); ASR runs in the pool, delivery in one task."""

    def __init__(
        self,
        *,
        stream_id: str,
        ingress: str,
        segmenter: SegmenterOptions,
        pool: AsrBackend | None,
        settings: TranscriptionSettings,
        vocabulary: Vocabulary,
        metrics: Metrics,
        text_stage: TextProcessor,
        on_transcript: TranscriptHandler,
        origin_ms: int = 0,
        on_failure: FailureHandler | None = None,
        turns: StreamTurns | None = None,
        on_untranscribed: UntranscribedHandler | None = None,
        language: str = "en",
        on_delivered: DeliveredHandler | None = None,
        number_expected: NumberExpected | None = None,
    ) -> None:
        """`number_expected(text)`: whether a digit group read in `text` (the speaker's previous utterance and a
        speculative one) is a piece of a longer number (mediagw/endpointing.py); None: every group is."""
        self.stream_id = stream_id
        self.language = language  # ISO 639-1, for the utterances that close from now on (AudioHook may change it)
        self._ingress = ingress
        self._pool = pool
        self._settings = settings
        self._vocabulary = vocabulary
        self._metrics = metrics
        self._audio_seconds = metrics.audio_seconds.labels(ingress)  # labels() per push is a lock and a lookup
        self._text_stage = text_stage
        self._on_transcript = on_transcript
        self._on_failure = on_failure
        self._on_untranscribed = on_untranscribed
        self._on_delivered = on_delivered
        self._turns = turns  # the conversation's order across its parties, for redaction's context
        self._assembler = FrameAssembler(origin_ms)
        self._segmenter = Segmenter(segmenter) if pool is not None else None
        # frames awaiting an off-loop VAD's labels (Silero), and the request in flight (one at a time, in order)
        self._unlabelled: list[Frame] = []
        self._labelling: asyncio.Future[list[bool]] | None = None
        self._labels_settled = asyncio.Event()
        self._labels_settled.set()
        self._vad_failed = False
        self._speculation: tuple[int, SpeculativeJob] | None = None  # the live speculative decode
        self._speculative = metrics.speculative_decodes
        self._number_expected = number_expected
        self._said: tuple[str, int] = ("", 0)  # the last words recognized, and where they ended (media ms)
        self._pending: asyncio.Queue[tuple[asyncio.Task[_Outcome], Turn | None] | None] = asyncio.Queue()
        self._deliverer = asyncio.create_task(self._deliver(), name=f"deliver-{stream_id}")
        self._sequence = 0
        self._finished = False
        self.samples_received = 0
        self._samples_counted = 0  # of samples_received, how many the audio_seconds metric has
        self.transcripts_delivered = 0
        self.untranscribed = 0  # utterances the shutdown deadline left undecoded
        self.untranscribed_ms = 0  # their speech, in ms
        self._log = {"stream_id": stream_id, "ingress": ingress}
        self._debug = log.isEnabledFor(logging.DEBUG)  # once per stream, not per utterance

    @property
    def audio_ms(self) -> int:
        return self.samples_received * 1000 // SAMPLE_RATE

    def push(self, samples: Pcm) -> None:
        if self._finished:
            return
        self.samples_received += len(samples)
        if self.samples_received - self._samples_counted >= SAMPLE_RATE:  # the metric by the second: it takes a lock
            self._count_audio()
        if self._segmenter is None:
            return
        self._frames_in(self._assembler.push(samples))

    def _frames_in(self, frames: list[Frame]) -> None:
        """Frames to the segmenter: labelled here (webrtcvad: microseconds) or in the VAD thread (Silero)."""
        assert self._segmenter is not None
        if self._segmenter.vad.off_loop:
            self._unlabelled += frames
            self._label_next()
            return
        for frame in frames:
            for segment in self._segmenter.push(frame):
                self._schedule(segment)
        for speculation in self._segmenter.speculations():
            self._speculate(speculation)

    def _label_next(self) -> None:
        if self._labelling is not None or not self._unlabelled or self._segmenter is None:
            return
        # a burst (a client ahead of real time) goes in slices: neither the thread's run nor the loop's callback
        # that feeds the segmenter grows with it
        frames, self._unlabelled = self._unlabelled[:_LABEL_SLICE], self._unlabelled[_LABEL_SLICE:]
        self._labels_settled.clear()
        self._labelling = vad_thread().label(self._segmenter.vad, [f.samples for f in frames])
        self._labelling.add_done_callback(lambda future: self._labelled(frames, future))

    def _labelled(self, frames: list[Frame], future: asyncio.Future[list[bool]]) -> None:
        """On the loop: the VAD's verdicts for `frames`, fed to the segmenter in order; then the next request."""
        self._labelling = None
        if future.cancelled():
            labels = [False] * len(frames)
        elif (error := future.exception()) is not None:
            labels = [False] * len(frames)  # unvoiced: the media clock goes on; the stream is not lost
            if not self._vad_failed:
                self._vad_failed = True
                log.error("voice activity detection failed (%s)", type(error).__name__, extra=self._log)
        else:
            labels = future.result()
        assert self._segmenter is not None
        for frame, voiced in zip(frames, labels, strict=True):
            for segment in self._segmenter.push_labelled(frame, voiced):
                self._schedule(segment)
        if not self._unlabelled:  # as push does after a chunk: speculate only while waiting for audio not yet here
            for speculation in self._segmenter.speculations():
                self._speculate(speculation)
        self._label_next()
        if self._labelling is None:
            self._labels_settled.set()

    async def labelled(self) -> None:
        """Until every frame pushed so far has been through the segmenter (an off-loop VAD labels later)."""
        await self._labels_settled.wait()

    def _count_audio(self) -> None:
        self._audio_seconds.inc((self.samples_received - self._samples_counted) / SAMPLE_RATE)
        self._samples_counted = self.samples_received

    def set_language(self, code: str) -> None:
        """Decode (and format) the utterances that close from now on in this ISO 639-1 language."""
        self.language = code

    async def finish(self) -> int:
        """Close the open utterance, wait until every utterance is transcribed and handed over; how many were."""
        if not self._finished:
            self._finished = True
            self._count_audio()
            if self._segmenter is not None:
                self._frames_in(self._assembler.flush())
                await self.labelled()  # every frame through the segmenter before it is flushed
                for segment in self._segmenter.flush():
                    self._schedule(segment)
                self._segmenter.vad.close()
                self._void_speculation()
            self._pending.put_nowait(None)
        await asyncio.shield(self._deliverer)
        return self.transcripts_delivered

    def _request(self, segment: Segment) -> RecognitionRequest:
        assert self._segmenter is not None
        return RecognitionRequest(
            self._segmenter.asr_samples(segment),
            hotwords=self._vocabulary.hotwords(),
            word_timestamps=self._settings.detailed_tokens or self._settings.word_timings,
            language=self.language,
        )

    def _speculate(self, speculation: Speculation) -> None:
        """Decode the utterance before its end is confirmed, if the pool has an idle worker."""
        assert self._pool is not None
        self._void_speculation()
        job = self._pool.speculate(self._request(speculation.segment), self.stream_id)
        if job is None:
            self._speculative.labels("skipped").inc()
            self._answer(speculation.id, Ending.UNKNOWN)  # the usual wait, as without speculation
            return
        self._speculation = (speculation.id, job)
        start_ms = speculation.segment.start_ms
        job.future.add_done_callback(lambda future: self._speculated(speculation.id, future, start_ms))

    def _speculated(self, speculation_id: int, future: asyncio.Future[Recognition], start_ms: int) -> None:
        """A speculative decode is done: where its text stops sets the end-of-utterance wait (the text itself
        goes nowhere else), and the utterance may close at once."""
        if future.cancelled():
            return  # void: the segmenter has moved on
        error = future.exception()
        skipped = isinstance(error, SpeculationSkipped)
        if skipped and self._speculation is not None and self._speculation[0] == speculation_id:
            self._speculation = None  # an utterance came to decode first: no decode was spent
            self._speculative.labels("skipped").inc()
        ending = Ending.UNKNOWN if error is not None else self._ending(future.result().text, start_ms)
        self._answer(speculation_id, ending)

    def _ending(self, text: str, start_ms: int) -> Ending:
        said, said_end_ms = self._said
        before = said if start_ms - said_end_ms <= _SAID_WITHIN_MS else ""
        expected = self._number_expected
        language = self.language
        if expected is None:
            return ending_of(text, language)

        def number_expected() -> bool:
            try:
                return expected(f"{before} {text}", language=language)
            except Exception as error:  # the longer wait: a card's pieces stay together (and say nothing of the text)
                log.warning("number context failed (%s)", type(error).__name__, extra=self._log)
                return True

        return ending_of(text, language, number_expected)

    def _answer(self, speculation_id: int, ending: Ending) -> None:
        if self._segmenter is None or self._finished:
            return
        for segment in self._segmenter.speculated(speculation_id, ending):
            self._schedule(segment)

    def _void_speculation(self) -> None:
        if self._speculation is not None and self._pool is not None:
            spent = self._pool.withdraw(self._speculation[1])
            self._speculative.labels("wasted" if spent else "withdrawn").inc()
        self._speculation = None

    def _speculated_job(self, segment: Segment) -> SpeculativeJob | None:
        """The live speculation's decode, if it is this segment's; otherwise it is void."""
        if self._speculation is None or self._pool is None or segment.speculation != self._speculation[0]:
            self._void_speculation()
            return None
        job, self._speculation = self._speculation[1], None
        if job.future.done() and not job.future.cancelled() and (error := job.future.exception()) is not None:
            if isinstance(error, SpeculationSkipped):
                self._speculative.labels("skipped").inc()
            return None  # skipped, or its decode failed: the utterance is decoded as any other
        self._pool.confirm(job)
        self._speculative.labels("used").inc()
        return job

    def _schedule(self, segment: Segment) -> None:
        sequence, self._sequence = self._sequence, self._sequence + 1
        closed_at = asyncio.get_running_loop().time()
        job = self._speculated_job(segment)
        early = job is not None and job.taken  # its decode began before the close
        request = job.request if job is not None else self._request(segment)
        task = asyncio.create_task(self._transcribe(segment, request, sequence, closed_at, job, early))
        self._pending.put_nowait((task, self._turns.open(closed_at) if self._turns else None))

    async def _transcribe(
        self,
        segment: Segment,
        request: RecognitionRequest,
        sequence: int,
        closed_at: float,
        job: SpeculativeJob | None,
        early: bool,
    ) -> _Recognized | UtteranceFailed | UtteranceUntranscribed:
        assert self._pool is not None
        self._metrics.asr_queue_depth.set(self._pool.queue_depth + 1)
        try:
            if job is not None:
                result = await job.future  # decoded (or being decoded) speculatively: no second decode
            else:  # the pool serves streams in turn
                result = await self._pool.transcribe(request, self.stream_id)
        except Abandoned:
            return UtteranceUntranscribed(
                self.stream_id,
                sequence,
                segment.start_ms,
                segment.end_ms,
                segment.audio_start_ms,
                segment.samples,
                request.language,
            )
        except Exception as error:
            return self._failed(segment, sequence, "asr", error)
        finally:
            self._metrics.asr_queue_depth.set(self._pool.queue_depth)
        self._metrics.asr_latency.observe(result.decode_ms / 1000)
        if result.text.strip():
            self._said = (result.text, segment.end_ms)
        if result.loop_cut:
            self._metrics.asr_loops_cut.inc()
        if result.dropped:
            self._metrics.utterances_dropped.labels(result.dropped).inc()
        end_wait_s = (segment.closed_at_ms - segment.end_ms) / 1000
        decoded_at = asyncio.get_running_loop().time()
        decode_s = result.decode_ms / 1000
        if early:  # a speculative decode ran (partly) before the close: only the rest is latency
            decode_s = min(decode_s, max(0.0, decoded_at - closed_at))
        times = StageTimes(end_wait_s, closed_at, decoded_at, decode_s)
        return _Recognized(segment, result, sequence, closed_at, times, request.language)

    def _text(self, recognized: _Recognized, fail_safe: bool) -> Transcript | UtteranceFailed | None:
        try:
            return self._transcript(recognized, fail_safe)
        except Exception as error:
            return self._failed(recognized.segment, recognized.sequence, "text", error)

    def _transcript(self, recognized: _Recognized, fail_safe: bool) -> Transcript | None:
        stage, language = self._text_stage, recognized.language
        return transcript_of(
            recognized.result,
            recognized.segment,
            Heard(self.stream_id, recognized.sequence, recognized.closed_at, language),
            self._vocabulary,
            self._settings,
            lambda text: stage(text, fail_safe=fail_safe, language=language),
        )

    def _failed(self, segment: Segment, sequence: int, stage: str, error: Exception) -> UtteranceFailed:
        """Count and log a failed utterance. Only the exception's type and where it was raised are logged: its
        message (and a traceback's) may quote the unredacted text."""
        self._metrics.errors.labels("4080").inc()
        self._metrics.utterance_failures.labels(self._ingress, stage).inc()
        frame = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
        where = f" at {frame[0].filename}:{frame[0].lineno}" if frame else ""
        log.warning(
            "utterance %d could not be transcribed: %s failed (%s%s)",
            sequence,
            stage,
            type(error).__name__,
            where,
            extra={**self._log, "code": 4080},
        )
        return UtteranceFailed(self.stream_id, sequence, segment.start_ms, segment.end_ms, stage)

    async def _deliver(self) -> None:
        """Hands each utterance's outcome over in spoken order; nothing one utterance does stops the next."""
        while (item := await self._pending.get()) is not None:
            task, turn = item
            try:
                outcome, times = await self._in_turn(task, turn)
                if isinstance(outcome, UtteranceUntranscribed):
                    await self._left_undecoded(outcome)
                elif isinstance(outcome, UtteranceFailed):
                    if self._on_failure is not None:
                        await self._on_failure(outcome)
                elif outcome is not None:
                    await self._on_transcript(outcome)
                    self._delivered(outcome, times)
            except Exception:
                log.exception("transcript output failed", extra=self._log)

    async def _left_undecoded(self, outcome: UtteranceUntranscribed) -> None:
        self.untranscribed += 1
        self.untranscribed_ms += outcome.end_ms - outcome.start_ms
        self._metrics.untranscribed.labels(self._ingress).inc()
        self._metrics.untranscribed_seconds.labels(self._ingress).inc((outcome.end_ms - outcome.start_ms) / 1000)
        if self._on_untranscribed is not None:
            await self._on_untranscribed(outcome)

    async def _in_turn(
        self, task: asyncio.Task[_Outcome], turn: Turn | None
    ) -> tuple[Transcript | UtteranceFailed | UtteranceUntranscribed | None, StageTimes | None]:
        """The utterance through the text stage once the other party's earlier utterances went through theirs
        (fail-safe redaction if they take too long); then the turn is over for whoever waits on it."""
        try:
            recognized = await task
            if not isinstance(recognized, _Recognized):
                return recognized, None
            loop, times = asyncio.get_running_loop(), recognized.times
            times.turn_from = loop.time()
            on_time = await self._turns.wait(turn) if self._turns is not None and turn is not None else True
            times.text_from = loop.time()
            outcome = self._text(recognized, fail_safe=not on_time)
            times.text_done = loop.time()
            if self._turns is not None:
                await self._turns.publish()
            return outcome, times
        finally:
            if self._turns is not None and turn is not None:
                self._turns.close(turn)

    def _delivered(self, transcript: Transcript, times: StageTimes | None) -> None:
        self.transcripts_delivered += 1
        self._metrics.utterances.labels(self._ingress).inc()
        now = asyncio.get_running_loop().time()
        self._metrics.e2e_latency.labels(self._ingress).observe(now - transcript.closed_at)
        if times is None:
            return
        seconds = times.seconds(now)
        for stage, value in seconds.items():
            self._metrics.stage_latency.labels(stage).observe(value)
        self._metrics.speech_to_transcript.observe(sum(seconds.values()))
        if self._on_delivered is not None:
            self._on_delivered(transcript, seconds)
        if self._debug:
            log.debug("utterance %d latency %s", transcript.sequence, StageTimes.line(seconds), extra=self._log)

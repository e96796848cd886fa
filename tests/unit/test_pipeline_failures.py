"""A failed utterance (ASR or text stage) is reported and counted; the stream goes on with the next one."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from asr.pool import AsrPool
from asr.recognizer import Recognition, RecognitionRequest
from asr.segmenter import SegmenterOptions
from mediagw.metrics import Metrics
from mediagw.pipeline import StreamPipeline, TranscriptionSettings, UtteranceFailed
from mediagw.postprocess import TextOutput
from mediagw.transcripts import Transcript
from mediagw.vocabulary import Vocabulary
from tests.conftest import channel_of

SECRET = "my card number is 4111"


class Outputs:
    def __init__(self) -> None:
        self.transcripts: list[Transcript] = []
        self.failures: list[UtteranceFailed] = []

    async def transcript(self, transcript: Transcript) -> None:
        self.transcripts.append(transcript)

    async def failure(self, failure: UtteranceFailed) -> None:
        self.failures.append(failure)


def numbered_recognizer(fail_asr_at: int | None = None) -> Any:
    """Utterance n is heard as "utterance n", the first as SECRET; `fail_asr_at` makes that decode raise."""
    count = 0

    def recognize(batch: list[RecognitionRequest]) -> list[Recognition]:
        nonlocal count
        results = []
        for _ in batch:
            if count == fail_asr_at:
                count += 1
                raise RuntimeError("decoder exploded")
            results.append(Recognition(SECRET if count == 0 else f"utterance {count}"))
            count += 1
        return results

    return recognize


def as_heard(text: str, **_: Any) -> TextOutput:
    """A text stage that changes nothing."""
    return TextOutput(text)


def failing_once(text: str, **_: Any) -> TextOutput:
    if text == SECRET:
        raise ValueError(f"cannot format {text!r}")  # a message that quotes the unredacted text
    return TextOutput(text.upper())


def pipeline_on(
    pool: AsrPool,
    text_stage: Any,
    on_transcript: Any,
    metrics: Metrics,
    stream_id: str = "s-1",
    segmenter: SegmenterOptions | None = None,
    **more: Any,
) -> StreamPipeline:
    """A direct-API stream's pipeline with default settings on `pool`."""
    return StreamPipeline(
        stream_id=stream_id,
        ingress="websocket",
        segmenter=segmenter or SegmenterOptions(),
        pool=pool,
        settings=TranscriptionSettings(),
        vocabulary=Vocabulary(),
        metrics=metrics,
        text_stage=text_stage,
        on_transcript=on_transcript,
        **more,
    )


async def stream_billing_customer(
    call_audio: Any,
    recognize: Any,
    text_stage: Any,
    outputs: Outputs,
    metrics: Metrics,
    workers: int = 1,
    segmenter: SegmenterOptions | None = None,
) -> StreamPipeline:
    """The billing call's customer channel through a pipeline on a pool of `recognize`, finished."""
    pool = AsrPool(recognize, workers=workers, queue_size=16, max_batch=1)
    pool.start()
    pipeline = pipeline_on(
        pool, text_stage, outputs.transcript, metrics, segmenter=segmenter, on_failure=outputs.failure
    )
    samples, _ = channel_of(call_audio["billing"], "customer")
    for start in range(0, len(samples), 160):
        pipeline.push(samples[start : start + 160])
    await pipeline.finish()  # raised the text stage's error before
    await pool.close()
    return pipeline


async def run_stream(call_audio: Any, recognize: Any, outputs: Outputs, metrics: Metrics) -> StreamPipeline:
    # no speculative decodes: the recognizer numbers every decode, and which ones a speculation takes depends on
    # when the VAD thread's labels come back
    no_speculation = SegmenterOptions(speculate_ms=0)
    return await stream_billing_customer(
        call_audio, recognize, failing_once, outputs, metrics, segmenter=no_speculation
    )


def failures(metrics: Metrics, stage: str) -> float | None:
    return metrics.registry.get_sample_value(
        "mediagw_utterance_failures_total", {"ingress": "websocket", "stage": stage}
    )


async def test_a_text_stage_failure_skips_that_utterance_only_and_never_logs_its_text(
    call_audio: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    outputs, metrics = Outputs(), Metrics()
    pipeline = await run_stream(call_audio, numbered_recognizer(), outputs, metrics)
    _, script = channel_of(call_audio["billing"], "customer")
    assert len(script) >= 3
    assert [f.sequence for f in outputs.failures] == [0] and outputs.failures[0].stage == "text"
    assert [t.text for t in outputs.transcripts] == [f"UTTERANCE {n}" for n in range(1, len(script))]
    assert pipeline.transcripts_delivered == len(script) - 1
    assert outputs.failures[0].end_ms <= outputs.transcripts[0].start_ms
    assert failures(metrics, "text") == 1
    assert metrics.registry.get_sample_value("mediagw_errors_total", {"code": "4080"}) == 1
    assert "ValueError" in caplog.text
    assert "4111" not in caplog.text and "card" not in caplog.text
    for record in caplog.records:
        assert record.exc_info is None or "4111" not in str(record.exc_info[1])


async def test_an_asr_failure_skips_that_utterance_only(call_audio: Any) -> None:
    outputs, metrics = Outputs(), Metrics()
    await run_stream(call_audio, numbered_recognizer(fail_asr_at=1), outputs, metrics)
    assert [(f.sequence, f.stage) for f in outputs.failures] == [(0, "text"), (1, "asr")]
    assert outputs.transcripts and outputs.transcripts[0].text == "UTTERANCE 2"
    assert failures(metrics, "asr") == 1 and failures(metrics, "text") == 1
    assert metrics.registry.get_sample_value("mediagw_errors_total", {"code": "4080"}) == 2


class FlakyOutputs(Outputs):
    """The first transcript's output fails (a full disk, a dropped socket)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[int] = []

    async def transcript(self, transcript: Transcript) -> None:
        self.seen.append(transcript.sequence)
        if len(self.seen) == 1:
            raise OSError("disk full")
        await super().transcript(transcript)


async def test_a_failing_output_does_not_stop_the_stream(call_audio: Any) -> None:
    outputs = FlakyOutputs()
    await run_stream(call_audio, numbered_recognizer(), outputs, Metrics())
    assert len(outputs.seen) >= 2 and [t.sequence for t in outputs.transcripts] == outputs.seen[1:]

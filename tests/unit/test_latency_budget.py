"""Each utterance's latency by stage (end of speech, queue, decode, turn wait, text stage, outputs) is observed
in mediagw_utterance_stage_seconds and, at debug level, written as one line."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from asr.recognizer import Recognition, RecognitionRequest
from asr.segmenter import SegmenterOptions
from mediagw.latency import STAGES
from mediagw.metrics import Metrics
from tests.unit.test_pipeline_failures import Outputs, as_heard, stream_billing_customer


def decoded_in_250_ms(batch: list[RecognitionRequest]) -> list[Recognition]:
    return [Recognition("utterance", decode_ms=250.0) for _ in batch]


def stage_sample(metrics: Metrics, stage: str, suffix: str) -> float:
    value = metrics.registry.get_sample_value(f"mediagw_utterance_stage_seconds_{suffix}", {"stage": stage})
    return value or 0.0


async def test_every_delivered_utterance_has_its_latency_by_stage(
    call_audio: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="mediagw.pipeline")
    metrics, outputs = Metrics(), Outputs()
    fixed_wait = SegmenterOptions(speculate_ms=0)  # every utterance waits end_silence_ms (no speculation)
    await stream_billing_customer(call_audio, decoded_in_250_ms, as_heard, outputs, metrics, segmenter=fixed_wait)
    delivered = len(outputs.transcripts)
    assert delivered >= 3
    for stage in STAGES:
        assert stage_sample(metrics, stage, "count") == delivered
    assert stage_sample(metrics, "decode", "sum") == pytest.approx(0.25 * delivered)
    end_silence_s = SegmenterOptions().end_silence_ms / 1000
    assert stage_sample(metrics, "end_wait", "sum") == pytest.approx(end_silence_s * delivered, abs=0.05 * delivered)
    lines = [r.getMessage() for r in caplog.records if "latency end_wait=" in r.getMessage()]
    assert len(lines) == delivered and all(f"{stage}=" in lines[0] for stage in STAGES)

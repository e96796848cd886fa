"""Speculative decodes in the ASR pool (the first work skipped under load) and through a stream's pipeline
(one decode per utterance when the speculation holds, the end-of-utterance wait set by its text)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import numpy as np
import pytest

from asr.pool import AsrPool, SpeculationSkipped
from asr.recognizer import Recognition, RecognitionRequest
from asr.segmenter import Ending, SegmenterOptions
from mediagw.metrics import Metrics
from tests.conftest import channel_of
from tests.unit.test_pipeline_failures import Outputs, as_heard, pipeline_on
from tests.unit.test_speculation import OPTIONS, _quiet, _speech
from tests.waits import eventually


def request(tag: int) -> RecognitionRequest:
    return RecognitionRequest(np.full(160, tag, dtype=np.int16))


class Gate:
    """A recognizer that records what it decodes and holds each decode until released."""

    def __init__(self, text: str = "x", hold: bool = True) -> None:
        self.text, self.decoded, self.started = text, [], threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def __call__(self, batch: list[RecognitionRequest]) -> list[Recognition]:
        self.decoded += [int(r.samples[0]) for r in batch]
        self.started.set()
        self.release.wait(60)
        return [Recognition(self.text) for _ in batch]


async def test_a_speculation_is_skipped_under_load_and_waits_behind_every_utterance() -> None:
    gate = Gate()
    pool = AsrPool(gate, workers=1, queue_size=16)
    pool.start()
    speculative = pool.speculate(request(1), "a")
    assert speculative is not None
    assert pool.backlog == 0  # droppable work makes no node look overloaded
    assert pool.speculate(request(2), "b") is None  # the one worker has a speculation to take already
    assert await asyncio.to_thread(gate.started.wait, 60)
    busy = [asyncio.create_task(pool.transcribe(request(i), s)) for i, s in ((3, "a"), (4, "b"))]
    await eventually(lambda: pool.queue_depth == 2)
    assert pool.speculate(request(5), "c") is None  # utterances are queued: skipped
    gate.release.set()
    await asyncio.gather(*busy)
    late = pool.speculate(request(6), "c")
    assert late is not None and (await late.future).text == "x"
    await pool.close()
    assert gate.decoded == [1, 3, 4, 6]


async def test_an_utterance_to_decode_skips_a_speculation_no_worker_took() -> None:
    gate = Gate(hold=False)
    pool = AsrPool(gate, workers=1, queue_size=16)  # not started yet: nothing is taken
    speculative = pool.speculate(request(1), "a")
    assert speculative is not None
    queued = asyncio.create_task(pool.transcribe(request(2), "b"))
    with pytest.raises(SpeculationSkipped):
        await speculative.future
    assert pool.withdraw(speculative) is False  # nothing was spent on it
    pool.start()
    await queued
    await pool.close()
    assert gate.decoded == [2]


async def test_confirmed_before_a_worker_took_it_it_waits_its_turn_and_is_decoded_once() -> None:
    gate = Gate(hold=False)
    pool = AsrPool(gate, workers=1, queue_size=16)  # not started yet: nothing is taken
    speculative = pool.speculate(request(11), "y")
    assert speculative is not None and pool.backlog == 0
    pool.confirm(speculative)  # now an utterance of stream y, in its lane
    assert pool.backlog == 1
    queued = asyncio.create_task(pool.transcribe(request(12), "z"))
    await eventually(lambda: pool.queue_depth == 2)
    pool.start()
    await asyncio.gather(queued, speculative.future)
    await pool.close()
    assert gate.decoded == [11, 12]


async def test_withdrawn_before_a_worker_took_it_it_costs_no_decode() -> None:
    gate = Gate(hold=False)
    pool = AsrPool(gate, workers=2, queue_size=16)
    speculative = pool.speculate(request(1), "a")  # the workers are not started: nobody takes it
    assert speculative is not None
    assert pool.withdraw(speculative) is False
    assert speculative.future.cancelled()
    pool.start()
    running = pool.speculate(request(2), "a")
    assert running is not None
    await eventually(lambda: gate.decoded == [2])
    assert pool.withdraw(running) is True  # taken: the decode was spent, its result goes nowhere
    await pool.drain()
    await pool.close()
    assert gate.decoded == [2]


def recognizer_saying(text: str, decodes: list[int]) -> Any:
    def recognize(batch: list[RecognitionRequest]) -> list[Recognition]:
        decodes.append(len(batch))
        return [Recognition(text) for _ in batch]

    return recognize


async def fed_in_step(pipeline: Any, pool: AsrPool, samples: np.ndarray[Any, np.dtype[np.int16]]) -> None:
    """20 ms at a time, each decode done before the next frame: a decoder far faster than the media clock."""
    for start in range(0, len(samples), 160):
        pipeline.push(samples[start : start + 160])
        await pipeline.labelled()  # Silero labels in its thread
        await pool.drain()
    await pipeline.finish()
    await pool.close()


def speculative_count(metrics: Metrics, outcome: str) -> float:
    return metrics.registry.get_sample_value("mediagw_speculative_decodes_total", {"outcome": outcome}) or 0.0


def end_wait_sum(metrics: Metrics) -> float:
    value = metrics.registry.get_sample_value("mediagw_utterance_stage_seconds_sum", {"stage": "end_wait"})
    return value or 0.0


@pytest.mark.parametrize(
    ("text", "ending"), [("That is all, thank you.", Ending.FINISHED), ("It is 4527", Ending.OPEN)]
)
async def test_each_utterance_is_decoded_once_and_waits_as_its_text_ends(
    call_audio: Any, text: str, ending: Ending
) -> None:
    wait_s = SegmenterOptions().end_silence(ending) / 1000  # the default VAD's
    samples, script = channel_of(call_audio["billing"], "customer")
    samples = np.concatenate([samples, _quiet(1000)])  # the last utterance's wait is not cut by the flush
    decodes: list[int] = []
    metrics, outputs = Metrics(), Outputs()
    pool = AsrPool(recognizer_saying(text, decodes), workers=1, queue_size=16)
    pool.start()
    pipeline = pipeline_on(pool, as_heard, outputs.transcript, metrics)
    await fed_in_step(pipeline, pool, samples)
    assert len(outputs.transcripts) == len(script)
    assert speculative_count(metrics, "used") == len(script)
    # no second decode of any utterance: the only decodes beyond one each are speculations a resumed word voided
    assert sum(decodes) == len(script) + speculative_count(metrics, "wasted")
    assert end_wait_sum(metrics) == pytest.approx(wait_s * len(script), abs=0.001)


async def test_speech_that_resumes_wastes_one_decode_and_the_utterance_stays_whole() -> None:
    decodes: list[int] = []
    metrics, outputs = Metrics(), Outputs()
    pool = AsrPool(recognizer_saying("I would like to pay and", decodes), workers=1, queue_size=16)
    pool.start()
    pipeline = pipeline_on(pool, as_heard, outputs.transcript, metrics, segmenter=OPTIONS)
    audio = np.concatenate([_quiet(300), _speech(600), _quiet(280), _speech(600), _quiet(1200)])
    await fed_in_step(pipeline, pool, audio)
    assert len(outputs.transcripts) == 1  # "... and" held the utterance open over the 160 ms pause
    assert sum(decodes) == 2
    assert (speculative_count(metrics, "wasted"), speculative_count(metrics, "used")) == (1, 1)


@pytest.mark.parametrize(
    ("asked", "ending"),
    [("Can I have your account number, please?", Ending.FINISHED), ("And the card number?", Ending.OPEN)],
)
async def test_a_digit_group_waits_mid_phrase_only_where_the_conversation_expects_a_longer_number(
    call_audio: Any, asked: str, ending: Ending
) -> None:
    """Every utterance decodes as "It is 4527": after a question for an account number it is finished when its
    speaker stops; after a question for a card, a piece of it (the pipeline asks the conversation's context)."""
    from functools import partial

    from mediagw.app import build_text_stage
    from mediagw.config import load_config

    stage = build_text_stage(load_config(environ={}))[1]
    stage.process(asked, conversation_id="c", role="agent", smart_formatting=True, output="redacted")
    samples, script = channel_of(call_audio["billing"], "customer")
    samples = np.concatenate([samples[: script[0]["end"] * 8 + 800], _quiet(1000)])  # the first utterance
    metrics, outputs = Metrics(), Outputs()
    pool = AsrPool(recognizer_saying("It is 4527", []), workers=1, queue_size=16)
    pool.start()
    expected = partial(stage.number_expected, conversation_id="c", role="customer")
    pipeline = pipeline_on(pool, as_heard, outputs.transcript, metrics, number_expected=expected)
    await fed_in_step(pipeline, pool, samples)
    assert len(outputs.transcripts) == 1
    assert end_wait_sum(metrics) == pytest.approx(SegmenterOptions().end_silence(ending) / 1000, abs=0.001)


async def test_a_number_context_that_fails_keeps_the_longer_wait(call_audio: Any) -> None:
    """Fail safe: a card's pieces stay together when the context cannot say (and the log names no text)."""

    def broken(text: str, *, language: str) -> bool:
        raise RuntimeError(f"context choked on {text!r}")

    samples, script = channel_of(call_audio["billing"], "customer")
    samples = np.concatenate([samples[: script[0]["end"] * 8 + 800], _quiet(1000)])
    metrics, outputs = Metrics(), Outputs()
    pool = AsrPool(recognizer_saying("It is 4527", []), workers=1, queue_size=16)
    pool.start()
    pipeline = pipeline_on(pool, as_heard, outputs.transcript, metrics, number_expected=broken)
    await fed_in_step(pipeline, pool, samples)
    assert len(outputs.transcripts) == 1
    assert end_wait_sum(metrics) == pytest.approx(SegmenterOptions().end_silence(Ending.OPEN) / 1000, abs=0.001)

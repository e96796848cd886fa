"""Redaction follows the audio's order across the parties: the customer's answer is redacted after the
agent's question that came before it, even when the answer's decode finishes first (the two streams are
decoded in parallel)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from asr.pool import AsrPool
from asr.recognizer import Recognition, RecognitionRequest
from mediagw.metrics import Metrics
from mediagw.postprocess import Conversations, TextStage
from mediagw.transcripts import Transcript
from mediagw.turns import StreamTurns, Turn
from redaction.redactor import RedactionOptions, Redactor
from redaction.settings import EntitySettings
from tests.conftest import channel_of, clip
from tests.unit.test_pipeline_failures import pipeline_on

QUESTION = "And the security code on the back."  # a period: the ASR's punctuation must not matter
ANSWER = "5 6 1"


def utterance(call_audio: Any, role: str) -> np.ndarray[Any, np.dtype[np.int16]]:
    samples, script = channel_of(call_audio["billing"], role)
    return clip(samples, script[0]["start"] - 300, script[0]["end"] + 800)


def saying(text: str, before: threading.Event | None = None, after: threading.Event | None = None) -> Any:
    """A recognizer that hears `text`; it waits for `before` (the other party's decode) and then sets `after`."""

    def recognize(batch: list[RecognitionRequest]) -> list[Recognition]:
        if before is not None:
            assert before.wait(30)
        if after is not None:
            after.set()
        return [Recognition(text) for _ in batch]

    return recognize


class ObservedTurns(StreamTurns):
    """Sets `waiting` when the stream's next utterance is ready for its text stage (before any wait)."""

    def __init__(self, turns: StreamTurns, waiting: threading.Event | None) -> None:
        self.__dict__.update(turns.__dict__)
        self._waiting = waiting

    async def wait(self, turn: Turn) -> bool:
        if self._waiting is not None:
            self._waiting.set()
        return await super().wait(turn)


async def converse(
    call_audio: Any,
    tmp_path: Path,
    recognizers: tuple[Any, Any],
    wait_s: float,
    customer_ready: threading.Event | None = None,
    customer_out: threading.Event | None = None,
) -> Any:
    """The agent's question, then the customer's answer, each on its own stream of one conversation;
    `customer_ready` is set when the customer's answer is decoded and ready for its text stage, `customer_out`
    when it is delivered."""
    stage = TextStage(Redactor(RedactionOptions()), EntitySettings(), Conversations(30, 3), "#")
    metrics = Metrics()
    delivered: dict[str, list[Transcript]] = {"agent": [], "customer": []}
    pipelines, pools = {}, []
    for role, recognize in zip(("agent", "customer"), recognizers, strict=True):
        pool = AsrPool(recognize, workers=1, queue_size=4)
        pool.start()
        pools.append(pool)

        async def on_transcript(transcript: Transcript, role: str = role) -> None:
            delivered[role].append(transcript)
            if role == "customer" and customer_out is not None:
                customer_out.set()

        turns = stage.turns("c", role, wait_s, metrics.redaction_context_late.inc)
        pipelines[role] = pipeline_on(
            pool,
            lambda text, fail_safe=False, language="en", role=role: stage.process(
                text,
                conversation_id="c",
                role=role,
                smart_formatting=True,
                output="redacted",
                fail_safe=fail_safe,
                language=language,
            ),
            on_transcript,
            metrics,
            stream_id=role,
            turns=ObservedTurns(turns, customer_ready if role == "customer" else None),
        )
    for role in ("agent", "customer"):  # the question is said (and its utterance closed) before the answer
        pipelines[role].push(utterance(call_audio, role))
        await pipelines[role].labelled()  # Silero labels in its thread: the question's close comes first
    for role in ("agent", "customer"):
        await pipelines[role].finish()
    for pool in pools:
        await pool.close()
    late = metrics.registry.get_sample_value("mediagw_redaction_context_late_total")
    return delivered, late


async def test_an_answer_decoded_before_the_question_waits_for_it(call_audio: Any, tmp_path: Path) -> None:
    customer_ready = threading.Event()
    agent = saying(QUESTION, before=customer_ready)  # the agent's decode ends once the answer is ready
    delivered, late = await converse(call_audio, tmp_path, (agent, saying(ANSWER)), 30, customer_ready)
    assert delivered["agent"][0].text == QUESTION
    answer = delivered["customer"][0].text
    assert "#" in answer and not any(c.isdigit() for c in answer)
    assert late == 0


async def test_an_answer_whose_question_is_not_transcribed_in_time_is_masked_fail_safe(
    call_audio: Any, tmp_path: Path
) -> None:
    customer_out = threading.Event()
    agent = saying(QUESTION, before=customer_out)  # the question is decoded only once the answer went out
    delivered, late = await converse(call_audio, tmp_path, (agent, saying(ANSWER)), 0.2, customer_out=customer_out)
    answer = delivered["customer"][0].text
    assert "#" in answer and not any(c.isdigit() for c in answer)
    assert late == 1

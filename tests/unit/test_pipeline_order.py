"""The text stage sees a stream's utterances in spoken order, whichever decode finishes first: redaction's
memory (a card read over two utterances) depends on it."""

from __future__ import annotations

import threading
from typing import Any

from asr.recognizer import Recognition, RecognitionRequest
from mediagw.metrics import Metrics
from mediagw.postprocess import TextOutput
from tests.unit.test_pipeline_failures import Outputs, stream_billing_customer


def first_decode_finishes_last() -> Any:
    """Utterance n is heard as "utterance n"; the first decode waits until the second has finished."""
    lock, second_done = threading.Lock(), threading.Event()
    calls = 0

    def recognize(batch: list[RecognitionRequest]) -> list[Recognition]:
        nonlocal calls
        with lock:
            index, calls = calls, calls + 1
        if index == 0:
            assert second_done.wait(30), "the second decode never ran"
        elif index == 1:
            second_done.set()
        return [Recognition(f"utterance {index}")]

    return recognize


async def test_the_text_stage_runs_in_spoken_order_when_decodes_finish_out_of_order(call_audio: Any) -> None:
    seen: list[str] = []

    def text_stage(text: str, **_: Any) -> TextOutput:
        seen.append(text)
        return TextOutput(text)

    outputs = Outputs()
    await stream_billing_customer(call_audio, first_decode_finishes_last(), text_stage, outputs, Metrics(), workers=2)
    assert len(seen) >= 3
    assert seen == [f"utterance {i}" for i in range(len(seen))]
    assert [t.sequence for t in outputs.transcripts] == list(range(len(seen)))

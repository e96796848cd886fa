"""The text stage sees a stream's utterances in spoken order, whichever decode finishes first: redaction's
memory (a card read over two utterances) depends on it."""

from __future__ import annotations

import threading
from typing import Any

from asr.pool import AsrPool
from asr.recognizer import Recognition, RecognitionRequest
from asr.segmenter import SegmenterOptions
from mediagw.metrics import Metrics
from mediagw.pipeline import StreamPipeline, TranscriptionSettings
from mediagw.postprocess import TextOutput
from mediagw.transcripts import Transcript
from mediagw.vocabulary import Vocabulary
from tests.conftest import channel_of


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
    delivered: list[Transcript] = []

    def text_stage(text: str) -> TextOutput:
        seen.append(text)
        return TextOutput(text)

    async def on_transcript(transcript: Transcript) -> None:
        delivered.append(transcript)

    pool = AsrPool(first_decode_finishes_last(), workers=2, queue_size=16, max_batch=1)
    pool.start()
    pipeline = StreamPipeline(
        stream_id="s-1",
        ingress="websocket",
        segmenter=SegmenterOptions(),
        pool=pool,
        settings=TranscriptionSettings(),
        vocabulary=Vocabulary(),
        metrics=Metrics(),
        text_stage=text_stage,
        on_transcript=on_transcript,
    )
    samples, _ = channel_of(call_audio["billing"], "customer")
    for start in range(0, len(samples), 160):
        pipeline.push(samples[start : start + 160])
    await pipeline.finish()
    await pool.close()
    assert len(seen) >= 3
    assert seen == [f"utterance {i}" for i in range(len(seen))]
    assert [t.sequence for t in delivered] == list(range(len(seen)))

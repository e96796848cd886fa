"""What one utterance costs the recognizer, and what it gets right (JSON on stdout).

    python -m bench.asr_decode

Every utterance of the sample calls, cut by the segmenter, is decoded by:
- faster-whisper's own `transcribe()` (the baseline: 30 s window, temperature fallback, beam 5),
- our recognizer with encoder windows of several lengths, at 1 and 2 threads,
- our recognizer with 1 worker x 2 threads and 2 workers x 1 thread, unbatched and in batches of 4
  (throughput with a standing backlog, utterances per second).
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from faster_whisper import WhisperModel

from asr.model import ModelOptions, resolve_model_path
from asr.recognizer import DecodeOptions, RecognitionRequest, Recognizer
from asr.resample import to_model_rate
from asr.segmenter import SegmenterOptions
from bench.common import percentiles, sample_channels
from mediagw.evaluation import word_error_rate
from mediagw.offline import segments


def utterances() -> tuple[list[np.ndarray], list[str]]:
    audio, refs = [], []
    for channel in sample_channels():
        audio += [s.samples for s in segments(channel.samples, SegmenterOptions())]
        refs += [u["text"] for u in channel.utterances]
    return audio, refs


def baseline(audio: list[np.ndarray], refs: list[str]) -> dict[str, Any]:
    model = WhisperModel(str(resolve_model_path("bundled")), device="cpu", compute_type="int8", cpu_threads=2)
    times, texts = [], []
    for samples in audio:
        started = time.perf_counter()
        parts, _ = model.transcribe(to_model_rate(samples), language="en", beam_size=5)
        texts.append(" ".join(p.text.strip() for p in parts))
        times.append(time.perf_counter() - started)
    return {
        "decoder": "faster-whisper transcribe()",
        "ms": percentiles(times),
        "wer": round(word_error_rate(refs, texts), 4),
    }


def ours(audio: list[np.ndarray], refs: list[str], window: float, threads: int) -> dict[str, Any]:
    recognizer = Recognizer(ModelOptions(cpu_threads=threads), DecodeOptions(window_seconds=window))
    recognizer.recognize(RecognitionRequest(audio[0]))  # warm-up
    results = [recognizer.recognize(RecognitionRequest(samples)) for samples in audio]
    return {
        "decoder": f"recognizer window={window}s threads={threads}",
        "ms": percentiles([r.decode_ms / 1000 for r in results]),
        "wer": round(word_error_rate(refs, [r.text for r in results]), 4),
        "loops_cut": sum(r.loop_cut for r in results),
    }


def parallel(audio: list[np.ndarray], workers: int, threads: int, batch: int = 1) -> dict[str, Any]:
    """A standing backlog: every worker always finds `batch` utterances waiting."""
    recognizer = Recognizer(ModelOptions(cpu_threads=threads, workers=workers), DecodeOptions())
    recognizer.recognize(RecognitionRequest(audio[0]))
    work = [RecognitionRequest(samples) for samples in audio * 2]
    batches = [work[i : i + batch] for i in range(0, len(work), batch)]
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        results = [r for rs in pool.map(recognizer.recognize_batch, batches) for r in rs]
    elapsed = time.perf_counter() - started
    return {
        "decoder": f"recognizer {workers} workers x {threads} threads, batches of {batch}",
        "utterances_per_s": round(len(work) / elapsed, 2),
        "ms": percentiles([r.decode_ms / 1000 for r in results]),
    }


def main() -> None:
    audio, refs = utterances()
    report: dict[str, Any] = {
        "benchmark": "asr_decode",
        "utterances": len(audio),
        "audio_s": round(sum(len(a) for a in audio) / 8000, 1),
        "results": [],
    }
    report["results"].append(baseline(audio, refs))
    for window in (5.0, 8.0, 10.0, 15.0, 30.0):
        report["results"].append(ours(audio, refs, window, 2))
    report["results"].append(ours(audio, refs, 10.0, 1))
    report["results"].append(parallel(audio, 1, 2))
    report["results"].append(parallel(audio, 2, 1))
    report["results"].append(parallel(audio, 2, 1, batch=4))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

"""Each model on each language: WER streamed through the gateway, decode time per utterance, streams per core.

Used by `python -m bench.accuracy`. A model is what `asr.model.path` names; a language is a sample set
(samples/calls for English, samples/calls/es for Spanish).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from asr.recognizer import RecognitionRequest, Recognizer
from bench.common import Channel, GatewayProcess, percentiles, sample_channels
from mediagw.app import load_recognizer
from mediagw.config import load_config
from mediagw.evaluation import word_error_rate
from mediagw.languages import language_tag
from mediagw.simulators.direct_ws import stream_audio, streaming_url

# (asr.model.path, language): tiny.en and base for English, base for Spanish
RUNS = (("bundled", "en"), ("bundled-multilingual", "en"), ("bundled-multilingual", "es"))
PAD_MS = 300  # around each scripted utterance, as the segmenter leaves some silence around speech


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


async def streamed(channels: list[Channel], model: str, language: str) -> list[list[str]]:
    """Every channel over the direct WebSocket API of a gateway running `model`, unredacted (WER of the words)."""
    with tempfile.TemporaryDirectory() as data:
        overrides = {"MEDIAGW_ASR__MODEL__PATH": model}
        gateway = GatewayProcess(overrides, Path(data))
        try:
            fields = {"language": language_tag(language), "redactionOutput": "unredacted"}
            async with aiohttp.ClientSession() as session:
                out = []
                for channel in channels:
                    url = await streaming_url(session, gateway.base_url, "local-dev", "local-dev-secret", channel.call)
                    result = await stream_audio(
                        session, url, channel.samples, role=channel.role, start_fields=fields, realtime=False
                    )
                    out.append([t["utterance"][0]["text"] for t in result.transcripts])
                return out
        finally:
            gateway.stop()


def clips_of(channels: list[Channel]) -> list[np.ndarray]:
    return [
        np.ascontiguousarray(c.samples[max(0, u["start"] - PAD_MS) * 8 : (u["end"] + PAD_MS) * 8])
        for c in channels
        for u in c.utterances
    ]


def decode_costs(runs: list[tuple[Recognizer, list[Channel], str]]) -> list[dict[str, Any]]:
    """Each scripted utterance decoded alone on one thread by each run's model, the runs interleaved utterance by
    utterance so that they share whatever else loads the machine. Per run: time per utterance, and the channels'
    audio over the time their decodes took (real-time streams one core keeps up with, VAD and the rest being ~1 %
    of it): by wall time (conservative on a busy machine) and by CPU time (CTranslate2's waiting threads spin, so
    it counts more than one busy core)."""
    clips = [clips_of(channels) for _, channels, _ in runs]
    for (recognizer, _, language), mine in zip(runs, clips, strict=True):
        recognizer.recognize(RecognitionRequest(mine[0], language=language))  # warm-up
    times: list[list[float]] = [[] for _ in runs]
    cpu = [0.0 for _ in runs]
    for index in range(max(len(c) for c in clips)):
        for number, ((recognizer, _, language), mine) in enumerate(zip(runs, clips, strict=True)):
            if index < len(mine):
                wall, used = time.perf_counter(), time.process_time()
                recognizer.recognize(RecognitionRequest(mine[index], language=language))
                times[number].append(time.perf_counter() - wall)
                cpu[number] += time.process_time() - used
    out = []
    for (_, channels, _), took, used in zip(runs, times, cpu, strict=True):
        audio_s = sum(len(c.samples) for c in channels) / 8000
        out.append(
            {
                "utterances": len(took),
                "decode_ms": percentiles(took),
                "streams_per_core": round(audio_s / sum(took), 1),
                "streams_per_core_by_cpu_time": round(audio_s / used, 1),
            }
        )
    return out


def one_core_recognizer(model: str, models_dir: Path) -> Recognizer:
    config = load_config(environ={"MEDIAGW_ASR__MODEL__PATH": model, "MEDIAGW_DATA_DIR": str(models_dir)})
    one_core = dataclasses.replace(config.asr.model, cpu_threads=1, workers=1)
    return load_recognizer(dataclasses.replace(config, asr=dataclasses.replace(config.asr, model=one_core)))


def streamed_wer(model: str, language: str) -> float:
    channels = sample_channels(language)
    texts = asyncio.run(streamed(channels, model, language))
    refs = [" ".join(u["text"] for u in c.utterances) for c in channels]
    return round(word_error_rate(refs, [" ".join(t) for t in texts], language), 4)


def by_model() -> dict[str, Any]:
    """Every run of RUNS: WER streamed through a gateway of that model, then the decode costs, interleaved."""
    os.environ.setdefault("MEDIAGW_LOGGING__LEVEL", "WARNING")
    load_before = os.getloadavg()[0]
    wers = [streamed_wer(model, language) for model, language in RUNS]
    with tempfile.TemporaryDirectory() as models_dir:
        models = {model: one_core_recognizer(model, Path(models_dir)) for model in dict.fromkeys(m for m, _ in RUNS)}
        costs = decode_costs([(models[m], sample_channels(language), language) for m, language in RUNS])
    runs = [
        {"model": model, "language": language, "streamed_wer": wer, **cost}
        for (model, language), wer, cost in zip(RUNS, wers, costs, strict=True)
    ]
    ratio = runs[1]["decode_ms"]["p50"] / runs[0]["decode_ms"]["p50"]  # base vs tiny.en on English, interleaved
    return {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "load_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "runs": runs,
        "base_vs_tiny_en_decode_p50": round(ratio, 2),
    }

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


def decode_costs(recognizer: Recognizer, channels: list[Channel], language: str) -> dict[str, Any]:
    """Each scripted utterance decoded alone on one thread: time per utterance, and the channels' audio over
    the CPU their decodes took (real-time streams one core keeps up with; VAD and the rest cost ~1 % of it)."""
    clips = [
        np.ascontiguousarray(c.samples[max(0, u["start"] - PAD_MS) * 8 : (u["end"] + PAD_MS) * 8])
        for c in channels
        for u in c.utterances
    ]
    recognizer.recognize(RecognitionRequest(clips[0], language=language))  # warm-up
    times, cpu = [], 0.0
    for clip in clips:
        wall, used = time.perf_counter(), time.process_time()
        recognizer.recognize(RecognitionRequest(clip, language=language))
        times.append(time.perf_counter() - wall)
        cpu += time.process_time() - used
    audio_s = sum(len(c.samples) for c in channels) / 8000
    return {
        "utterances": len(clips),
        "decode_ms": percentiles(times),
        "streams_per_core": round(audio_s / cpu, 1),
    }


def run(model: str, language: str, models_dir: Path) -> dict[str, Any]:
    channels = sample_channels(language)
    texts = asyncio.run(streamed(channels, model, language))
    refs = [[u["text"] for u in c.utterances] for c in channels]
    config = load_config(environ={"MEDIAGW_ASR__MODEL__PATH": model, "MEDIAGW_DATA_DIR": str(models_dir)})
    one_core = dataclasses.replace(config.asr.model, cpu_threads=1, workers=1)
    recognizer = load_recognizer(dataclasses.replace(config, asr=dataclasses.replace(config.asr, model=one_core)))
    return {
        "model": model,
        "language": language,
        "channels": len(channels),
        "streamed_wer": round(word_error_rate([" ".join(r) for r in refs], [" ".join(t) for t in texts], language), 4),
        **decode_costs(recognizer, channels, language),
    }


def by_model() -> dict[str, Any]:
    """Every run of RUNS, the multilingual model's cache in a shared directory (joined once)."""
    with tempfile.TemporaryDirectory() as models_dir:
        os.environ.setdefault("MEDIAGW_LOGGING__LEVEL", "WARNING")
        results = [run(model, language, Path(models_dir)) for model, language in RUNS]
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "load": os.getloadavg()[0], "runs": results}

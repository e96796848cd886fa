"""Accuracy (JSON): each model on each language, and the streaming penalty of the default model.

    python -m bench.accuracy            # both
    python -m bench.accuracy --models   # per model and language only

Per model (bench/models.py): tiny.en and the multilingual extra's base on the English sample calls, base on the
Spanish one; WER streamed through a gateway running that model, decode time per utterance and streams per core.
Streaming penalty: each channel of each English sample call is sent over the direct WebSocket API (faster than
real time; the segmenter works on media time, so utterance boundaries are the same as at real-time pace);
offline, faster-whisper's `transcribe()` on each whole channel in one piece, same model, at its default beam of
5 and at beam 1 (what the gateway uses).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
from faster_whisper import WhisperModel

from asr.model import resolve_model_path
from asr.resample import to_model_rate
from bench.common import Channel, GatewayProcess, sample_channels
from bench.models import by_model
from mediagw.evaluation import word_error_rate
from mediagw.simulators.direct_ws import stream_audio, streaming_url


async def streamed(channels: list[Channel]) -> list[list[str]]:
    with tempfile.TemporaryDirectory() as data:
        gateway = GatewayProcess({}, Path(data))
        try:
            async with aiohttp.ClientSession() as session:
                out = []
                for channel in channels:
                    url = await streaming_url(session, gateway.base_url, "local-dev", "local-dev-secret", channel.call)
                    result = await stream_audio(session, url, channel.samples, role=channel.role, realtime=False)
                    out.append([t["utterance"][0]["text"] for t in result.transcripts])
                return out
        finally:
            gateway.stop()


def offline(channels: list[Channel], beam_size: int) -> list[list[str]]:
    model = WhisperModel(str(resolve_model_path("bundled")), device="cpu", compute_type="int8", cpu_threads=2)
    out = []
    for channel in channels:
        segments, _ = model.transcribe(to_model_rate(channel.samples), language="en", beam_size=beam_size)
        out.append([s.text.strip() for s in segments])
    return out


def wer_by_call(channels: list[Channel], texts: list[list[str]]) -> dict[str, Any]:
    refs = [[u["text"] for u in c.utterances] for c in channels]
    per = {f"{c.call}/{c.role}": round(word_error_rate(r, t), 4) for c, r, t in zip(channels, refs, texts, strict=True)}
    overall = word_error_rate([" ".join(r) for r in refs], [" ".join(t) for t in texts])
    return {"wer": round(overall, 4), "by_channel": per}


def main() -> None:
    report: dict[str, Any] = {"benchmark": "accuracy", "by_model": by_model()}
    print(json.dumps(report["by_model"]), file=sys.stderr, flush=True)
    if "--models" not in sys.argv[1:]:
        channels = sample_channels()
        report["streamed"] = wer_by_call(channels, asyncio.run(streamed(channels)))
        report["offline_beam5"] = wer_by_call(channels, offline(channels, 5))
        report["offline_beam1"] = wer_by_call(channels, offline(channels, 1))
        points = 100 * (report["streamed"]["wer"] - report["offline_beam5"]["wer"])
        report["streaming_penalty_points"] = round(points, 2)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

"""Latency and capacity of the direct WebSocket API at real-time pace (JSON on stdout).

    python -m bench.latency                      # 10, 20 and 40 streams, then the capacity search
    python -m bench.latency --streams 10 --no-capacity

Per utterance: (a) end of speech (from the sample call's script) to its transcript arriving, and
(b) the moment the segmenter closed the utterance (its end + end_silence_ms) to the transcript arriving.
Streams replay the sample call channels, each rotated to start at a random pause and started within 3 s of
the others, so that utterances are spread as in independent calls instead of spoken in lockstep.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from bench.common import Channel, GatewayProcess, own_cpu_seconds, percentiles, rotate, sample_channels
from mediagw.config import load_config
from mediagw.evaluation import word_error_rate
from mediagw.simulators.direct_ws import StreamResult, stream_audio, streaming_url


async def one_stream(session: aiohttp.ClientSession, base_url: str, channel: Channel, delay: float) -> StreamResult:
    await asyncio.sleep(delay)
    url = await streaming_url(session, base_url, "local-dev", "local-dev-secret", f"bench-{channel.call}")
    return await stream_audio(session, url, channel.samples, role=channel.role, realtime=True)


def measure(channel: Channel, result: StreamResult, end_silence_ms: int) -> dict[str, list[float]]:
    speech_end, closed = [], []
    for transcript, received in zip(result.transcripts, result.received_at, strict=True):
        closed.append(received - result.sent_at(transcript["end"] + end_silence_ms))
        script = min(channel.utterances, key=lambda u: abs(u["start"] - transcript["start"]))
        if abs(script["start"] - transcript["start"]) < 500:
            speech_end.append(received - result.sent_at(script["end"]))
    return {"a": speech_end, "b": closed}


async def run_level(
    streams: int, overrides: dict[str, str], seed: int = 1, tree: Path | None = None, keep_values: bool = False
) -> dict[str, Any]:
    """`tree`: a checkout of another commit to run the gateway from (bench/ab.py), this one if None;
    `keep_values`: also every latency in seconds, under "_a" and "_b", to pool runs."""
    channels = sample_channels()
    rng = random.Random(seed)
    generator = np.random.default_rng(seed)
    chosen = [rotate(channels[i % len(channels)], generator) for i in range(streams)]
    end_silence = load_config(environ=overrides).segmenter.end_silence_ms
    with tempfile.TemporaryDirectory() as data:
        gateway = GatewayProcess(overrides, Path(data), tree=tree)
        try:
            cpu0, own0, wall0 = gateway.cpu_seconds(), own_cpu_seconds(), time.monotonic()
            async with aiohttp.ClientSession() as session:
                results = await asyncio.gather(
                    *(one_stream(session, gateway.base_url, c, rng.uniform(0, 3.0)) for c in chosen)
                )
            wall = time.monotonic() - wall0
            server_cpu, client_cpu = gateway.cpu_seconds() - cpu0, own_cpu_seconds() - own0
        finally:
            gateway.stop()
    a, b, refs, hyps, finals = [], [], [], [], 0
    for channel, result in zip(chosen, results, strict=True):
        m = measure(channel, result, end_silence)
        a += m["a"]
        b += m["b"]
        refs += [u["text"] for u in channel.utterances]
        hyps += [t["utterance"][0]["text"] for t in result.transcripts]
        finals += bool(result.final_response and result.final_response["status"]["code"] == "1000")
    report: dict[str, Any] = {
        "streams": streams,
        "completed_ok": finals,
        "utterances": len(b),
        "expected_utterances": sum(len(c.utterances) for c in chosen),
        "a_speech_end_to_transcript_ms": percentiles(a),
        "b_segment_closed_to_transcript_ms": percentiles(b),
        "wer_streamed": round(word_error_rate(refs, hyps), 4),
        "server_cpu_cores": round(server_cpu / wall, 2),
        "client_cpu_cores": round(client_cpu / wall, 2),
        "wall_s": round(wall, 1),
    }
    return report | ({"_a": a, "_b": b} if keep_values else {})


async def capacity(overrides: dict[str, str], start: int, limit_ms: float) -> dict[str, Any]:
    """Raise the stream count until (b) p95 passes `limit_ms`; report the last level that held."""
    held, level, tried = 0, start, []
    while level <= 200:
        report = await run_level(level, overrides, seed=level)
        p95 = report["b_segment_closed_to_transcript_ms"]["p95"] or 0
        tried.append({"streams": level, "b_p95_ms": p95, "server_cpu_cores": report["server_cpu_cores"]})
        if p95 >= limit_ms or report["completed_ok"] < level:
            break
        held, level = level, level + max(10, level // 4)
    return {"max_streams_b_p95_under_ms": limit_ms, "streams": held, "calls": held // 2, "levels": tried}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, nargs="*", default=[10, 20, 40])
    parser.add_argument("--no-capacity", action="store_true")
    parser.add_argument("--set", action="append", default=[], metavar="MEDIAGW_X=Y", help="gateway override")
    args = parser.parse_args()
    overrides = dict(item.split("=", 1) for item in args.set)
    report: dict[str, Any] = {"benchmark": "latency", "overrides": overrides, "levels": []}
    for streams in args.streams:
        report["levels"].append(asyncio.run(run_level(streams, overrides)))
        print(json.dumps(report["levels"][-1]), flush=True)
    if not args.no_capacity:
        report["capacity"] = asyncio.run(capacity(overrides, max(args.streams), 1000.0))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

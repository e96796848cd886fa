"""Fair share: real-time streams' latency beside clients that flood faster than real time (JSON on stdout).

    python -m bench.fairness                    # 0, 1 and 4 flooders, then 4 flooders with pacing off
    python -m bench.fairness --flooders 0 4 --no-unpaced

Four real-time streams (the sample call channels, rotated to start at a random pause, as in bench.latency) are
measured by (b): the moment the segmenter closed an utterance (its end + end_silence_ms, on the sender's clock)
to its transcript arriving. Beside them, each flooder sends all four channels back to back (166 s of speech) as
fast as the socket takes it, over the direct WebSocket API with a valid token, until the real-time streams end.
Every level runs on a fresh gateway with the default configuration; ratios are to the 0-flooder level of the
same run. "unpaced" sets limits.realtime_burst_s far beyond the run, so only the ASR pool's fairness acts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from bench.common import GatewayProcess, percentiles, rotate, sample_channels
from bench.latency import measure
from mediagw.config import load_config
from mediagw.simulators.direct_ws import stream_audio, streaming_url

UNPACED = {"MEDIAGW_LIMITS__REALTIME_BURST_S": "1000000"}


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


async def websocket_audio_s(session: aiohttp.ClientSession, base_url: str) -> float:
    """Audio the gateway took over the direct API so far (its Prometheus counter)."""
    async with session.get(f"{base_url}/metrics") as response:
        for line in (await response.text()).splitlines():
            if line.startswith('mediagw_audio_seconds_total{ingress="websocket"}'):
                return float(line.split()[-1])
    return 0.0


async def run_level(flooders: int, overrides: dict[str, str], seed: int = 1) -> dict[str, Any]:
    channels = sample_channels()
    generator, rng = np.random.default_rng(seed), random.Random(seed)
    realtime = [rotate(c, generator) for c in channels]
    flood = np.concatenate([c.samples for c in channels])
    end_silence = load_config(environ=overrides).segmenter.end_silence_ms
    with tempfile.TemporaryDirectory() as data:
        gateway = GatewayProcess(overrides, Path(data))
        try:
            async with aiohttp.ClientSession() as session:

                async def one(channel: Any, delay: float) -> Any:
                    await asyncio.sleep(delay)
                    url = await streaming_url(session, gateway.base_url, "local-dev", "local-dev-secret", "rt")
                    return await stream_audio(session, url, channel.samples, role=channel.role, realtime=True)

                async def flooder(index: int) -> None:
                    url = await streaming_url(session, gateway.base_url, "local-dev", "local-dev-secret", f"f{index}")
                    await stream_audio(session, url, flood, realtime=False)

                audio0, wall0 = await websocket_audio_s(session, gateway.base_url), time.monotonic()
                floods = [asyncio.create_task(flooder(i)) for i in range(flooders)]
                results = await asyncio.gather(*(one(c, rng.uniform(0, 3.0)) for c in realtime))
                wall = time.monotonic() - wall0
                taken = await websocket_audio_s(session, gateway.base_url) - audio0
                for task in floods:
                    task.cancel()
                for task in floods:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        finally:
            gateway.stop()
    closed: list[float] = []
    for channel, result in zip(realtime, results, strict=True):
        closed += measure(channel, result, end_silence)["b"]
    realtime_audio = sum(len(c.samples) for c in realtime) / 8000
    flood_rate = (taken - realtime_audio) / wall / flooders if flooders else None
    return {
        "flooders": flooders,
        "paced": "MEDIAGW_LIMITS__REALTIME_BURST_S" not in overrides,
        "realtime_streams": len(realtime),
        "utterances": len(closed),
        "expected_utterances": sum(len(c.utterances) for c in realtime),
        "b_segment_closed_to_transcript_ms": percentiles(closed),
        "flood_audio_taken_x_realtime_per_flooder": round(flood_rate, 2) if flood_rate is not None else None,
        "wall_s": round(wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flooders", type=int, nargs="*", default=[0, 1, 4])
    parser.add_argument("--no-unpaced", action="store_true", help="skip the 4-flooder level with pacing off")
    args = parser.parse_args()
    levels = [(n, {}) for n in args.flooders] + ([] if args.no_unpaced else [(max(args.flooders), UNPACED)])
    report: dict[str, Any] = {"benchmark": "fairness", "cpu": cpu_model(), "levels": []}
    for flooders, overrides in levels:
        report["levels"].append(asyncio.run(run_level(flooders, dict(overrides))))
        print(json.dumps(report["levels"][-1]), flush=True)
    baseline = next((lvl for lvl in report["levels"] if lvl["flooders"] == 0), None)
    base_p95 = baseline["b_segment_closed_to_transcript_ms"]["p95"] if baseline else None
    for level in report["levels"]:
        p95 = level["b_segment_closed_to_transcript_ms"]["p95"]
        level["b_p95_ratio_to_0_flooders"] = round(p95 / base_p95, 2) if base_p95 and p95 else None
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

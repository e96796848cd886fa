"""Shared by the benchmarks: a gateway in its own process, CPU accounting, sample calls, percentiles."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import aiohttp
import numpy as np

from asr.frame import Pcm
from mediagw.offline import read_channels
from tests.gateway import API_ID, API_SECRET, free_port, wait_healthy

Level = TypeVar("Level")
API_HEADERS = {"asapp-api-id": API_ID, "asapp-api-secret": API_SECRET}  # the default config's local-dev app

ROOT = Path(__file__).resolve().parent.parent
CALLS = ROOT / "samples" / "calls"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Channel:
    call: str
    role: str
    samples: Pcm
    utterances: list[dict[str, Any]]


def sample_channels(language: str = "en", directory: Path | None = None) -> list[Channel]:
    """Each channel of the sample calls of a language: English under samples/calls, Spanish under its es/ (or the
    calls in `directory`: bench/call_corpus.py)."""
    channels = []
    for path in sorted((directory or (CALLS if language == "en" else CALLS / language)).glob("*.flac")):
        script = json.loads(path.with_suffix(".json").read_text())
        for index, samples in enumerate(read_channels(path)):
            role = script["channels"][index]
            utterances = [u for u in script["utterances"] if u["role"] == role]
            channels.append(Channel(path.stem, role, samples, utterances))
    return channels


def rotate(channel: Channel, rng: np.random.Generator) -> Channel:
    """The same channel started at a random point of a random pause between two utterances, wrapping round.

    Streams that replay the same few calls would otherwise speak in lockstep, an unrealistically bursty load.
    """
    total_ms = len(channel.samples) // 8
    bounds = [(u["end"], nxt["start"]) for u, nxt in zip(channel.utterances, channel.utterances[1:], strict=False)]
    gap_end, gap_start = bounds[int(rng.integers(len(bounds)))]
    offset_ms = int(rng.integers(gap_end + 300, max(gap_end + 301, gap_start - 300)))
    samples = np.concatenate((channel.samples[offset_ms * 8 :], channel.samples[: offset_ms * 8]))
    shifted = [
        {**u, "start": (u["start"] - offset_ms) % total_ms, "end": (u["end"] - offset_ms) % total_ms}
        for u in channel.utterances
    ]
    return Channel(channel.call, channel.role, samples, sorted(shifted, key=lambda u: u["start"]))


class GatewayProcess:
    """`mediagw serve` with environment overrides, as an operator would run it."""

    def __init__(
        self,
        overrides: dict[str, str],
        data_dir: Path,
        log: IO[bytes] | None = None,
        log_level: str = "WARNING",
        tree: Path | None = None,
    ) -> None:
        """`log`: where its stderr (the log) goes; the bench's own stderr if None. `tree`: a checkout of another
        commit whose code to run (bench/ab.py), this one if None."""
        self.port = free_port()
        code_env, cwd = tree_environment(tree)
        env = {
            **os.environ,
            **code_env,
            "MEDIAGW_SIPREC__PORT": "0",
            **overrides,
            "MEDIAGW_DATA_DIR": str(data_dir),
            "MEDIAGW_LOGGING__LEVEL": log_level,
        }
        command = [sys.executable, "-m", "mediagw.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self.process = subprocess.Popen(command, env=env, stderr=log, cwd=cwd)
        self.base_url = f"http://127.0.0.1:{self.port}"
        wait_healthy(self.base_url)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(60)


def tree_environment(tree: Path | None) -> tuple[dict[str, str], Path | None]:
    """Environment additions and working directory that make `python -m mediagw...` import `tree`'s packages: the
    working directory comes first on sys.path, before the venv's editable install (the bench's own if None)."""
    if tree is None:
        return {}, None
    return {"PYTHONPATH": os.pathsep.join(p for p in (str(tree), os.environ.get("PYTHONPATH")) if p)}, tree


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None}
    data = np.array(values) * 1000
    return {
        "n": len(values),
        "p50": round(float(np.percentile(data, 50)), 1),
        "p95": round(float(np.percentile(data, 95)), 1),
        "p99": round(float(np.percentile(data, 99)), 1),
        "max": round(float(data.max()), 1),
    }


def speech_end_latencies(stats: dict[str, Any], origins: dict[str, Any]) -> tuple[list[float], int]:
    """Webhook arrival minus the moment each utterance's last speech sample was sent, matched to the script
    by role and start time; `origins` maps a guid to (loop time its audio began, script). Also: unmatched."""
    latencies, unmatched = [], 0
    for message, arrived in zip(stats["messages"], stats["arrived_at"], strict=True):
        origin, script = origins[message["externalConversationId"]]
        said = [u for u in script["utterances"] if u["role"] == message["sender"]["role"]]
        start = message["autotranscribeResponse"]["start"]
        match = min(said, key=lambda u: abs(u["start"] - start))
        if abs(match["start"] - start) > 500:
            unmatched += 1
            continue
        latencies.append(arrived - (origin + match["end"] / 1000))
    return latencies, unmatched


async def start_streaming(session: aiohttp.ClientSession, base_url: str, namespace: str, guid: str) -> None:
    """start-streaming for a call with placeholder participant ids; anything but 200 fails the run."""
    body = {"namespace": namespace, "guid": guid, "customerId": "c", "agentId": "a"}
    async with session.post(f"{base_url}/mg-autotranscribe/v1/start-streaming", json=body, headers=API_HEADERS) as r:
        assert r.status == 200, await r.text()


async def probe_while_media_flows(
    gateway: GatewayProcess, result: Any, *, settle_s: float, window_s: float
) -> tuple[list[float], float]:
    """Once the load's client has set `result["media_started_at"]` (up to 10 minutes of call setup), `settle_s`
    later: /v1/health round trips every 0.2 s for `window_s`, and the gateway's CPU (cores) over that time."""
    for _ in range(6000):
        if "media_started_at" in result:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(settle_s)
    times = []
    cpu0, wall0 = gateway.cpu_seconds(), time.monotonic()
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < wall0 + window_s:
            begun = time.monotonic()
            async with session.get(f"{gateway.base_url}/v1/health") as response:
                await response.read()
            times.append(time.monotonic() - begun)
            await asyncio.sleep(0.2)
    return times, (gateway.cpu_seconds() - cpu0) / (time.monotonic() - wall0)


def run_levels(benchmark: str, levels: Iterable[Level], run_level: Callable[[Level], dict[str, Any]]) -> None:
    """Each load level in turn, its JSON printed as it ends, then all of them under the benchmark's name."""
    os.environ.setdefault("MEDIAGW_LOGGING__LEVEL", "WARNING")
    results = []
    for level in levels:
        results.append(run_level(level))
        print(json.dumps(results[-1]), flush=True)
    print(json.dumps({"benchmark": benchmark, "levels": results}, indent=1))

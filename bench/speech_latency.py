"""The shared run of the ingress latency benchmarks: end of speech to webhook POST received, ASR on.

Each ingress bench supplies how one call is played (`OneCall`); this module starts the webhook receiver and
the gateway (three processes in all), plays `count` calls started up to 10 s apart, and prints the JSON.
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from bench.common import CALLS, GatewayProcess, percentiles, speech_end_latencies
from bench.webhooks import ReceiverProcess
from mediagw.offline import read_channels

# (session, gateway base URL, call index, start delay in s, origins to fill: guid -> (loop time audio began, script))
OneCall = Callable[[aiohttp.ClientSession, str, int, float, dict[str, Any]], Awaitable[None]]


def sample_call(index: int) -> tuple[str, dict[str, Any], np.ndarray]:
    """The sample calls in turn: name, script, and audio as (n, 2) int16 with customer then agent."""
    name = ["billing", "travel"][index % 2]
    script = json.loads((CALLS / f"{name}.json").read_text())
    channels = read_channels(CALLS / f"{name}.flac")
    audio = np.stack([channels[script["channels"].index(role)] for role in ("customer", "agent")], axis=1)
    return name, script, audio


async def _drive(base: str, count: int, one_call: OneCall) -> dict[str, Any]:
    rng = random.Random(3)
    origins: dict[str, Any] = {}
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(one_call(session, base, i, rng.uniform(0, 10), origins) for i in range(count)))
    await asyncio.sleep(2)
    return origins


def run(benchmark: str, unit: str, count: int, overrides: dict[str, str], one_call: OneCall) -> None:
    receiver = ReceiverProcess("ok")
    targets = json.dumps([{"name": "bench", "url": receiver.url}])
    with tempfile.TemporaryDirectory() as data:
        gateway = GatewayProcess({**overrides, "MEDIAGW_WEBHOOKS__TARGETS": targets}, Path(data))
        try:
            origins = asyncio.run(_drive(gateway.base_url, count, one_call))
            stats = receiver.full()
        finally:
            gateway.stop()
            receiver.stop()
    latencies, unmatched = speech_end_latencies(stats, origins)
    report = {
        "benchmark": benchmark,
        unit: count,
        "webhook_posts": len(stats["messages"]),
        "expected_utterances": sum(len(script["utterances"]) for _, script in origins.values()),
        "unmatched": unmatched,
        "speech_end_to_webhook_ms": percentiles(latencies),
    }
    print(json.dumps(report, indent=1))

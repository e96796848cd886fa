"""start-streaming and stop-streaming latency at a steady request rate (JSON on stdout).

    python -m bench.control

A gateway runs in its own thread and event loop with 200 calls registered as an ingress adapter would
register them; the client alternates start and stop on them at 100 requests per second for 10 s.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import API_HEADERS, percentiles
from mediagw.app import load_recognizer
from mediagw.config import load_config
from tests.gateway import GatewayThread, make_config


async def drive(gateway: GatewayThread, guids: list[str], rate: float, seconds: float) -> dict[str, Any]:
    latencies: dict[str, list[float]] = {"start": [], "stop": []}
    statuses: dict[int, int] = {}
    started = dict.fromkeys(guids, False)

    async def one(session: aiohttp.ClientSession, guid: str) -> None:
        kind = "stop" if started[guid] else "start"
        started[guid] = not started[guid]
        body: dict[str, Any] = {"namespace": "siprec", "guid": guid}
        if kind == "start":
            body |= {"customerId": "c1", "agentId": "a1"}
        begun = time.perf_counter()
        async with session.post(f"{gateway.base_url}/mg-autotranscribe/v1/{kind}-streaming", json=body) as response:
            await response.read()
            statuses[response.status] = statuses.get(response.status, 0) + 1
        latencies[kind].append(time.perf_counter() - begun)

    total = int(rate * seconds)
    tasks = []
    async with aiohttp.ClientSession(headers=API_HEADERS) as session:
        origin = time.perf_counter()
        for index in range(total):
            delay = origin + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(session, guids[index % len(guids)])))
        await asyncio.gather(*tasks)
    return {
        "rate_per_s": rate,
        "requests": total,
        "statuses": statuses,
        "start_ms": percentiles(latencies["start"]),
        "stop_ms": percentiles(latencies["stop"]),
    }


def main() -> None:
    recognizer = load_recognizer(load_config(environ={}))
    with tempfile.TemporaryDirectory() as data:
        config = make_config(Path(data))
        config = dataclasses.replace(config, auth=dataclasses.replace(config.auth, requests_per_second=0.0))
        gateway = GatewayThread(config, recognizer, slow_callback_s=10).start()
        guids = [f"{index:020d}" for index in range(200)]
        for guid in guids:
            gateway.attach("siprec", guid)
        try:
            report = asyncio.run(drive(gateway, guids, rate=100, seconds=10))
        finally:
            gateway.stop()
    print(json.dumps({"benchmark": "control", **report}, indent=1))


if __name__ == "__main__":
    main()

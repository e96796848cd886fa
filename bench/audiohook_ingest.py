"""How many real-time Genesys AudioHook sessions (stereo PCMU, 100 ms frames) one gateway takes in, ASR off (JSON).

    python -m bench.audiohook_ingest                 # 300, 500 sessions
    python -m bench.audiohook_ingest --sessions 700

The gateway runs as `mediagw serve` with asr.enabled false and one signed API key. A second process (uvloop)
opens N sessions with the Genesys-like simulator (signed upgrade, open, stereo PCMU at real-time pace, pings,
close), sends start-streaming for each as it opens, for 20 s of audio. Reported: the gateway's CPU, /v1/health
probe latency while the media flows, sessions that finished cleanly, and protocol problems seen.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import tempfile
import time
import uuid
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from bench.common import (
    GatewayProcess,
    own_cpu_seconds,
    percentiles,
    probe_while_media_flows,
    run_levels,
    start_streaming,
)
from mediagw.simulators.audiohook import play_session

KEY, SECRET = "bench-key", "YmVuY2gtc2VjcmV0LWZvci1hdWRpb2hvb2s="


def _client(base_url: str, sessions: int, seconds: float, result: Any) -> None:
    import uvloop

    begun, cpu = time.monotonic(), own_cpu_seconds()
    uvloop.run(_play(base_url, sessions, seconds, result))
    result["client_cpu_cores"] = round((own_cpu_seconds() - cpu) / (time.monotonic() - begun), 2)


async def _play(base_url: str, sessions: int, seconds: float, result: Any) -> None:
    rng = np.random.default_rng(1)
    audio = rng.normal(0, 2000, (int(seconds * 8000), 2)).astype(np.int16)
    url = base_url.replace("http://", "ws://") + "/mg-genesysaudiohook-autotranscribe/"
    clean, problems = 0, 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:

        async def one(index: int) -> None:
            nonlocal clean, problems
            await asyncio.sleep(index % 100 * 0.001)  # spread over the 100 ms frame period
            conversation = str(uuid.uuid4())

            start = partial(start_streaming, http, base_url, "genesysaudiohook", conversation)
            outcome = await play_session(
                http, url, audio, conversation_id=conversation, api_key=KEY, client_secret=SECRET, on_opened=start
            )
            problems += len(outcome.problems)
            clean += outcome.closed is not None

        result["media_started_at"] = time.time()
        await asyncio.gather(*(one(i) for i in range(sessions)))
    result["clean"], result["problems"] = clean, problems


def run_level(sessions: int, seconds: float = 20.0) -> dict[str, Any]:
    overrides = {
        "MEDIAGW_ASR__ENABLED": "false",
        "MEDIAGW_AUTH__REQUESTS_PER_SECOND": "0",
        "MEDIAGW_AUDIOHOOK__API_KEYS": json.dumps([{"key": KEY, "client_secret": SECRET}]),
    }
    with tempfile.TemporaryDirectory() as data:
        gateway = GatewayProcess(overrides, Path(data))
        try:
            result = multiprocessing.Manager().dict()
            client = multiprocessing.Process(target=_client, args=(gateway.base_url, sessions, seconds, result))
            client.start()
            probe, cores = asyncio.run(probe_while_media_flows(gateway, result, settle_s=3, window_s=seconds - 5))
            client.join(seconds + 120)
        finally:
            gateway.stop()
    outcome = dict(result)
    return {
        "sessions": sessions,
        "gateway_cpu_cores": round(cores, 2),
        "gateway_cpu_ms_per_session_second": round(cores * 1000 / sessions, 3),
        "health_probe_ms": percentiles(probe),
        "sessions_closed_cleanly": outcome.get("clean"),
        "protocol_problems": outcome.get("problems"),
        "client_cpu_cores": outcome.get("client_cpu_cores"),
        "client_done": client.exitcode == 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, nargs="*", default=[300, 500])
    args = parser.parse_args()
    run_levels("audiohook_ingest", args.sessions, run_level)


if __name__ == "__main__":
    main()

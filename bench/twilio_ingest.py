"""How many real-time Twilio calls (both tracks, 20 ms chunks) one gateway takes in with ASR off (JSON).

    python -m bench.twilio_ingest                 # 300, 500, 600 calls
    python -m bench.twilio_ingest --calls 250 --baseline   # also on the standard asyncio loop

The gateway runs as its own process with asr.enabled false; a second process (uvloop, pre-formatted messages,
so it costs less than the server) plays N calls at real-time pace for 20 s. Each level runs twice: calls only
connected (audio counted), and calls with start-streaming sent (audio decoded and fed to the pipelines). Once
every call streams, a probe measures /v1/health round trips: when the gateway's loop falls behind the media,
that latency grows. Reported per level: server CPU over the whole run and in that steady window, client CPU,
client send lag, probe p50/p95/p99.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from bench.common import (
    API_HEADERS,
    GatewayProcess,
    own_cpu_seconds,
    percentiles,
    probe_while_media_flows,
    run_levels,
)
from mediagw.audio.g711 import pcm_to_ulaw


def _client(base_url: str, calls: int, seconds: float, started: bool, result: Any, first: int = 0) -> None:
    """`first`: the number of the first call (its Call SID): clients of several nodes use distinct calls."""
    import uvloop

    begun, cpu = time.monotonic(), own_cpu_seconds()
    # the client must cost less than the server it loads
    uvloop.run(_play(base_url, calls, seconds, started, result, first))
    result["cpu_cores"] = round((own_cpu_seconds() - cpu) / (time.monotonic() - begun), 2)


async def _play(base_url: str, calls: int, seconds: float, started: bool, result: Any, first: int = 0) -> None:
    import base64

    rng = np.random.default_rng(1)
    payload = base64.b64encode(pcm_to_ulaw((rng.normal(0, 2000, 160)).astype(np.int16))).decode()
    headers = API_HEADERS
    lags: list[float] = []
    connected = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        async with session.get(f"{base_url}/mg-autotranscribe/v1/twilio-media-stream-url", headers=headers) as r:
            url = (await r.json())["streamingUrl"]

        async def call(index: int) -> None:
            sid = f"CA{index:032x}"
            async with session.ws_connect(url) as ws:
                start = {
                    "event": "start",
                    "streamSid": f"MZ{index:032x}",
                    "start": {
                        "callSid": sid,
                        "streamSid": f"MZ{index:032x}",
                        "tracks": ["inbound", "outbound"],
                        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                    },
                }
                await ws.send_str(json.dumps(start))
                if started:  # transcription on (ASR off): audio is decoded and fed to the call's pipelines
                    body = {"namespace": "twilio", "guid": sid, "customerId": "c", "agentId": "a"}
                    async with session.post(
                        f"{base_url}/mg-autotranscribe/v1/start-streaming", json=body, headers=headers
                    ) as response:
                        assert response.status == 200, await response.text()
                nonlocal connected
                connected += 1
                if connected == 1:
                    result["first_media_at"] = time.monotonic()
                if connected == calls:  # every call streams from here on: the steady state
                    result["media_started_at"] = time.monotonic()
                # Twilio's own layout, built by formatting rather than json.dumps: cheaper for the client.
                media = (
                    '{"event":"media","sequenceNumber":"%d","media":{"track":"%s","chunk":"%d",'
                    '"timestamp":"%d","payload":"' + payload + '"},"streamSid":"MZ' + f"{index:032x}" + '"}'
                )
                loop = asyncio.get_running_loop()
                origin = loop.time() + index % 50 * 0.0004  # spread the calls over the 20 ms tick
                for chunk in range(int(seconds * 50)):
                    delay = origin + chunk * 0.02 - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    else:
                        lags.append(-delay)
                    await ws.send_str(media % (2 * chunk + 2, "inbound", chunk + 1, chunk * 20))
                    await ws.send_str(media % (2 * chunk + 3, "outbound", chunk + 1, chunk * 20))
                await ws.send_str(
                    json.dumps({"event": "stop", "streamSid": f"MZ{index:032x}", "stop": {"callSid": sid}})
                )

        await asyncio.gather(*(call(i) for i in range(first, first + calls)))
    result["send_lag_ms"] = percentiles(lags) if lags else {"n": 0}


def run_level(calls: int, started: bool, loop: str, seconds: float = 20.0, tree: Path | None = None) -> dict[str, Any]:
    """`tree`: a checkout of another commit to run the gateway from (bench/ab.py); this one if None."""
    overrides = {
        "MEDIAGW_ASR__ENABLED": "false",
        "MEDIAGW_TWILIO__IDLE_TIMEOUT_S": "120",
        "MEDIAGW_TWILIO__START_GRACE_S": "10",  # start-streaming may overtake the socket's start message
        "MEDIAGW_AUTH__REQUESTS_PER_SECOND": "0",  # every call starts within the first second
        "MEDIAGW_SERVER__EVENT_LOOP": loop,
    }
    with tempfile.TemporaryDirectory() as data:
        gateway = GatewayProcess(overrides, Path(data), tree=tree)
        try:
            manager = multiprocessing.Manager()
            result = manager.dict()
            client = multiprocessing.Process(target=_client, args=(gateway.base_url, calls, seconds, started, result))
            cpu0, wall0 = gateway.cpu_seconds(), time.monotonic()
            client.start()
            steady = asyncio.run(probe_while_media_flows(gateway, result, settle_s=2.0, window_s=seconds - 5.0))
            probe, steady_cores = steady
            client.join(seconds + 120)
            wall = time.monotonic() - wall0
            cpu = gateway.cpu_seconds() - cpu0
        finally:
            gateway.stop()
    shared = dict(result)
    first, last = shared.get("first_media_at"), shared.get("media_started_at")
    return {
        "calls": calls,
        "transcription_started": started,
        "event_loop": loop,
        "server_cpu_cores": round(cpu / wall, 2),
        "server_cpu_ms_per_call_second": round(cpu * 1000 / (calls * seconds), 3),
        # from 2 s after the last call connected, for `seconds` - 5 s: every call streams unless they took over 3 s
        # to connect (connect_spread_s)
        "steady_server_cpu_cores": round(steady_cores, 3),
        "steady_server_cpu_ms_per_call_second": round(steady_cores * 1000 / calls, 4),
        "health_probe_ms": percentiles(probe),
        "connect_spread_s": round(last - first, 2) if first is not None and last is not None else None,
        "client_send_lag_ms": shared.get("send_lag_ms"),
        "client_cpu_cores": shared.get("cpu_cores"),
        "client_done": client.exitcode == 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, nargs="*", default=[300, 500, 600])
    parser.add_argument("--baseline", action="store_true", help="also run each level on the asyncio loop")
    args = parser.parse_args()
    runs = [(calls, started) for calls in args.calls for started in (False, True)]
    loops = ["uvloop", "asyncio"] if args.baseline else ["uvloop"]
    levels = [(calls, started, loop) for (calls, started), loop in itertools.product(runs, loops)]
    run_levels("twilio_ingest", levels, lambda level: run_level(*level))


if __name__ == "__main__":
    main()

"""Genesys AudioHook Transcription Connector: event latency with ASR on, ping/pong at load with ASR off (JSON).

    python -m bench.audiohook_connector latency [--sessions 10]   # end of speech -> `event`, beside Monitor
    python -m bench.audiohook_connector load [--sessions 200]     # ASR off: ping/pong round trip

latency: one gateway (`mediagw serve`) and a webhook receiver; first N real-time connector sessions (the sample
calls, stereo PCMU in 100 ms frames, started up to 10 s apart), then, on the same gateway, N Monitor sessions
started with start-streaming. Connector: the `event`'s arrival at the client minus the moment the utterance's last
speech sample was sent; Monitor: the webhook POST's arrival at the receiver minus the same moment
(CLOCK_MONOTONIC is shared by the processes). load: on one gateway, N Monitor sessions (the baseline, started), then N
connector sessions, each 20 s of noise from a second process (uvloop) pinging every second; each pong's round trip
as the client measured it, and the connector's p99 over the baseline's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import re
import tempfile
import time
import uuid
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from bench.audiohook_ingest import KEY, SECRET
from bench.audiohook_latency import one_session as monitor_session
from bench.common import GatewayProcess, own_cpu_seconds, percentiles, speech_end_latencies, start_streaming
from bench.fairness import cpu_model
from bench.speech_latency import sample_call
from bench.webhooks import ReceiverProcess
from mediagw.simulators.audiohook import play_session

KEYS = json.dumps([{"key": KEY, "client_secret": SECRET}])
ROLE_OF_CHANNEL = {0: "customer", 1: "agent"}  # the stereo offer the simulator makes first: external, internal


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"PT(\d+(?:\.\d+)?)S", duration)
    return float(match[1]) if match else 0.0


async def _connector(session: aiohttp.ClientSession, base: str, index: int, delay: float, out: list[float]) -> int:
    """One connector session; its events' latencies into `out`; returns the events it got that matched no line."""
    await asyncio.sleep(delay)
    _, script, audio = sample_call(index)
    loop, began, unmatched = asyncio.get_running_loop(), [0.0], [0]

    async def opened() -> None:
        began[0] = loop.time()  # the first frame goes out next

    def on_message(message: dict[str, Any]) -> None:
        if message["type"] != "event":
            return
        for entity in message["parameters"]["entities"]:
            data = entity["data"]
            said = [u for u in script["utterances"] if u["role"] == ROLE_OF_CHANNEL[data["channelId"]]]
            start = _seconds(data["offset"]) * 1000
            match = min(said, key=lambda u: abs(u["start"] - start))
            if abs(match["start"] - start) > 500:
                unmatched[0] += 1
                continue
            out.append(loop.time() - (began[0] + match["end"] / 1000))

    url = base.replace("http://", "ws://") + "/mg-genesysaudiohook-connector/"
    await play_session(
        session,
        url,
        audio,
        conversation_id=str(uuid.uuid4()),
        api_key=KEY,
        client_secret=SECRET,
        on_opened=opened,
        on_message=on_message,
    )
    return unmatched[0]


async def _latency_phases(base: str, count: int) -> tuple[list[float], int, dict[str, Any]]:
    rng = random.Random(3)
    events: list[float] = []
    origins: dict[str, Any] = {}
    async with aiohttp.ClientSession() as session:
        delays = [rng.uniform(0, 10) for _ in range(count)]
        unmatched = await asyncio.gather(*(_connector(session, base, i, delays[i], events) for i in range(count)))
        await asyncio.gather(*(monitor_session(session, base, i, delays[i], origins) for i in range(count)))
    await asyncio.sleep(2)
    return events, sum(unmatched), origins


def latency(count: int) -> dict[str, Any]:
    receiver = ReceiverProcess("ok")
    targets = json.dumps([{"name": "bench", "url": receiver.url}])
    overrides = {"MEDIAGW_AUDIOHOOK__API_KEYS": KEYS, "MEDIAGW_WEBHOOKS__TARGETS": targets}
    with tempfile.TemporaryDirectory() as data:
        gateway = GatewayProcess(overrides, Path(data))
        try:
            events, unmatched, origins = asyncio.run(_latency_phases(gateway.base_url, count))
            stats = receiver.full()
        finally:
            gateway.stop()
            receiver.stop()
    monitor = [i for i, m in enumerate(stats["messages"]) if m["externalConversationId"] in origins]
    only = {key: [stats[key][i] for i in monitor] for key in ("messages", "arrived_at")}
    webhooks, monitor_unmatched = speech_end_latencies(only, origins)
    expected = sum(len(sample_call(i)[1]["utterances"]) for i in range(count))
    return {
        "benchmark": "audiohook_connector_latency",
        "cpu": cpu_model(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "sessions": count,
        "expected_utterances_each_phase": expected,
        "connector_events": len(events),
        "connector_unmatched": unmatched,
        "connector_speech_end_to_event_ms": percentiles(events),
        "monitor_webhook_posts": len(monitor),
        "monitor_unmatched": monitor_unmatched,
        "monitor_speech_end_to_webhook_ms": percentiles(webhooks),
    }


def _load_client(base_url: str, path: str, sessions: int, seconds: float, result: Any) -> None:
    import uvloop

    begun, cpu = time.monotonic(), own_cpu_seconds()
    uvloop.run(_load(base_url, path, sessions, seconds, result))
    result["client_cpu_cores"] = round((own_cpu_seconds() - cpu) / (time.monotonic() - begun), 2)


async def _load(base_url: str, path: str, sessions: int, seconds: float, result: Any) -> None:
    audio = np.random.default_rng(1).normal(0, 2000, (int(seconds * 8000), 2)).astype(np.int16)
    url = base_url.replace("http://", "ws://") + path
    monitor = "connector" not in path
    rtts: list[float] = []
    clean = problems = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:

        async def one(index: int) -> None:
            nonlocal clean, problems
            await asyncio.sleep(index % 100 * 0.01)  # spread over a second: the pings too
            conversation = str(uuid.uuid4())
            start = partial(start_streaming, http, base_url, "genesysaudiohook", conversation) if monitor else None
            outcome = await play_session(
                http,
                url,
                audio,
                conversation_id=conversation,
                on_opened=start,
                api_key=KEY,
                client_secret=SECRET,
                ping_every_s=1.0,
            )
            rtts.extend(outcome.rtts)
            problems += len(outcome.problems)
            clean += outcome.closed is not None

        await asyncio.gather(*(one(i) for i in range(sessions)))
    result.update(rtts=rtts, clean=clean, problems=problems)


def _load_phase(gateway: GatewayProcess, path: str, sessions: int, seconds: float) -> dict[str, Any]:
    result = multiprocessing.Manager().dict()
    cpu0, wall0 = gateway.cpu_seconds(), time.monotonic()
    client = multiprocessing.Process(target=_load_client, args=(gateway.base_url, path, sessions, seconds, result))
    client.start()
    client.join(seconds + 180)
    cores = (gateway.cpu_seconds() - cpu0) / (time.monotonic() - wall0)
    outcome = dict(result)
    rtts = list(outcome.get("rtts", []))  # s
    return {
        "pings": len(rtts),
        "ping_pong_rtt_ms": percentiles(rtts),
        "sessions_closed_cleanly": outcome.get("clean"),
        "protocol_problems": outcome.get("problems"),
        "gateway_cpu_cores": round(cores, 2),
        "client_cpu_cores": outcome.get("client_cpu_cores"),
    }


def load(sessions: int, seconds: float = 20.0) -> dict[str, Any]:
    """The same gateway takes N Monitor sessions (the baseline, started at `opened`), then N connector sessions."""
    overrides = {
        "MEDIAGW_ASR__ENABLED": "false",
        "MEDIAGW_AUTH__REQUESTS_PER_SECOND": "0",
        "MEDIAGW_AUDIOHOOK__API_KEYS": KEYS,
    }
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as data:
        gateway = GatewayProcess(overrides, Path(data))
        try:
            monitor = _load_phase(gateway, "/mg-genesysaudiohook-autotranscribe/", sessions, seconds)
            connector = _load_phase(gateway, "/mg-genesysaudiohook-connector/", sessions, seconds)
        finally:
            gateway.stop()
    p99 = connector["ping_pong_rtt_ms"]["p99"]
    base = monitor["ping_pong_rtt_ms"]["p99"]
    return {
        "benchmark": "audiohook_connector_load",
        "cpu": cpu_model(),
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "sessions": sessions,
        "asr": False,
        "monitor_baseline": monitor,
        "connector": connector,
        "connector_rtt_p99_under_50_ms": p99 is not None and p99 < 50,
        "connector_over_monitor_rtt_p99": round(p99 / base, 2) if p99 is not None and base else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["latency", "load"])
    parser.add_argument("--sessions", type=int, default=None)
    args = parser.parse_args()
    os.environ.setdefault("MEDIAGW_LOGGING__LEVEL", "WARNING")
    report = latency(args.sessions or 10) if args.mode == "latency" else load(args.sessions or 200)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

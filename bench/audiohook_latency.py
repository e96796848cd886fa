"""Ten concurrent real-time Genesys AudioHook sessions with ASR on: end of utterance to webhook POST (JSON).

    python -m bench.audiohook_latency [--sessions 10]

Gateway, webhook receiver and the Genesys-like simulator run in three processes. Each session replays a sample
call (customer = external, agent = internal, 100 ms stereo PCMU frames), started up to 10 s apart;
start-streaming is sent when `opened` arrives. Latency is the receiver's arrival time minus the moment the
utterance's last speech sample was sent (CLOCK_MONOTONIC is shared by the processes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from bench.audiohook_ingest import HEADERS, KEY, SECRET
from bench.common import GatewayProcess, percentiles, speech_end_latencies
from bench.webhooks import ReceiverProcess
from mediagw.offline import read_channels
from mediagw.simulators.audiohook import play_session

CALLS_DIR = Path(__file__).resolve().parent.parent / "samples" / "calls"


async def one_session(
    session: aiohttp.ClientSession, base: str, index: int, delay: float, origins: dict[str, Any]
) -> None:
    await asyncio.sleep(delay)
    name = ["billing", "travel"][index % 2]
    script = json.loads((CALLS_DIR / f"{name}.json").read_text())
    channels = read_channels(CALLS_DIR / f"{name}.flac")
    audio = np.stack([channels[script["channels"].index(role)] for role in ("customer", "agent")], axis=1)
    conversation = str(uuid.uuid4())

    async def start() -> None:
        body = {"namespace": "genesysaudiohook", "guid": conversation, "customerId": "c", "agentId": "a"}
        async with session.post(f"{base}/mg-autotranscribe/v1/start-streaming", json=body, headers=HEADERS) as r:
            assert r.status == 200, await r.text()
        origins[conversation] = (asyncio.get_running_loop().time(), script)  # the first frame goes out next

    url = base.replace("http://", "ws://") + "/mg-genesysaudiohook-autotranscribe/"
    await play_session(
        session, url, audio, conversation_id=conversation, api_key=KEY, client_secret=SECRET, on_opened=start
    )


async def drive(base: str, sessions: int) -> dict[str, Any]:
    rng = random.Random(3)
    origins: dict[str, Any] = {}
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(one_session(session, base, i, rng.uniform(0, 10), origins) for i in range(sessions)))
    await asyncio.sleep(2)
    return origins


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=10)
    args = parser.parse_args()
    receiver = ReceiverProcess("ok")
    with tempfile.TemporaryDirectory() as data:
        gateway = GatewayProcess(
            {
                "MEDIAGW_AUDIOHOOK__API_KEYS": json.dumps([{"key": KEY, "client_secret": SECRET}]),
                "MEDIAGW_WEBHOOKS__TARGETS": json.dumps([{"name": "bench", "url": receiver.url}]),
            },
            Path(data),
        )
        try:
            origins = asyncio.run(drive(gateway.base_url, args.sessions))
            stats = receiver.full()
        finally:
            gateway.stop()
            receiver.stop()
    latencies, unmatched = speech_end_latencies(stats, origins)
    expected = sum(len(script["utterances"]) for _, script in origins.values())
    print(
        json.dumps(
            {
                "benchmark": "audiohook_latency",
                "sessions": args.sessions,
                "webhook_posts": len(stats["messages"]),
                "expected_utterances": expected,
                "unmatched": unmatched,
                "speech_end_to_webhook_ms": percentiles(latencies),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()

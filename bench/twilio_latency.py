"""Ten concurrent real-time Twilio calls with ASR on: end of utterance to webhook POST received (JSON).

    python -m bench.twilio_latency [--calls 10]

Gateway, webhook receiver and the simulated Twilio calls run in three processes. Calls replay the sample
calls (both tracks on one socket), started up to 10 s apart; start-streaming is sent as the media connects
(twilio.start_grace_s covers the race). Latency is the receiver's arrival time minus the moment the
utterance's last speech sample was sent (CLOCK_MONOTONIC is shared by the processes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import GatewayProcess, percentiles, speech_end_latencies
from bench.webhooks import ReceiverProcess
from mediagw.offline import read_channels
from mediagw.simulators.twilio import call_sid, media_stream_url, play_call, stereo_tracks

CALLS_DIR = Path(__file__).resolve().parent.parent / "samples" / "calls"
HEADERS = {"asapp-api-id": "local-dev", "asapp-api-secret": "local-dev-secret"}


async def one_call(session: aiohttp.ClientSession, base: str, name: str, delay: float, origins: dict[str, Any]) -> None:
    await asyncio.sleep(delay)
    script = json.loads((CALLS_DIR / f"{name}.json").read_text())
    tracks = stereo_tracks(read_channels(CALLS_DIR / f"{name}.flac"), script["channels"])
    sid = call_sid()
    url = await media_stream_url(session, base, "local-dev", "local-dev-secret")
    body = {"namespace": "twilio", "guid": sid, "customerId": "c", "agentId": "a"}
    start = asyncio.create_task(
        session.post(f"{base}/mg-autotranscribe/v1/start-streaming", json=body, headers=HEADERS)
    )
    origins[sid] = (asyncio.get_running_loop().time(), script)
    await play_call(session, url, tracks, sid, realtime=True)
    (await start).release()


async def drive(base: str, calls: int) -> dict[str, Any]:
    rng = random.Random(3)
    origins: dict[str, Any] = {}
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(
            *(one_call(session, base, ["billing", "travel"][i % 2], rng.uniform(0, 10), origins) for i in range(calls))
        )
    await asyncio.sleep(2)
    return origins


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10)
    args = parser.parse_args()
    receiver = ReceiverProcess("ok")
    hook = receiver.url
    with tempfile.TemporaryDirectory() as data:
        gateway = GatewayProcess(
            {
                "MEDIAGW_TWILIO__START_GRACE_S": "10",
                "MEDIAGW_WEBHOOKS__TARGETS": json.dumps([{"name": "bench", "url": hook}]),
            },
            Path(data),
        )
        try:
            origins = asyncio.run(drive(gateway.base_url, args.calls))
            stats = receiver.full()
        finally:
            gateway.stop()
            receiver.stop()
    latencies, unmatched = speech_end_latencies(stats, origins)
    expected = sum(len(origins[s][1]["utterances"]) for s in origins)
    print(
        json.dumps(
            {
                "benchmark": "twilio_latency",
                "calls": args.calls,
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

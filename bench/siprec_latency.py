"""Ten concurrent real-time SIPREC calls with ASR on: end of utterance to webhook POST received (JSON).

    python -m bench.siprec_latency [--calls 10]

Gateway, webhook receiver and the SRC run in three processes. Each call replays a sample call (customer on
the first m-line, agent on the second, PCMU) from our asyncio SRC, started up to 10 s apart; start-streaming
follows the 200 OK. Latency is the receiver's arrival time minus the moment the utterance's last speech
sample was sent (CLOCK_MONOTONIC is shared by the processes).
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
import numpy as np

from bench.common import GatewayProcess, percentiles, speech_end_latencies
from bench.webhooks import ReceiverProcess
from mediagw.offline import read_channels
from mediagw.simulators.siprec_call import SiprecCall
from tests.gateway import free_port

CALLS_DIR = Path(__file__).resolve().parent.parent / "samples" / "calls"
HEADERS = {"asapp-api-id": "local-dev", "asapp-api-secret": "local-dev-secret"}


async def one_call(
    session: aiohttp.ClientSession, base: str, sip_port: int, index: int, delay: float, origins: dict[str, Any]
) -> None:
    await asyncio.sleep(delay)
    name = ["billing", "travel"][index % 2]
    script = json.loads((CALLS_DIR / f"{name}.json").read_text())
    channels = read_channels(CALLS_DIR / f"{name}.flac")
    order = [script["channels"].index("customer"), script["channels"].index("agent")]
    audio = np.stack([channels[i] for i in order], axis=1)
    guid = f"{10**19 + index:020d}"
    async with SiprecCall(("127.0.0.1", sip_port), guid) as call:
        assert await call.invite() == 200
        body = {"namespace": "siprec", "guid": guid, "customerId": "c", "agentId": "a"}
        async with session.post(f"{base}/mg-autotranscribe/v1/start-streaming", json=body, headers=HEADERS) as r:
            assert r.status == 200, await r.text()
        origins[guid] = (asyncio.get_running_loop().time(), script)
        await call.play(audio)
        await call.bye()


async def drive(base: str, sip_port: int, calls: int) -> dict[str, Any]:
    rng = random.Random(3)
    origins: dict[str, Any] = {}
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(one_call(session, base, sip_port, i, rng.uniform(0, 10), origins) for i in range(calls)))
    await asyncio.sleep(2)
    return origins


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10)
    args = parser.parse_args()
    receiver = ReceiverProcess("ok")
    sip_port = free_port()
    with tempfile.TemporaryDirectory() as data:
        gateway = GatewayProcess(
            {
                "MEDIAGW_SIPREC__PORT": str(sip_port),
                "MEDIAGW_SIPREC__HOST": "127.0.0.1",
                "MEDIAGW_WEBHOOKS__TARGETS": json.dumps([{"name": "bench", "url": receiver.url}]),
            },
            Path(data),
        )
        try:
            origins = asyncio.run(drive(gateway.base_url, sip_port, args.calls))
            stats = receiver.full()
        finally:
            gateway.stop()
            receiver.stop()
    latencies, unmatched = speech_end_latencies(stats, origins)
    expected = sum(len(script["utterances"]) for _, script in origins.values())
    print(
        json.dumps(
            {
                "benchmark": "siprec_latency",
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

"""How many concurrent Amazon Connect KVS readers one gateway runs, ASR off (JSON).

    python -m bench.kvs_ingest                        # 100 and 300 readers, 30 s streams
    python -m bench.kvs_ingest --readers 300 400 --seconds 40

The gateway runs as `mediagw serve` with asr.enabled false and amazon_connect.endpoint_url pointed at a local
KVS endpoint (mediagw/simulators/kvs_endpoint.py) in a second process, which serves every stream at real-time
pace: two-track Connect fragments (tests/fixtures/kvs/make_mkv.py's synthetic layout, 20 ms blocks, 2 s
fragments), each sent whole as it "arrives". The bench sends start-streaming for N contacts (each its own
stream ARN) spread over 2 s, so each starts a boto3 GetMedia reader; it probes /v1/health and the gateway's CPU
while the streams play, and sends stop-streaming once they have ended. Reported per level: the gateway's CPU
(cores, and ms per reader-second), probe latency, readers whose stop-streaming summary counted every customer
byte sent (complete) or whose status was not 1000, and the endpoint's own CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import API_HEADERS, GatewayProcess, own_cpu_seconds, percentiles, run_levels
from tests.gateway import free_port

ARN = "arn:aws:kinesisvideo:us-east-1:123456789012:stream/connect-bench-{index}/1700000000000"
START_SPREAD_S = 2.0


def _endpoint(port: int, readers: int, seconds: float, ready: Any, done: Any, result: Any) -> None:
    """The KVS endpoint process: every stream the same fragments (shared, not copied), real-time pace."""
    import uvloop
    from aiohttp import web

    from mediagw.simulators.kvs_endpoint import KvsEndpoint, KvsFragment, KvsStream
    from tests.fixtures.kvs.make_mkv import synthetic_stream

    fragments = [KvsFragment(str(i + 1), data, 2.0) for i, data in enumerate(synthetic_stream(seconds))]
    endpoint = KvsEndpoint(speed=1.0, chunk_bytes=16384)
    endpoint.base_url = f"http://127.0.0.1:{port}"
    for index in range(readers):
        arn = ARN.format(index=index)
        endpoint.streams[arn] = KvsStream(arn, fragments)

    async def serve() -> None:
        runner = web.AppRunner(endpoint.app(), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
        ready.set()
        begun, cpu = time.monotonic(), own_cpu_seconds()
        await asyncio.to_thread(done.wait)
        result["endpoint_cpu_cores"] = round((own_cpu_seconds() - cpu) / (time.monotonic() - begun), 2)
        await runner.cleanup()

    uvloop.run(serve())


async def _drive(base_url: str, gateway: GatewayProcess, readers: int, seconds: float) -> dict[str, Any]:
    contacts = [str(uuid.uuid4()) for _ in range(readers)]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:

        async def post(kind: str, body: dict[str, Any]) -> dict[str, Any]:
            async with http.post(
                f"{base_url}/mg-autotranscribe/v1/{kind}-streaming", json=body, headers=API_HEADERS
            ) as r:
                return {"http": r.status, **(await r.json())}

        async def start(index: int) -> dict[str, Any]:
            await asyncio.sleep(index * START_SPREAD_S / readers)
            body = {
                "namespace": "amazonconnect",
                "guid": contacts[index],
                "customerId": "c",
                "agentId": "a",
                "amazonConnectParams": {"streamArn": ARN.format(index=index), "startSelectorType": "NOW"},
            }
            begun = time.monotonic()
            answer = await post("start", body)
            return {"ok": answer.get("isOk") is True, "latency": time.monotonic() - begun}

        started = await asyncio.gather(*(start(i) for i in range(readers)))
        await asyncio.sleep(3.0)  # the readers' first fragments are in: the steady state begins
        probe, cpu0, wall0 = [], gateway.cpu_seconds(), time.monotonic()
        while time.monotonic() < wall0 + seconds - 8:
            begun = time.monotonic()
            async with http.get(f"{base_url}/v1/health") as response:
                await response.read()
            probe.append(time.monotonic() - begun)
            await asyncio.sleep(0.2)
        cores = (gateway.cpu_seconds() - cpu0) / (time.monotonic() - wall0)
        await asyncio.sleep(max(0.0, wall0 + seconds + 2.0 - time.monotonic()))  # every stream has ended
        stops = await asyncio.gather(*(post("stop", {"namespace": "amazonconnect", "guid": c}) for c in contacts))
    expected = int(seconds) // 2 * 2 * 8000 * 2  # whole 2 s fragments, 16-bit customer samples
    customer = [s.get("autotranscribeResponse", {}).get("customer", {}) for s in stops]
    return {
        "started_ok": sum(s["ok"] for s in started),
        "start_streaming_ms": percentiles([s["latency"] for s in started]),
        "gateway_cpu_cores": round(cores, 2),
        "gateway_cpu_ms_per_reader_second": round(cores * 1000 / readers, 3),
        "health_probe_ms": percentiles(probe),
        "readers_complete": sum(c.get("summary", {}).get("totalAudioBytes") == expected for c in customer),
        "readers_failed": sum(c.get("status", {}).get("code") != 1000 for c in customer),
    }


def run_level(readers: int, seconds: float) -> dict[str, Any]:
    port = free_port()
    manager = multiprocessing.Manager()
    ready, done, result = manager.Event(), manager.Event(), manager.dict()
    endpoint = multiprocessing.Process(target=_endpoint, args=(port, readers, seconds, ready, done, result))
    endpoint.start()
    ready.wait(60)
    overrides = {
        "MEDIAGW_ASR__ENABLED": "false",
        "MEDIAGW_AUTH__REQUESTS_PER_SECOND": "0",
        "MEDIAGW_AMAZON_CONNECT__ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "MEDIAGW_AMAZON_CONNECT__MAX_READERS": str(max(400, readers)),
        "AWS_ACCESS_KEY_ID": "AKIDBENCH",
        "AWS_SECRET_ACCESS_KEY": "bench-secret",
    }
    try:
        with tempfile.TemporaryDirectory() as data:
            gateway = GatewayProcess(overrides, Path(data))
            try:
                outcome = asyncio.run(_drive(gateway.base_url, gateway, readers, seconds))
            finally:
                gateway.stop()
    finally:
        done.set()
        endpoint.join(30)
    return {
        "readers": readers,
        "stream_seconds": seconds,
        **outcome,
        "endpoint_cpu_cores": result.get("endpoint_cpu_cores"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readers", type=int, nargs="*", default=[100, 300])
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    run_levels("kvs_ingest", args.readers, lambda readers: run_level(readers, args.seconds))


if __name__ == "__main__":
    main()

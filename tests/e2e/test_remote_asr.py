"""A gateway with asr.backend redis and two `mediagw asr-worker` processes: direct WebSocket API audio in,
transcripts out; a worker SIGKILLed while it holds jobs loses none and duplicates none; languages follow the live
workers; Redis unreachable at start or lost while running is named without its password."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from asr.jobs import GROUP, Keys
from mediagw.config import RemoteAsrConfig
from mediagw.evaluation import word_error_rate
from mediagw.simulators.direct_ws import StreamResult, stream_audio, streaming_url
from tests.asr_workers import ROOT, AsrWorkerProcess, write_config
from tests.conftest import channel_of
from tests.e2e.api import control
from tests.gateway import API_ID, API_SECRET, GatewayThread, free_port, make_config
from tests.loop_stalls import SlowCallbackRecorder
from tests.redis_server import PASSWORD, RedisServer
from tests.waits import eventually

pytestmark = pytest.mark.e2e
KEYS = Keys()
REMOTE = RemoteAsrConfig(deadline_s=60, visibility_timeout_s=2, heartbeat_s=0.2)


@pytest.fixture
def workers(tmp_path: Path, redis_url: str) -> Iterator[list[AsrWorkerProcess]]:
    config = write_config(tmp_path / "worker.yaml", redis_url)
    started = [AsrWorkerProcess(config, f"worker{i}") for i in range(2)]
    yield started
    for worker in started:
        worker.stop()


@pytest.fixture
def remote_gateway(tmp_path: Path, redis_url: str, slow_callbacks: SlowCallbackRecorder) -> Iterator[GatewayThread]:
    """A gateway that loads no model. Its loop's slow-callback bar is 0.5 s, not 0.1: here the two worker
    processes decode on the same two cores as the gateway (on real hosts they are elsewhere), and a core kept busy
    by a decode stretches any callback's wall time."""
    config = make_config(
        tmp_path / "data",
        asr={"backend": "redis", "remote": REMOTE},
        cluster={"redis_url": redis_url, "node_id": "a"},
        auth={"token_secret": "a-cluster-wide-test-secret"},
    )
    gateway = GatewayThread(config, None, slow_callback_s=0.5).start()
    yield gateway
    gateway.stop()
    assert not slow_callbacks.records, f"event loop blocked: {slow_callbacks.records}"


async def live_workers(gateway: GatewayThread, count: int) -> None:
    remote = gateway.services.remote_asr
    assert remote is not None
    await eventually(lambda: len(remote.workers), until=lambda n: n == count, timeout_s=120, what=f"{count} workers")


async def stream(gateway: GatewayThread, samples: Any, **fields: Any) -> StreamResult:
    async with aiohttp.ClientSession() as session:
        url = await streaming_url(session, gateway.base_url, API_ID, API_SECRET, f"remote-{uuid.uuid4()}")
        return await stream_audio(session, url, samples, start_fields=fields, realtime=False)


def texts(result: StreamResult) -> list[str]:
    return [t["utterance"][0]["text"] for t in result.transcripts]


async def test_utterances_are_transcribed_by_remote_workers(
    remote_gateway: GatewayThread, workers: list[AsrWorkerProcess], call_audio: Any
) -> None:
    await live_workers(remote_gateway, 2)
    samples, script = channel_of(call_audio["billing"], "customer")
    result = await stream(remote_gateway, samples)
    assert result.final_response is not None and result.final_response["status"]["code"] == "1000"
    assert len(result.transcripts) == len(script)
    assert word_error_rate([u["text"] for u in script], texts(result)) <= 0.2, texts(result)
    assert remote_gateway.services.recognizer is None  # the node loaded no model
    for outcome in ("used", "skipped", "wasted"):  # decoded once, at the confirmed end
        assert remote_gateway.metric("mediagw_speculative_decodes_total", outcome=outcome) == 0
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{remote_gateway.base_url}/v1/health") as response:
            health = await response.json()
        async with session.get(f"{remote_gateway.base_url}/metrics") as response:
            metrics = await response.text()
    assert health["healthCheck"] == "SUCCESS"
    assert health["asr"] == {"backend": "redis", "workers": 2, "models": ["bundled"], "languages": ["en-US"]}
    assert "mediagw_asr_workers 2.0" in metrics and 'mediagw_asr_stream_jobs{state="queued"}' in metrics
    assert remote_gateway.metric("mediagw_asr_remote_results_total", outcome="used") == len(script)


async def test_a_worker_killed_holding_jobs_loses_and_duplicates_nothing(
    remote_gateway: GatewayThread, workers: list[AsrWorkerProcess], call_audio: Any, redis_url: str
) -> None:
    await live_workers(remote_gateway, 2)
    victim, survivor = workers
    consumer = f"{socket.gethostname()}:{victim.pid}"
    channels = [channel_of(call_audio[name], role) for name in ("billing", "travel") for role in ("customer", "agent")]
    redis = Redis.from_url(redis_url, protocol=2)
    try:
        streams = asyncio.gather(*(stream(remote_gateway, samples) for samples, _ in channels))

        async def held() -> int:
            for entry in await redis.xinfo_consumers(KEYS.jobs("en"), GROUP):
                if entry["name"].decode() == consumer:
                    return int(entry["pending"])
            return 0

        await eventually(held, until=lambda n: n > 0, interval_s=0.005, what="the victim holding jobs")
        victim.kill()
        results = await streams
    finally:
        await redis.aclose()
    for result, (_, script) in zip(results, channels, strict=True):
        assert result.final_response is not None and result.final_response["status"]["code"] == "1000"
        assert len(result.transcripts) == len(script), texts(result)  # none lost, none twice
        assert len({t["start"] for t in result.transcripts}) == len(script)
        assert word_error_rate([u["text"] for u in script], texts(result)) <= 0.25, texts(result)
    assert "took over" in survivor.output()
    assert remote_gateway.metric("mediagw_asr_remote_results_total", outcome="used") == sum(len(s) for _, s in channels)


async def test_a_language_no_live_worker_has_is_refused_with_4050(
    remote_gateway: GatewayThread, workers: list[AsrWorkerProcess], call_audio: Any
) -> None:
    await live_workers(remote_gateway, 2)
    samples, _ = channel_of(call_audio["billing"], "customer")
    result = await stream(remote_gateway, samples[: 8000 * 2], language="es-US")
    assert result.final_response is not None and result.final_response["status"]["code"] == "4050"
    assert result.transcripts == []


async def test_start_streaming_refuses_a_language_no_live_worker_has_with_400_202(
    remote_gateway: GatewayThread, workers: list[AsrWorkerProcess]
) -> None:
    start = {
        "namespace": "siprec",
        "guid": "00002542391662063157",
        "customerId": "TT9833237",
        "agentId": "RE223444211993",
        "siprecParams": {"mediaLineOrder": "CUSTOMER_FIRST"},
    }
    async with aiohttp.ClientSession() as session:
        await live_workers(remote_gateway, 2)
        spanish = await control(
            session, remote_gateway, "start", {**start, "autotranscribeParams": {"language": "es-US"}}
        )
        english = await control(
            session, remote_gateway, "start", {**start, "autotranscribeParams": {"language": "en-US"}}
        )
        await asyncio.gather(*(asyncio.to_thread(worker.stop) for worker in workers))  # SIGTERM: a clean exit
        await live_workers(remote_gateway, 0)
        alone = await control(
            session, remote_gateway, "start", {**start, "autotranscribeParams": {"language": "en-US"}}
        )
    assert spanish["error"]["code"] == "400-202", spanish
    assert english["error"]["code"] == "400-203", english  # a language the workers have: only the call is missing
    assert alone["error"]["code"] == "400-202", alone  # no live worker: no language at all


def run_command(tmp_path: Path, command: str, redis_url: str) -> subprocess.CompletedProcess[str]:
    config = write_config(tmp_path / f"{command}.yaml", redis_url)
    args = [sys.executable, "-m", "mediagw.cli", "--config", str(config), command]
    if command == "serve":
        args += ["--host", "127.0.0.1", "--port", str(free_port())]
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", ["serve", "asr-worker"])
def test_redis_unreachable_at_start_is_named_without_its_password(tmp_path: Path, command: str) -> None:
    port = free_port()  # nothing listens there
    done = run_command(tmp_path, command, f"redis://:{PASSWORD}@127.0.0.1:{port}/0")
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"Redis at 127.0.0.1:{port}/0 is unreachable" in done.stderr
    assert PASSWORD not in done.stderr + done.stdout


async def test_redis_lost_while_running_fails_health_and_everything_resumes(
    remote_gateway: GatewayThread, workers: list[AsrWorkerProcess], call_audio: Any, redis_server: RedisServer
) -> None:
    await live_workers(remote_gateway, 2)
    health_url = f"{remote_gateway.base_url}/v1/health"

    def health() -> tuple[int, str]:
        try:
            with urllib.request.urlopen(health_url, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    redis_server.stop()
    where = f"(Redis at 127.0.0.1:{redis_server.port}/0)"
    lost = [f"ASR queue unreachable {where}", f"shared state unreachable {where}"]  # each notices in its own time
    status, body = await eventually(
        lambda: asyncio.to_thread(health), until=lambda h: all(p in h[1] for p in lost), what="FAILED"
    )
    assert status == 503 and PASSWORD not in body
    samples, script = channel_of(call_audio["billing"], "customer")
    during = asyncio.create_task(stream(remote_gateway, samples))  # media keeps flowing meanwhile
    await eventually(
        lambda: remote_gateway.metric("mediagw_audio_seconds_total", ingress="websocket"), until=lambda s: s > 5
    )
    redis_server.start()  # empty: the group, the workers' heartbeats and the node's key come back by themselves
    await eventually(lambda: asyncio.to_thread(health), until=lambda h: h[0] == 200, timeout_s=60, what="SUCCESS")
    await live_workers(remote_gateway, 2)
    result = await during
    assert result.final_response is not None and result.final_response["status"]["code"] == "1000"
    assert len(result.transcripts) == len(script)  # queued while Redis was away, decoded once it was back
    after = await stream(remote_gateway, samples)
    assert len(after.transcripts) == len(script)

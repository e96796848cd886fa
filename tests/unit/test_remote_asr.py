"""Remote ASR over the tests' own redis-server: the node's client (mediagw/backends/redis_asr.py) and the worker
loop (asr/remote_worker.py) with the real tiny.en model. A "dead worker" is a consumer that read jobs from the group
and never answers, as a killed process leaves them."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from asr.jobs import GROUP, AsrJob, AsrResult, Keys, WorkerInfo
from asr.pool import Abandoned
from asr.recognizer import Recognition, RecognitionRequest, Recognizer
from asr.remote_worker import RemoteWorker, WorkerOptions, ensure_group
from mediagw.backends.redis_asr import RedisAsr, RemoteTimeout
from mediagw.backends.redis_link import RedisUnavailable, client, connect
from mediagw.config import RemoteAsrConfig
from tests.conftest import channel_of, clip
from tests.redis_server import PASSWORD, RedisServer
from tests.waits import eventually

KEYS = Keys()


@pytest.fixture
def utterances(call_audio: dict[str, Any]) -> list[RecognitionRequest]:
    samples, script = channel_of(call_audio["billing"], "agent")
    return [RecognitionRequest(clip(samples, u["start"] - 200, u["end"] + 200)) for u in script[:3]]


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    connection = client(redis_url)
    yield connection
    await connection.aclose()


async def node(redis_url: str, **options: float) -> RedisAsr:
    asr = RedisAsr(client(redis_url), "node-a", "127.0.0.1", RemoteAsrConfig(**options), CollectorRegistry())
    await asr.open()
    return asr


class Worker:
    """A RemoteWorker running as a task, as `mediagw asr-worker` runs it."""

    def __init__(self, redis_url: str, recognizer: Recognizer, name: str, visibility_s: float = 15.0) -> None:
        info = WorkerInfo(name, recognizer.model_name, tuple(recognizer.languages), "cpu", 4)
        self.redis = client(redis_url)
        self.loop = RemoteWorker(self.redis, recognizer.recognize_batch, info, WorkerOptions(4, visibility_s, 0.2, 100))
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(self.loop.run(self.stop))

    async def close(self) -> None:
        self.stop.set()
        await self.task
        await self.redis.aclose()


async def test_utterances_decoded_remotely_match_the_local_decode(
    redis_url: str, recognizer: Recognizer, utterances: list[RecognitionRequest]
) -> None:
    asr = await node(redis_url)
    worker = Worker(redis_url, recognizer, "w1")
    try:
        remote = await asyncio.gather(*(asr.transcribe(u) for u in utterances))
    finally:
        await worker.close()
        await asr.close()
    local = recognizer.recognize_batch(utterances)
    assert [r.text for r in remote] == [r.text for r in local]
    assert all(r.text for r in remote) and worker.loop.decoded == len(utterances)


async def test_node_learns_workers_and_their_languages(redis_url: str, recognizer: Recognizer) -> None:
    asr = await node(redis_url, heartbeat_s=0.1)
    try:
        assert asr.languages == []  # no worker yet: every language is refused
        worker = Worker(redis_url, recognizer, "w1")
        await eventually(lambda: asr.languages, until=lambda codes: codes == ["en"], what="worker seen")
        assert asr.metrics.workers._value.get() == 1
        await worker.close()  # a clean exit leaves the registry at once
        await eventually(lambda: asr.languages, until=lambda codes: codes == [], what="worker gone")
    finally:
        await asr.close()


async def test_each_job_reaches_a_worker_whose_model_has_its_language(
    redis_url: str, recognizer: Recognizer, multilingual_recognizer: Recognizer, spanish_call: Any
) -> None:
    """tiny.en and the multilingual base in one cluster: Spanish goes only to base, and the node takes both."""
    channels, script = spanish_call
    samples = channels[script["channels"].index("customer")]
    spanish = [
        RecognitionRequest(clip(samples, u["start"] - 200, u["end"] + 200), language="es")
        for u in script["utterances"]
        if u["role"] == "customer"
    ][:3]
    asr = await node(redis_url, heartbeat_s=0.1)
    english, multilingual = Worker(redis_url, recognizer, "tiny"), Worker(redis_url, multilingual_recognizer, "base")
    try:
        await eventually(lambda: asr.languages, until=lambda codes: {"en", "es"} <= set(codes), what="both seen")
        results = await asyncio.wait_for(asyncio.gather(*(asr.transcribe(u) for u in spanish)), 120)
    finally:
        await english.close()
        await multilingual.close()
        await asr.close()
    assert all(r.text for r in results)
    assert (english.loop.decoded, multilingual.loop.decoded) == (0, len(spanish))


async def test_jobs_a_dead_worker_held_are_reclaimed_and_answered_once(
    redis_url: str, redis: Redis, recognizer: Recognizer, utterances: list[RecognitionRequest]
) -> None:
    asr = await node(redis_url)
    try:
        pending = [asyncio.create_task(asr.transcribe(u)) for u in utterances]
        await eventually(lambda: redis.xlen(KEYS.jobs("en")), until=lambda n: n == len(utterances), what="jobs queued")
        held = await redis.xreadgroup(GROUP, "dead-worker", {KEYS.jobs("en"): ">"}, count=10)  # read, never answered
        assert len(held[0][1]) == len(utterances)
        worker = Worker(redis_url, recognizer, "w2", visibility_s=0.5)
        try:
            results = await asyncio.wait_for(asyncio.gather(*pending), 60)
        finally:
            await worker.close()
        assert all(r.text for r in results) and worker.loop.reclaimed == len(utterances)
        assert await redis.xlen(KEYS.jobs("en")) == 0  # answered jobs are acknowledged and deleted
        summary = await redis.xpending(KEYS.jobs("en"), GROUP)
        assert summary["pending"] == 0
    finally:
        await asr.close()


async def test_utterances_waiting_when_redis_restarts_empty_are_queued_again_and_answered_once(
    redis_server: RedisServer,
    redis_url: str,
    redis: Redis,
    recognizer: Recognizer,
    utterances: list[RecognitionRequest],
) -> None:
    """A Redis without persistence restarted while jobs waited for a worker: the jobs stream is gone with it. The
    node sees the epoch it knew is gone, queues its waiting utterances again, and each is answered exactly once."""
    asr = await node(redis_url, heartbeat_s=0.2, deadline_s=60)
    try:
        pending = [asyncio.create_task(asr.transcribe(u)) for u in utterances]
        await eventually(lambda: redis.xlen(KEYS.jobs("en")), until=lambda n: n == len(utterances), what="jobs queued")
        redis_server.stop()
        redis_server.start()  # empty
        await eventually(lambda: asr.requeued, until=lambda n: n == len(utterances), what="jobs queued again")
        worker = Worker(redis_url, recognizer, "w1")
        try:
            results = await asyncio.wait_for(asyncio.gather(*pending), 60)
        finally:
            await worker.close()
        assert all(r.text for r in results)
        assert worker.loop.decoded == len(utterances) and asr.ignored == 0  # once each, no duplicate
    finally:
        await asr.close()


async def test_a_second_answer_to_one_job_is_ignored(
    redis_url: str, redis: Redis, utterances: list[RecognitionRequest]
) -> None:
    asr = await node(redis_url)
    try:
        pending = asyncio.create_task(asr.transcribe(utterances[0]))
        await eventually(lambda: redis.xlen(KEYS.jobs("en")), until=lambda n: n == 1, what="job queued")
        ((_, [(_, fields)]),) = await redis.xread({KEYS.jobs("en"): "0-0"})
        job = AsrJob.parse(fields)
        for worker, text in (("slow", "first"), ("fast", "second")):  # the same job decoded by two workers
            await redis.xadd(KEYS.results("node-a"), AsrResult(job.job_id, worker, Recognition(text)).fields())
        assert (await pending).text == "first"
        await eventually(lambda: asr.ignored, until=lambda n: n == 1, what="duplicate ignored")
    finally:
        await asr.close()


async def test_expired_cancelled_and_orphaned_jobs_are_dropped_undecoded(
    redis_url: str, redis: Redis, recognizer: Recognizer, utterances: list[RecognitionRequest]
) -> None:
    await ensure_group(redis, KEYS, ["en"])
    await redis.set(KEYS.node("node-a"), b"boot1")
    later = int((time.time() + 60) * 1000)
    jobs = {
        "expired": AsrJob("boot1-0", "node-a", "boot1", int(time.time() * 1000) - 1, utterances[0]),
        "cancelled": AsrJob("boot1-1", "node-a", "boot1", later, utterances[0]),
        "orphaned": AsrJob("boot0-2", "node-a", "boot0", later, utterances[0]),  # its node restarted since
        "gone": AsrJob("boot9-3", "node-z", "boot9", later, utterances[0]),  # its node is gone
    }
    await redis.set(KEYS.cancelled("boot1-1"), b"1")
    for job in jobs.values():
        await redis.xadd(KEYS.jobs("en"), job.fields())
    await redis.xadd(KEYS.jobs("en"), {b"v": b"1", b"id": b"x"})  # malformed
    worker = Worker(redis_url, recognizer, "w1")
    try:
        await eventually(lambda: redis.xlen(KEYS.jobs("en")), until=lambda n: n == 0, what="jobs handled")
    finally:
        await worker.close()
    assert worker.loop.decoded == 0
    assert dict(worker.loop.dropped) == {"expired": 1, "cancelled": 1, "orphaned": 2, "malformed": 1}
    counts = await redis.hgetall(KEYS.dropped)
    assert counts == {b"expired": b"1", b"cancelled": b"1", b"orphaned": b"2", b"malformed": b"1"}
    assert await redis.xlen(KEYS.results("node-a")) == 0


async def test_no_answer_by_the_deadline_fails_and_cancels_the_job(
    redis_url: str, redis: Redis, utterances: list[RecognitionRequest], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mediagw.backends.redis_asr.DECODE_GRACE_S", 0.0)
    asr = await node(redis_url, deadline_s=0.3)
    try:
        with pytest.raises(RemoteTimeout):
            await asr.transcribe(utterances[0])
        ((_, [(_, fields)]),) = await redis.xread({KEYS.jobs("en"): "0-0"})
        key = KEYS.cancelled(AsrJob.parse(fields).job_id)
        await eventually(lambda: redis.exists(key), what="job marked cancelled")
    finally:
        await asr.close()


async def test_abandon_fails_waiting_utterances_and_cancels_their_jobs(
    redis_url: str, redis: Redis, utterances: list[RecognitionRequest]
) -> None:
    asr = await node(redis_url)
    pending = [asyncio.create_task(asr.transcribe(u)) for u in utterances]
    await eventually(lambda: redis.xlen(KEYS.jobs("en")), until=lambda n: n == len(utterances), what="jobs queued")
    assert asr.abandon() == len(utterances)
    for task in pending:
        with pytest.raises(Abandoned):
            await task
    await asr.close()
    entries = await redis.xrange(KEYS.jobs("en"))
    marks = [KEYS.cancelled(AsrJob.parse(fields).job_id) for _, fields in entries]
    assert await redis.exists(*marks) == len(utterances)
    assert not await redis.exists(KEYS.node("node-a"))  # closed: whatever is left for it is orphaned


async def test_unreachable_redis_names_the_host_never_the_password(redis_url: str) -> None:
    url = redis_url.replace(redis_url.rsplit(":", 1)[1].split("/")[0], "1")  # port 1: nothing listens
    with pytest.raises(RedisUnavailable) as raised:
        await connect(url, "asr.backend redis")
    assert "127.0.0.1:1/0" in str(raised.value) and PASSWORD not in str(raised.value)
    wrong = redis_url.replace(PASSWORD, "wrong-pw")
    with pytest.raises(RedisUnavailable) as raised:
        await connect(wrong, "asr-worker")
    assert "wrong-pw" not in str(raised.value) and PASSWORD not in str(raised.value)


def test_workers_options_follow_the_config() -> None:
    from mediagw.asr_worker import worker_options
    from mediagw.config import load_config

    config = load_config(environ={"MEDIAGW_ASR__REMOTE__VISIBILITY_TIMEOUT_S": "4", "MEDIAGW_ASR__MAX_BATCH": "8"})
    options = worker_options(config)
    assert (options.max_batch, options.visibility_timeout_s) == (8, 4.0)
    assert dataclasses.replace(options, block_ms=1).block_ms == 1


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"MEDIAGW_ASR__BACKEND": "grpc"}, "asr.backend must be local or redis"),
        ({"MEDIAGW_ASR__BACKEND": "redis"}, "needs cluster.redis_url"),
        (
            {
                "MEDIAGW_ASR__BACKEND": "redis",
                "MEDIAGW_CLUSTER__REDIS_URL": "redis://x",
                "MEDIAGW_ASR__REMOTE__DEADLINE_S": "0",
            },
            "deadline_s",
        ),
    ],
)
def test_remote_asr_settings_are_checked_at_start(environ: dict[str, str], message: str) -> None:
    from mediagw.config import ConfigError, load_config

    with pytest.raises(ConfigError, match=message):
        load_config(environ=environ)


def test_node_id_defaults_to_hostname_and_port() -> None:
    import socket

    from mediagw.backends.redis_link import node_name, where
    from mediagw.config import load_config

    assert node_name(load_config(environ={"MEDIAGW_SERVER__PORT": "9001"})) == f"{socket.gethostname()}:9001"
    assert node_name(load_config(environ={"MEDIAGW_CLUSTER__NODE_ID": "gw-7"})) == "gw-7"
    assert where("redis://user:secret@cache.example:6380/2") == "cache.example:6380/2"

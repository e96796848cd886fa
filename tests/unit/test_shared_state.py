"""The shared pieces (mediagw/shared/): each Protocol's in-process implementation and its Redis one, the latter
against the tests' own redis-server, two "nodes" being two instances with their own clients."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from mediagw.app import _purge_once, build_app
from mediagw.backends.redis_link import client
from mediagw.config import ClusterConfig, ConfigError, load_config
from mediagw.ingress.audiohook.auth import ReplayCache
from mediagw.outputs.store import SqliteStore
from mediagw.shared.arrest import Arrest, LocalArrest, RedisArrest
from mediagw.shared.leases import Leases, LocalLeases, RedisLeases
from mediagw.shared.link import PREFIX, SharedRedis
from mediagw.shared.nonces import RedisNonces
from tests.redis_server import PASSWORD, RedisServer
from tests.waits import eventually


@pytest.fixture
async def nodes(redis_url: str) -> AsyncIterator[tuple[SharedRedis, SharedRedis]]:
    a, b = await SharedRedis.open(redis_url), await SharedRedis.open(redis_url)
    yield a, b
    await a.close()
    await b.close()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    connection = client(redis_url)
    yield connection
    await connection.aclose()


async def allowed(arrest: Arrest, count: int, app: str = "app") -> int:
    return sum([await arrest.allow(app) for _ in range(count)])


async def test_local_spike_arrest_is_per_process() -> None:
    a, b = LocalArrest(5), LocalArrest(5)
    assert await allowed(a, 8) == 5
    assert await allowed(b, 8) == 5  # another process: its own bucket
    assert await allowed(LocalArrest(0), 50) == 50


async def test_redis_spike_arrest_is_one_bucket_per_app_for_all_nodes(
    nodes: tuple[SharedRedis, SharedRedis], redis: Redis
) -> None:
    a, b = RedisArrest(nodes[0], 5), RedisArrest(nodes[1], 5)
    assert await allowed(a, 3) + await allowed(b, 5) == 5  # a burst of the rate, cluster-wide
    assert await allowed(b, 2, "other-app") == 2  # per app
    ttl_ms = await redis.pttl(f"{PREFIX}arrest:app")
    assert 0 < ttl_ms <= 2000  # gone once it would be full again
    await eventually(lambda: allowed(a, 1), timeout_s=3)  # refills at the rate


async def test_redis_spike_arrest_falls_back_to_the_node_bucket_and_fails_health(redis_server: RedisServer) -> None:
    if not redis_server.running:
        redis_server.start()
    shared = await SharedRedis.open(redis_server.url())
    watch = asyncio.create_task(shared.watch())
    try:
        arrest = RedisArrest(shared, 5)
        redis_server.stop()
        assert await allowed(arrest, 8) == 5  # this node's own bucket meanwhile
        assert not shared.healthy
        redis_server.start()
        await eventually(lambda: shared.healthy, timeout_s=10)
        assert await arrest.allow("fresh-app")
    finally:
        watch.cancel()
        await shared.close()


async def test_a_nonce_is_accepted_once_across_nodes(nodes: tuple[SharedRedis, SharedRedis], redis: Redis) -> None:
    now = time.time()
    a, b = RedisNonces(nodes[0], ReplayCache(since=0)), RedisNonces(nodes[1], ReplayCache(since=0))
    nonce = "n" * 40
    assert not a.local.seen("key", nonce, now + 30, now)  # what verify_upgrade does first, on each node
    assert await a.claim("key", nonce, now + 30, now)
    assert not b.local.seen("key", nonce, now + 30, now)  # node B never saw it...
    assert not await b.claim("key", nonce, now + 30, now)  # ...Redis did
    assert await b.claim("other-key", nonce, now + 30, now)
    keys = [key.decode() async for key in redis.scan_iter(f"{PREFIX}nonce:*")]
    assert len(keys) == 2 and all(nonce not in key for key in keys)  # hashed
    assert 0 < await redis.pttl(keys[0]) <= 31_000  # as long as the signature counts (and a second)


async def test_local_leases_are_always_this_process_turn() -> None:
    leases = LocalLeases()
    async with leases.hold("purge") as first, leases.hold("purge") as second:
        assert first and second
    assert not await leases.done("export:2026-12-04")
    await leases.mark_done("export:2026-12-04", 60)
    await leases.mark_done("purge", 0.0)
    assert await leases.done("export:2026-12-04") and not await leases.done("purge")  # remembered as long as asked


async def held_elsewhere(leases: Leases, name: str) -> bool:
    async with leases.hold(name) as held:
        return not held


async def test_a_redis_lease_is_held_by_one_node_at_a_time(nodes: tuple[SharedRedis, SharedRedis]) -> None:
    a, b = RedisLeases(nodes[0], "a"), RedisLeases(nodes[1], "b")
    async with a.hold("purge") as held:
        assert held
        assert await held_elsewhere(b, "purge")
    assert not await held_elsewhere(b, "purge")  # released at exit
    assert not await b.done("export:2026-12-04")
    await a.mark_done("export:2026-12-04", 60)
    assert await b.done("export:2026-12-04")


async def test_a_lease_is_renewed_while_held_and_released_only_by_its_holder(
    nodes: tuple[SharedRedis, SharedRedis], redis: Redis
) -> None:
    a, b = RedisLeases(nodes[0], "a", ttl_s=0.3), RedisLeases(nodes[1], "b", ttl_s=0.3)
    key = f"{PREFIX}lease:purge"
    async with a.hold("purge"):
        deadline = time.monotonic() + 0.9  # three ttls: alive only if renewed
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            assert await held_elsewhere(b, "purge")
        await redis.delete(key)  # as if it expired while a stalled...
        async with b.hold("purge") as taken:  # ...and b took it
            assert taken
        await redis.set(key, "b 0123", px=10_000)
    assert (await redis.get(key)) == b"b 0123"  # a's release left b's lease alone


async def test_a_node_in_a_cluster_needs_the_token_secret(tmp_path: object) -> None:
    config = load_config(environ={})
    clustered = dataclasses.replace(config, cluster=ClusterConfig(redis_url=f"redis://:{PASSWORD}@127.0.0.1:1/0"))
    with pytest.raises(ConfigError, match="auth.token_secret is required when cluster.redis_url is set"):
        build_app(clustered)
    build_app(dataclasses.replace(clustered, auth=dataclasses.replace(config.auth, token_secret="s")))


class CountingStore(SqliteStore):
    """The real SQLite store, counting its purges."""

    purges = 0

    async def purge(self, max_age_s: float) -> int:
        self.purges += 1
        return await super().purge(max_age_s)


async def test_the_retention_purge_runs_on_one_node_per_interval(
    nodes: tuple[SharedRedis, SharedRedis], tmp_path: Path
) -> None:
    store = CountingStore(tmp_path / "store.sqlite3")
    await store.open()
    try:
        a, b = RedisLeases(nodes[0], "a"), RedisLeases(nodes[1], "b")
        for leases in (a, b, a):
            await _purge_once(store, leases, 7.0, 3600.0)
        assert store.purges == 1  # the others found it done within the interval
        local = LocalLeases()
        for _ in range(2):
            await _purge_once(store, local, 7.0, 0.0)  # one process: every turn purges
        assert store.purges == 3
    finally:
        await store.close()

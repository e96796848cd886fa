"""The call registry on a real Redis: records round-trip with their adapter's parameters, `swap` is an atomic
compare-and-set across clients (two "nodes" claiming one call: exactly one wins), `remove` honours the version,
and ownership is live only for the incarnation whose heartbeat is current (a restarted node resurrects nothing)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from redis.asyncio import Redis

from mediagw.backends.redis_link import client
from mediagw.backends.redis_registry import NODE_TTL_S, RedisCallRegistry
from mediagw.core.node import NodeMedia
from mediagw.core.record import CallRecord
from mediagw.core.registry import change
from mediagw.core.rules import CallRefused, CallRules
from mediagw.ingress.twilio.params import TwilioParams
from mediagw.ingress.websocket_api.transport import NAMESPACE
from mediagw.metrics import Metrics
from mediagw.tasks import TaskRegistry
from tests.core import namespaces
from tests.waits import eventually


def registry(url: str, node_id: str) -> RedisCallRegistry:
    return RedisCallRegistry(client(url), namespaces().decode_params, node_id, f"http://{node_id}.invalid")


async def test_records_round_trip_and_swap_is_a_compare_and_set(redis_url: str) -> None:
    a, b = registry(redis_url, "a"), registry(redis_url, "b")
    try:
        created = await a.create(CallRecord("twilio", "CA1"))
        assert (await b.create(CallRecord("twilio", "CA1", started=True))) == created  # the existing one wins
        params = TwilioParams((("inbound", "agent"), ("outbound", "customer")))
        stored = await b.swap(created, replace(created, adapter_params=params, media_nodes={"agent": "b#1"}))
        assert stored is not None and stored.version == created.version + 1
        assert await a.get("twilio", "CA1") == stored
        assert await a.versions([("twilio", "CA1"), ("twilio", "CA2")]) == [stored.version, None]
        assert await a.swap(created, replace(created, started=True)) is None  # a stale version never applies
        assert not await a.remove("twilio", "CA1", version=created.version)
        assert [r.key for r in await b.records()] == [("twilio", "CA1")]
        assert await a.remove("twilio", "CA1", version=stored.version)
        assert await b.get("twilio", "CA1") is None and await b.records() == []
    finally:
        await a.close()
        await b.close()


async def test_two_nodes_claiming_one_call_at_once_one_wins_the_other_gets_409_202(redis_url: str) -> None:
    nodes = [registry(redis_url, f"n{i}") for i in range(4)]
    rules = CallRules()
    try:
        await nodes[0].create(CallRecord("siprec", "g-1"))
        for _ in range(20):  # each round: four nodes race to claim the same call

            async def claim(node: RedisCallRegistry) -> str:
                record = await node.get("siprec", "g-1")
                try:
                    rules.admit_start(record)
                except CallRefused as refused:
                    return refused.code
                assert record is not None
                stored = await node.swap(record, rules.claimed(record))
                return "won" if stored is not None else "lost"

            outcomes = await asyncio.gather(*(claim(node) for node in nodes))
            assert outcomes.count("won") == 1, outcomes
            assert set(outcomes) <= {"won", "lost", "409-202"}
            released = await change(nodes[1], "siprec", "g-1", rules.released)
            assert released is not None and not released.pending
    finally:
        for node in nodes:
            await node.close()


async def test_ownership_is_live_only_for_the_current_incarnation_and_expires_without_heartbeat(
    redis_url: str,
) -> None:
    first = registry(redis_url, "node-a")
    other = registry(redis_url, "node-b")
    try:
        await first.beat()
        node = await other.live_node(first.node.owner)
        assert node is not None and node.control_url == "http://node-a.invalid"
        restarted = registry(redis_url, "node-a")  # the same node id, a new process
        await restarted.beat()
        assert await other.live_node(first.node.owner) is None  # the dead process's ownership is not resurrected
        assert await other.live_node(restarted.node.owner) is not None
        began = time.monotonic()
        await eventually(
            lambda: other.live_node(restarted.node.owner), until=lambda n: n is None, timeout_s=10, what="expiry"
        )
        assert time.monotonic() - began >= NODE_TTL_S * 0.5  # lapsed by expiry, not at once
        await restarted.close()
    finally:
        await first.close()
        await other.close()


async def test_a_record_expires_unless_its_node_refreshes_it(redis_url: str) -> None:
    node = registry(redis_url, "a")
    raw = Redis.from_url(redis_url)
    try:
        await node.create(CallRecord("siprec", "g-2"))
        await raw.expire("mediagw:call:siprec:g-2", 100)
        await node.beat([("siprec", "g-2")])
        assert await raw.ttl("mediagw:call:siprec:g-2") > 100
    finally:
        await node.close()
        await raw.aclose()


async def test_a_record_redis_lost_is_written_back_by_the_beat_under_a_version_never_seen(redis_url: str) -> None:
    """Redis restarted empty: the node holding the call's media writes its record back; the new version differs
    from every one the node saw, so a reader comparing versions (the heartbeat's reconcile) reads it again."""
    node = registry(redis_url, "a")
    raw = Redis.from_url(redis_url)
    try:
        created = await node.create(CallRecord("siprec", "g-4", media_nodes={"customer": node.node.owner}))
        seen = {created.version}
        for _ in range(3):
            await raw.delete("mediagw:call:siprec:g-4", "mediagw:call:siprec:g-5")
            await node.beat([("siprec", "g-4"), ("siprec", "g-5")])
            restored, fresh = await node.get("siprec", "g-4"), await node.get("siprec", "g-5")
            assert restored is not None and restored.media_nodes == created.media_nodes
            assert fresh is not None and set(fresh.media_nodes.values()) == {node.node.owner}  # attached meanwhile
            assert restored.version not in seen
            seen.add(restored.version)
    finally:
        await node.close()
        await raw.aclose()


async def test_media_moving_to_another_node_keeps_the_record_when_the_first_node_forgets_the_call(
    redis_url: str,
) -> None:
    """A Twilio call reconnecting to node B while node A is still up: A forgetting its idle media must not take
    the record B now holds."""
    registries = [registry(redis_url, name) for name in ("a", "b")]
    a, b = (
        NodeMedia(r, namespaces(), Metrics(), lambda: ["en"], TaskRegistry().keep, r.node.owner) for r in registries
    )
    try:
        on_a = await a.attach(NAMESPACE, "g-3", ("customer", "agent"))
        await b.attach(NAMESPACE, "g-3", ("customer", "agent"))
        await on_a.detach()  # the direct API's streams are not resumable: forgotten at once on A
        assert a.get(NAMESPACE, "g-3") is None
        record = await registries[0].get(NAMESPACE, "g-3")
        assert record is not None and set(record.media_nodes.values()) == {registries[1].node.owner}
        on_b = b.get(NAMESPACE, "g-3")
        assert on_b is not None
        await b.detach(on_b, ("customer", "agent"), ending=False)  # the last node holding it: the call goes
        assert await registries[0].get(NAMESPACE, "g-3") is None
    finally:
        for each in registries:
            await each.close()

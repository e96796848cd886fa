"""Lingering calls on a real Redis (limits.call_linger_s with cluster.redis_url): a call whose media went is ended at
its deadline by exactly one of the live nodes sweeping it, whichever node held it; media coming back before keeps
it; a node that dies holding media leaves a deadline nobody pushes on (a restarted node resurrects nothing); a
started call keeps its record for its stop, answered from the record's counts, and the node that held it drops it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import numpy as np
from redis.asyncio import Redis

from mediagw.backends.redis_link import client
from mediagw.backends.redis_registry import NODE_TTL_S, RedisCallRegistry
from mediagw.core.frames import Frame
from mediagw.core.lifecycle import CallLifecycle, StartRequest
from mediagw.core.media import CallMedia
from mediagw.core.node import NodeMedia
from mediagw.core.record import ROLES, CallRecord, Leg, Participant, StreamStats, TranscriptionParams
from mediagw.core.rules import CallRefused, CallRules
from mediagw.metrics import Metrics
from mediagw.tasks import TaskRegistry
from tests import core
from tests.core import namespaces
from tests.waits import eventually

LINGER_S = 0.5
KEY = ("siprec", "g-1")
LINGERING = "mediagw:lingering"


def registry(url: str, node_id: str, linger_s: float = LINGER_S) -> RedisCallRegistry:
    return RedisCallRegistry(
        client(url), namespaces().decode_params, node_id, f"http://{node_id}.invalid", linger_s=linger_s
    )


def started(record: CallRecord) -> CallRecord:
    stats = StreamStats(8000, 1.0, 2)
    participants = tuple(Participant(role, f"s-{role}", "x", stats) for role in ROLES)
    leg = Leg("leg-1", "a-1", "c-1", participants)
    return CallRules.started(record, leg, TranscriptionParams(), None)


async def sweep(nodes: list[RedisCallRegistry]) -> list[tuple[str, str]]:
    """One beat of every node at once: the calls each ended."""
    ended = await asyncio.gather(*(node.beat() for node in nodes))
    return [key for each in ended for key in each]


async def test_a_call_whose_media_went_is_ended_at_its_deadline_by_exactly_one_node(redis_url: str) -> None:
    nodes = [registry(redis_url, name) for name in ("a", "b", "c", "d")]
    raw = Redis.from_url(redis_url)
    try:
        a = nodes[0]
        await a.create(CallRecord(*KEY, media_nodes=dict.fromkeys(ROLES, a.node.owner)))
        on = await a.create(CallRecord("siprec", "g-2", media_nodes={"customer": a.node.owner}))
        on = await a.swap(on, replace(started(on), pending=True, ending=True))  # a stop and a BYE its node left
        assert on is not None
        began = time.monotonic()
        for key in (KEY, ("siprec", "g-2")):
            await a.linger(*key)
        assert await sweep(nodes) == []  # not yet
        ended: list[tuple[str, str]] = []
        while len(ended) < 2:
            ended += await sweep(nodes)
            assert time.monotonic() - began < 10, "not ended"
        assert time.monotonic() - began >= LINGER_S * 0.8
        assert sorted(ended) == [KEY, ("siprec", "g-2")]  # each once, on one node
        for _ in range(3):
            assert await sweep(nodes) == []
        assert await a.get(*KEY) is None and await a.versions([KEY]) == [None]  # not started: forgotten
        kept = await nodes[1].get("siprec", "g-2")  # started: kept for its stop, held by nobody, no request pending
        assert kept is not None and kept.started and kept.media_nodes == {} and not kept.pending
        assert kept.version == on.version + 1 and kept.legs == on.legs
        assert await raw.zcard(LINGERING) == 0
    finally:
        for node in nodes:
            await node.close()
        await raw.aclose()


async def test_media_coming_back_before_the_deadline_keeps_the_call(redis_url: str) -> None:
    a, b = registry(redis_url, "a"), registry(redis_url, "b")
    try:
        record = await a.create(CallRecord(*KEY, media_nodes=dict.fromkeys(ROLES, a.node.owner)))
        await a.linger(*KEY)
        await b.create(CallRecord(*KEY))  # a new source attaches (a reconnect, a new INVITE for the UCID)
        began = time.monotonic()
        while time.monotonic() - began < LINGER_S * 3:  # well past the first deadline, b's beats holding it
            assert await a.beat(lingering=[KEY]) == []  # back to back: every sweep in the window finds nothing
            assert await b.beat([KEY]) == []
        assert await a.get(*KEY) == record
    finally:
        await a.close()
        await b.close()


async def test_a_node_that_dies_holding_media_leaves_a_deadline_a_restarted_node_does_not_push(
    redis_url: str,
) -> None:
    """The dead node's beats stop: the call comes due NODE_TTL_S + linger after its last one. The same node id
    restarted (a new incarnation) holds nothing and ends it like any other node."""
    dead = registry(redis_url, "a")
    restarted = registry(redis_url, "a")
    try:
        await dead.create(CallRecord(*KEY, media_nodes=dict.fromkeys(ROLES, dead.node.owner)))
        await dead.beat([KEY])  # its last beat
        last = time.monotonic()
        await dead.close()
        ended = await eventually(restarted.beat, until=bool, timeout_s=15, interval_s=0.1, what="the call ended")
        assert ended == [KEY] and time.monotonic() - last >= NODE_TTL_S + LINGER_S - 0.5
        assert await restarted.get(*KEY) is None
    finally:
        await restarted.close()


class Silent(core.Silent):
    delivered = 1


def lifecycle(cluster: RedisCallRegistry) -> tuple[CallLifecycle, NodeMedia]:
    registered = namespaces()
    media = NodeMedia(
        cluster, registered, Metrics(), lambda: ["en"], TaskRegistry().keep, cluster.node.owner, None, LINGER_S, cluster
    )

    async def opened(_: StartRequest, __: Leg) -> None:
        pass

    class Admits:
        draining = False
        languages = ["en"]

        def overloaded(self) -> bool:
            return False

    def transcribe(_: CallMedia, __: Participant) -> Silent:
        return Silent()

    calls = CallLifecycle(cluster, media, registered, Admits(), transcribe, opened, Metrics())
    media.resume = calls.resume
    return calls, media


async def test_a_started_call_ended_at_its_deadline_is_dropped_where_it_was_and_its_stop_answered_anywhere(
    redis_url: str,
) -> None:
    a, b = registry(redis_url, "a"), registry(redis_url, "b")
    (calls_a, node_a), (calls_b, _) = lifecycle(a), lifecycle(b)
    guid = "00002542391662063777"
    try:
        source = await node_a.attach("siprec", guid, ROLES)
        answer = await calls_a.start(StartRequest("siprec", guid, "c-1", "a-1", TranscriptionParams(), None))
        assert answer.ok
        for role in ROLES:
            source.feed(role, Frame.of_pcm(0, np.zeros(8000, dtype=np.int16)))
        await source.detach()  # the media goes; its counts are in the record, its deadline in Redis
        media = node_a.get("siprec", guid)
        assert media is not None and media.transcribing  # lingering here as on one node
        ended = await eventually(b.beat, until=bool, timeout_s=10, interval_s=0.05, what="the deadline")
        assert ended == [("siprec", guid)]
        await calls_a.reconcile()  # node a learns its call ended: dropped there
        assert node_a.get("siprec", guid) is None
        stopped = await calls_b.stop("siprec", guid)  # node b never held the media: answered from the record
        assert stopped.ok and [s.stream_id for s in stopped.streams] == [s.stream_id for s in answer.streams]
        summaries: list[Any] = [s.summary for s in stopped.streams]
        assert all(s.total_audio_bytes == 16000 and s.audio_duration_ms == 1000 for s in summaries), summaries
        assert sum(s.transcripts for s in summaries) == 2  # each stream's pipeline delivered one
        for calls in (calls_a, calls_b):
            try:
                await calls.stop("siprec", guid)
                raise AssertionError("a second stop was answered")
            except CallRefused as refused:
                assert refused.code == "400-203"  # the call is over
    finally:
        await a.close()
        await b.close()


async def test_a_node_cut_off_from_redis_past_the_deadline_holds_its_call_again(redis_url: str) -> None:
    """Its beats could not push the deadline, so another node ended the call (started: kept, held by nobody); the
    node still has the media attached, and its next reconcile names it again, its beats keeping the call."""
    a, b = registry(redis_url, "a"), registry(redis_url, "b")
    (calls_a, node_a), _ = lifecycle(a), lifecycle(b)
    raw = Redis.from_url(redis_url)
    guid = "00002542391662063777"
    try:
        await node_a.attach("siprec", guid, ROLES)
        assert (await calls_a.start(StartRequest("siprec", guid, "c-1", "a-1", TranscriptionParams(), None))).ok
        await calls_a.reconcile()
        await raw.zadd(LINGERING, {f"mediagw:call:siprec:{guid}": 0})  # as if a's beats had failed that long
        assert await b.beat() == [("siprec", guid)]
        ended = await b.get("siprec", guid)
        assert ended is not None and ended.media_nodes == {} and ended.started
        await calls_a.reconcile()
        held = await b.get("siprec", guid)
        assert held is not None and set(held.media_nodes.values()) == {a.node.owner} and held.started
        await a.beat([("siprec", guid)])
        assert await b.beat() == []  # its deadline pushed on again
        assert (await calls_b_stop(b, guid)) == "forwarded"  # a stop elsewhere now goes to node a
    finally:
        await a.close()
        await b.close()
        await raw.aclose()


async def calls_b_stop(b: RedisCallRegistry, guid: str) -> str:
    """What node b's lifecycle does with a stop: forwarded (another live node holds the media) or answered."""
    from mediagw.core.lifecycle import HeldElsewhere

    calls_b, _ = lifecycle(b)
    try:
        await calls_b.stop("siprec", guid)
    except HeldElsewhere:
        return "forwarded"
    return "answered"

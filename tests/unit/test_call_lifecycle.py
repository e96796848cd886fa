"""start/stop over the registry and node media, without HTTP: hooks, the grace for media still connecting, a pulled
namespace refused while draining, a failed pull answered with its status, and a 5002 refusal whose leg a retry
continues."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import numpy as np
import pytest

from mediagw.core.adapters import Namespace, Namespaces
from mediagw.core.frames import Frame
from mediagw.core.lifecycle import CallLifecycle, HeldElsewhere, Outcome, StartRequest
from mediagw.core.media import CallMedia
from mediagw.core.node import NodeMedia
from mediagw.core.record import LOCAL_NODE, ROLES, CallRecord, Leg, Participant, TranscriptionParams
from mediagw.core.registry import InMemoryCallRegistry
from mediagw.core.rules import NO_INSTANCES, OK, SHUTTING_DOWN, CallRefused, StreamStatus
from mediagw.metrics import Metrics
from mediagw.tasks import TaskRegistry
from tests.core import Silent
from tests.waits import eventually

FAILED = StreamStatus(4051, "stream not found")


@dataclass
class Node:
    """What the lifecycle is told about this node, and what it did."""

    draining: bool = False
    busy: bool = False
    languages: list[str] = field(default_factory=lambda: ["en"])
    opened: list[str] = field(default_factory=list)
    hooks: list[str] = field(default_factory=list)

    def overloaded(self) -> bool:
        return self.busy


class CountingRegistry(InMemoryCallRegistry):
    """The in-memory registry, counting its whole-record reads."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def get(self, namespace: str, guid: str) -> CallRecord | None:
        self.reads += 1
        return await super().get(namespace, guid)


def setup(
    node: Node,
    fail_pull: bool = False,
    registry: InMemoryCallRegistry | None = None,
    node_id: str = LOCAL_NODE,
    transcription: type[Silent] = Silent,
) -> tuple[CallLifecycle, NodeMedia, InMemoryCallRegistry]:
    registry, namespaces = registry or InMemoryCallRegistry(), Namespaces()
    media = NodeMedia(registry, namespaces, Metrics(), lambda: node.languages, TaskRegistry().keep, node_id)

    async def pull(guid: str) -> None:
        node.hooks.append("pull")
        await media.attach("pulled", guid, ROLES)

    async def on_start(call: CallMedia) -> None:
        node.hooks.append("start")
        call.error = FAILED if fail_pull else None

    async def on_stop(call: CallMedia) -> None:
        node.hooks.append("stop")

    namespaces.register(Namespace("pushed", lambda _: True, start_grace_s=5.0))
    namespaces.register(Namespace("brief", lambda _: True, start_grace_s=0.2))
    namespaces.register(Namespace("pulled", lambda _: True, pull=pull, on_start=on_start, on_stop=on_stop))

    def transcribe(_: CallMedia, __: Participant) -> Silent:
        return transcription()

    async def open_streams(_: StartRequest, leg: Leg) -> None:
        node.opened.extend(p.stream_id for p in leg.participants)

    lifecycle = CallLifecycle(registry, media, namespaces, node, transcribe, open_streams, Metrics())
    media.resume = lifecycle.resume  # as services.py wires them
    return lifecycle, media, registry


def start(namespace: str, agent: str = "a-1") -> StartRequest:
    return StartRequest(namespace, "g-1", "c-1", agent, TranscriptionParams(), None)


async def test_a_start_waits_for_media_still_connecting_then_a_stop_summarises() -> None:
    node = Node()
    lifecycle, media, registry = setup(node)
    early = asyncio.create_task(lifecycle.start(start("pushed")))
    await eventually(lambda: media.waiting == 1, what="the start waiting for the call's media")
    await media.attach("pushed", "g-1", ROLES)
    started = await early
    assert started.ok and [r.status for r in started.streams] == [OK, OK]
    assert node.opened == [r.stream_id for r in started.streams]
    record = await registry.get("pushed", "g-1")
    assert (
        record is not None
        and record.started
        and not record.pending
        and record.media_nodes
        == {
            "customer": "local",
            "agent": "local",
        }
    )
    with pytest.raises(CallRefused, match="already started"):
        await lifecycle.start(start("pushed"))
    stopped = await lifecycle.stop("pushed", "g-1")
    assert stopped.ok and all(r.summary is not None and r.summary.transcripts == 0 for r in stopped.streams)
    with pytest.raises(CallRefused, match="already stopped"):
        await lifecycle.stop("pushed", "g-1")


async def test_a_refusal_for_capacity_names_the_streams_a_retry_continues() -> None:
    node = Node(busy=True)
    lifecycle, media, _ = setup(node)
    await media.attach("pushed", "g-1", ROLES)
    refused = await lifecycle.start(start("pushed"))
    assert not refused.ok and {r.status for r in refused.streams} == {NO_INSTANCES} and node.opened == []
    node.busy = False
    started = await lifecycle.start(start("pushed"))
    assert [r.stream_id for r in started.streams] == [r.stream_id for r in refused.streams]
    with pytest.raises(CallRefused) as language:
        await lifecycle.start(StartRequest("pushed", "g-1", "c", "a", TranscriptionParams(language="es-US"), None))
    assert language.value.code == "409-201"  # started: the conflict comes first


async def test_a_pulled_namespace_attaches_at_its_start_and_a_draining_node_refuses_a_new_one() -> None:
    node = Node(draining=True)
    lifecycle, media, registry = setup(node)
    refused = await lifecycle.start(start("pulled"))
    assert not refused.ok and {r.status for r in refused.streams} == {SHUTTING_DOWN}
    assert await registry.get("pulled", "g-1") is None and node.hooks == []
    node.draining = False
    started = await lifecycle.start(start("pulled"))
    assert started.ok and node.hooks == ["pull", "start"]
    stopped = await lifecycle.stop("pulled", "g-1")
    assert stopped.ok and node.hooks == ["pull", "start", "stop"]


async def test_a_pull_that_fails_at_once_is_answered_with_its_status_and_leaves_the_call_stopped() -> None:
    lifecycle, _, registry = setup(Node(), fail_pull=True)
    answer = await lifecycle.start(start("pulled"))
    assert not answer.ok and {r.status for r in answer.streams} == {FAILED}
    record = await registry.get("pulled", "g-1")
    assert record is not None and not record.started and not record.pending


async def test_a_call_on_two_nodes_follows_a_start_and_stop_answered_by_the_other_reading_only_what_changed() -> None:
    """A Twilio call's tracks on two nodes: each heartbeat's reconcile starts or stops this node's share to match
    the record, and reads a whole record only when its version moved."""
    registry = CountingRegistry()
    a, a_media, _ = setup(Node(), registry=registry, node_id="a")
    b, b_media, _ = setup(Node(), registry=registry, node_id="b")
    await a_media.attach("pushed", "g-1", ("agent",))
    await b_media.attach("pushed", "g-1", ("customer",))
    await b.reconcile()
    reads = registry.reads
    await b.reconcile()
    assert registry.reads == reads  # nothing changed: versions only
    started = await a.start(start("pushed"))
    on_b = b_media.get("pushed", "g-1")
    assert started.ok and on_b is not None and not on_b.transcribing
    reads = registry.reads
    await b.reconcile()
    assert on_b.transcribing and registry.reads == reads + 1
    await b.reconcile()
    assert registry.reads == reads + 1
    assert (await a.stop("pushed", "g-1")).ok
    await b.reconcile()
    assert not on_b.transcribing


async def test_a_start_waiting_for_media_finds_it_connected_on_another_node_within_the_grace() -> None:
    """The same race as on one node (start-streaming before the media), across two: node B's start waits for the
    call to appear in the shared registry, then goes to the node holding its media instead of 400-203."""
    registry = InMemoryCallRegistry()
    _, a_media, _ = setup(Node(), registry=registry, node_id="a")
    b, b_media, _ = setup(Node(), registry=registry, node_id="b")
    early = asyncio.create_task(b.start(start("pushed")))
    await eventually(lambda: b_media.waiting == 1, what="node B's start waiting for the call's media")
    await a_media.attach("pushed", "g-1", ROLES)
    with pytest.raises(HeldElsewhere) as elsewhere:
        await early
    assert elsewhere.value.record.media_nodes == {"customer": "a", "agent": "a"}
    assert b_media.waiting == 0
    with pytest.raises(CallRefused, match="No call"):  # never connected anywhere: 400-203 once the grace is over
        await b.start(start("brief"))


class Heard(Silent):
    """A transcription that delivers one transcript when flushed."""

    async def finish(self) -> int:
        return 1


def summaries(outcome: Outcome) -> dict[str, tuple[int, int, int]]:
    """Per role: totalAudioBytes, audioDurationMs, transcripts."""
    return {
        r.role: (r.summary.total_audio_bytes, r.summary.audio_duration_ms, r.summary.transcripts)
        for r in outcome.streams
        if r.summary is not None
    }


def audio(seconds: float, position: int = 0) -> Frame:
    return Frame.of_pcm(position, np.zeros(int(seconds * 8000), dtype=np.int16))


async def test_a_stop_counts_every_stream_of_a_call_on_two_nodes_and_after_a_failover() -> None:
    """The agent's media on node A, the customer's on node B: a stop answered by A has B end its share first
    (api/forward.py's signed request; called directly here), so the summary counts both. B then dies: the counts
    it wrote (every 10 s of audio) are where node C, taking the customer's media, goes on from."""
    registry = InMemoryCallRegistry()
    lifecycles = {name: setup(Node(), registry=registry, node_id=name, transcription=Heard) for name in "abc"}
    (a, a_media, _), (b, b_media, _), (c, c_media, _) = (lifecycles[name] for name in "abc")

    async def peers_of_a(record: CallRecord) -> None:
        await b.end_share(record.namespace, record.guid)

    a.peers = peers_of_a
    agent = await a_media.attach("pushed", "g-1", ("agent",))
    customer = await b_media.attach("pushed", "g-1", ("customer",))
    assert (await a.start(start("pushed"))).ok
    await b.reconcile()  # the heartbeat's: B's share follows the start
    agent.feed("agent", audio(0.5))
    customer.feed("customer", audio(1.0))
    stopped = await a.stop("pushed", "g-1")
    assert summaries(stopped) == {"customer": (16000, 1000, 1), "agent": (8000, 500, 1)}
    assert not await b.end_share("pushed", "g-1")  # replayed outside a stop: nothing to end
    assert (await a.start(start("pushed"))).ok  # the same leg goes on
    await b.reconcile()
    customer.feed("customer", audio(12.0, 8000))
    await b.reconcile()  # 12 s of audio since the last write: the counts go into the record
    await c_media.attach("pushed", "g-1", ("customer",))  # B is gone (killed): the customer's media comes back on C
    await a.end_share("pushed", "g-1")  # (not pending: nothing)
    record = await registry.get("pushed", "g-1")
    assert record is not None and record.media_nodes["customer"] == "c"
    c_customer = c_media.get("pushed", "g-1")
    assert c_customer is not None and c_customer.transcribing  # resumed at its attach

    async def peers_now(record: CallRecord) -> None:
        await c.end_share(record.namespace, record.guid)

    a.peers = peers_now
    again = await a.stop("pushed", "g-1")
    assert summaries(again)["customer"] == (13 * 16000, 13000, 2)  # B's 13 s and transcript, C's one flush

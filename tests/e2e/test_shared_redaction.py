"""Two gateway nodes sharing one Redis (cluster.redis_url): a Twilio call whose two tracks arrive on different
nodes, the agent's on node A and the customer's on node B. Only the redaction context connects them, so the
security code and the PIN the customer reads out on node B (digit runs too short for the fail-safe card rule)
are masked because of the agent's questions transcribed on node A. The customer's track keeps only the PIN's
answer: alone on a node, "It is 1 8 6 0" shows its digits (after a card, the digits would be masked anyway).

The nodes are two gateways in this process (each its own event loop, services, text stage and store); what one
knows of the other goes through Redis only."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import numpy as np
import pytest

from bench.payment_calls import ROLES, _control, _messages, shown
from mediagw.simulators.twilio import call_sid, media_stream_url, play_call, stereo_tracks
from tests.e2e.test_payment_calls import load
from tests.gateway import API_ID, API_SECRET, GatewayThread, free_port
from tests.waits import eventually

pytestmark = pytest.mark.e2e
SECRET = "a-cluster-wide-test-secret"


async def one_track(session: aiohttp.ClientSession, node: GatewayThread, track: str, audio: Any, sid: str) -> None:
    """One track of the call on `node`, started there once its first half second is in."""
    url = await media_stream_url(session, node.base_url, API_ID, API_SECRET)
    start = {"namespace": "twilio", "guid": sid, "customerId": "c-1", "agentId": "a-1"}

    async def started() -> None:
        answer = await _control(session, node.base_url, "start", start)
        # a shared call registry may have started this node's role from the other node already: 409
        assert answer.get("isOk") or str(answer.get("error", {}).get("code", "")).startswith("409"), answer

    # twice real time: the agent's question is transcribed (on A) well before the customer's answer ends (on B)
    await play_call(session, url, {track: audio}, sid, speed=2.0, on_started=started, started_after_ms=500)
    await _control(session, node.base_url, "stop", {"namespace": "twilio", "guid": sid})


async def test_the_agents_question_on_one_node_masks_the_customers_answer_on_the_other(
    gateway_factory: Any, redis_url: str
) -> None:
    cluster = {"cluster": {"redis_url": redis_url}, "auth": {"token_secret": SECRET}}
    node_a: GatewayThread = gateway_factory(**cluster)
    node_b: GatewayThread = gateway_factory(**cluster)
    audio, call = load(0)
    tracks = stereo_tracks([audio[:, 0], audio[:, 1]], ROLES)
    (pin_turn,) = [t for t in call.turns if t.secret == "pin"]
    customer = np.zeros_like(tracks["inbound"])
    span = slice(pin_turn.start_ms * 8, pin_turn.end_ms * 8)
    customer[span] = tracks["inbound"][span]
    tracks["inbound"] = customer
    sid = call_sid()
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(
            one_track(session, node_a, "outbound", tracks["outbound"], sid),  # the agent
            one_track(session, node_b, "inbound", tracks["inbound"], sid),  # the customer
        )
        on_a, on_b = await _messages(session, node_a.base_url, sid), await _messages(session, node_b.base_url, sid)
    assert {m["sender"]["role"] for m in on_a} == {"agent"} and {m["sender"]["role"] for m in on_b} == {"customer"}
    assert len(on_a) >= 4 and len(on_b) == 1, (on_a, on_b)  # the model heard the agent, and the PIN's answer
    assert shown(on_b[0]["text"]) == "" and "#" in on_b[0]["text"], on_b[0]["text"]


def cluster_node(redis_url: str) -> dict[str, Any]:
    """A node's sections: its own id (its liveness key), listening where it advertises itself, so the others'
    signed requests reach it."""
    port = free_port()
    cluster = {"redis_url": redis_url, "node_id": f"node-{port}", "advertise_url": f"http://127.0.0.1:{port}"}
    return {"cluster": cluster, "auth": {"token_secret": SECRET}}


async def test_a_stop_answered_by_one_node_counts_the_stream_whose_media_is_on_the_other(
    gateway_factory: Any, redis_url: str
) -> None:
    """The agent's track on node A, the customer's on node B, start and stop sent to A while both sockets still
    stream: B ends its share when A's stop asks it (signed), so A's summary counts the customer's transcripts,
    exactly those B stored, and the customer's audio."""
    node_a, node_b = (gateway_factory(**cluster_node(redis_url)) for _ in range(2))
    audio, _ = load(0)
    tracks = stereo_tracks([audio[:, 0], audio[:, 1]], ROLES)
    sid = call_sid()
    start = {"namespace": "twilio", "guid": sid, "customerId": "c-1", "agentId": "a-1"}
    async with aiohttp.ClientSession() as session:
        on = {n: await media_stream_url(session, n.base_url, API_ID, API_SECRET) for n in (node_a, node_b)}

        async def started() -> None:
            assert (await _control(session, node_a.base_url, "start", start))["isOk"]

        playing = [
            asyncio.create_task(
                play_call(session, on[node_a], {"outbound": tracks["outbound"]}, sid, speed=2.0, on_started=started)
            ),
            asyncio.create_task(play_call(session, on[node_b], {"inbound": tracks["inbound"]}, sid, speed=2.0)),
        ]
        try:
            await eventually(
                lambda: _messages(session, node_b.base_url, sid), lambda m: len(m) >= 2, what="B's transcripts"
            )
            stopped = await _control(session, node_a.base_url, "stop", {"namespace": "twilio", "guid": sid})
            on_b = await _messages(session, node_b.base_url, sid)
            assert all(not task.done() for task in playing)  # both sockets were streaming throughout
        finally:
            for task in playing:
                task.cancel()
            await asyncio.gather(*playing, return_exceptions=True)
    summary = {role: each["summary"] for role, each in stopped["autotranscribeResponse"].items()}
    assert {m["sender"]["role"] for m in on_b} == {"customer"}
    assert summary["customer"]["transcripts"] == len(on_b) >= 2, (summary, on_b)
    assert summary["customer"]["audioDurationMs"] > 1000 and summary["customer"]["totalAudioBytes"] > 16000
    assert summary["agent"]["audioDurationMs"] > 1000

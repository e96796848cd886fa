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
from tests.gateway import API_ID, API_SECRET, GatewayThread

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

"""Genesys AudioHook Transcription Connector end to end: the simulator plays a call as Genesys does on a connector
integration's URI; the gateway answers each utterance with an `event` on the socket, stores and posts it."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

import aiohttp
import pytest

from bench.payment_calls import outcome
from mediagw.config import AudioHookKey
from mediagw.evaluation import word_error_rate
from mediagw.outputs.webhooks import WebhookTarget
from mediagw.simulators.audiohook import EXAMPLE_ORGANIZATION_ID, SessionResult, play_session, upgrade_headers
from mediagw.simulators.webhook_receiver import Receiver
from tests.e2e.test_audiohook import KEY, SECRET, _header, _open, stereo, stored
from tests.e2e.test_payment_calls import load
from tests.gateway import GatewayThread
from tests.waits import eventually

PATH = "/mg-genesysaudiohook-connector/"
CHANNEL_ROLE = {0: "customer", 1: "agent"}  # the media Genesys offers first: external, internal


def url(gateway: GatewayThread) -> str:
    return gateway.base_url.replace("http://", "ws://") + PATH


def seconds(value: str) -> float:
    match = re.fullmatch(r"PT(\d+(?:\.\d+)?)S", value)
    assert match, value
    return float(match[1])


def events(result: SessionResult) -> list[dict[str, Any]]:
    return [e["data"] for m in result.of_type("event") for e in m["parameters"]["entities"]]


async def test_a_stereo_session_gets_events_for_both_channels_on_the_session_clock(
    gateway_factory: Any, call_audio: Any
) -> None:
    receiver = await Receiver().start()
    gateway: GatewayThread = gateway_factory(
        audiohook={"api_keys": (AudioHookKey(KEY, SECRET),)},
        webhooks={"targets": (WebhookTarget("hook", f"{receiver.url}/hook"),)},
    )
    audio, script = stereo(call_audio, "billing")
    conversation = str(uuid.uuid4())
    try:
        async with aiohttp.ClientSession() as session:
            result = await play_session(
                session,
                url(gateway),
                audio,
                conversation_id=conversation,
                api_key=KEY,
                client_secret=SECRET,
                realtime=False,
                pause_at_s=15.4,  # hold between utterances (agent ends 15.33 s, customer starts 16.23 s)
                pause_for_s=0.8,
                discard_at_s=19.6,  # then a glitch: audio dropped and reported (customer ends 19.36, agent 20.26)
                discard_for_s=0.5,
                language_updates=((27.6, "en-GB"),),  # between utterances: the next ones are en-GB's
            )
            kept = await stored(session, gateway, conversation)
        await eventually(lambda: len(receiver.received), lambda n: n >= len(kept), what="every utterance posted")
    finally:
        await receiver.stop()
    sent = [m["type"] for m in result.sent]
    assert result.problems == [] and result.closed is not None
    assert [sent.count(kind) for kind in ("paused", "resumed", "discarded", "update")] == [1, 1, 1, 1]
    assert result.messages[-1]["type"] == "closed"  # every event came before `closed`
    got, expected = events(result), script["utterances"]
    assert len(got) == len(expected) == len(kept) == len(receiver.received)
    got.sort(key=lambda e: seconds(e["offset"]))
    texts = [e["alternatives"][0]["interpretations"][0]["transcript"] for e in got]
    assert word_error_rate([u["text"] for u in expected], texts) <= 0.2
    for event, utterance in zip(got, expected, strict=True):
        assert CHANNEL_ROLE[event["channelId"]] == utterance["role"]
        assert event["isFinal"] is True
        assert abs(seconds(event["offset"]) * 1000 - utterance["start"]) <= 150  # the session clock, pause included
        [alternative] = event["alternatives"]
        assert 0.0 < alternative["confidence"] <= 1.0
        assert alternative["languages"] == ["en-GB" if utterance["start"] > 27_600 else "en-US"]
        tokens = alternative["interpretations"][0]["tokens"]
        start, end = seconds(event["offset"]), seconds(event["offset"]) + seconds(event["duration"])
        offsets = [seconds(t["offset"]) for t in tokens]
        assert offsets == sorted(set(offsets)) and start - 0.001 <= offsets[0] and offsets[-1] <= end
        assert all(0.0 <= t["confidence"] <= 1.0 for t in tokens)
        assert " ".join(t["value"] for t in tokens) == alternative["interpretations"][0]["transcript"]
    confidences = {e["alternatives"][0]["confidence"] for e in got}
    assert len(confidences) > 1  # the model's, per utterance: not a constant
    assert all(m["externalConversationId"] == conversation for m in receiver.received)


async def test_a_card_number_never_reaches_genesys_by_default(gateway_factory: Any) -> None:
    gateway: GatewayThread = gateway_factory(audiohook={"api_keys": (AudioHookKey(KEY, SECRET, connector=True),)})
    audio, call = load(0)
    monitor_url = gateway.base_url.replace("http://", "ws://") + "/mg-genesysaudiohook-autotranscribe/"
    async with aiohttp.ClientSession() as session:  # the key says connector: its sessions are, on either path
        result = await play_session(
            session,
            monitor_url,
            audio,
            conversation_id=str(uuid.uuid4()),
            api_key=KEY,
            client_secret=SECRET,
            realtime=False,
        )
    got = events(result)
    as_stored = [
        {
            "text": e["alternatives"][0]["interpretations"][0]["transcript"],
            "sender": {"role": CHANNEL_ROLE[e["channelId"]]},
            "autotranscribeResponse": {
                "start": int(seconds(e["offset"]) * 1000),
                "end": int((seconds(e["offset"]) + seconds(e["duration"])) * 1000),
            },
        }
        for e in got
    ]
    assert len(got) >= 6
    assert not outcome(call, as_stored)["leaked"]
    customer = [e for e in got if CHANNEL_ROLE[e["channelId"]] == "customer"]
    words = " ".join(t["value"] for e in customer for t in e["alternatives"][0]["interpretations"][0]["tokens"])
    as_words = {"text": words, "sender": {"role": "customer"}, "autotranscribeResponse": {"start": 0, "end": 0}}
    assert not outcome(call, [as_words])["leaked"]  # the words carry the masks too, not the digits heard


async def test_an_unsupported_language_gets_the_protocols_error_and_other_sessions_go_on(
    gateway_factory: Any, call_audio: Any
) -> None:
    gateway: GatewayThread = gateway_factory(audiohook={"api_keys": (AudioHookKey(KEY, SECRET),)})
    audio, _ = stereo(call_audio, "billing")
    async with aiohttp.ClientSession() as session:
        healthy = asyncio.create_task(
            play_session(
                session,
                url(gateway),
                audio[:56000],
                conversation_id=str(uuid.uuid4()),
                api_key=KEY,
                client_secret=SECRET,
                realtime=False,
            )
        )
        refused = await play_session(
            session,
            url(gateway),
            audio[:8000],
            conversation_id=str(uuid.uuid4()),
            api_key=KEY,
            client_secret=SECRET,
            realtime=False,
            language="fr-FR",
        )
        other = await healthy
    assert refused.opened is None and refused.disconnect_reason == "error"
    info = refused.disconnect["parameters"]["info"] if refused.disconnect else ""
    assert "fr-FR" in info and "en-US" in info  # what the loaded model (tiny.en) can do
    assert refused.closed is not None  # the close transaction still completes
    assert other.problems == [] and other.closed is not None and len(events(other)) >= 2


@pytest.mark.parametrize(
    "message",
    [
        {"type": "event", "seq": 2, "parameters": {"entities": []}},  # a server message from the client
        {"type": "update", "seq": 2, "parameters": {"language": ["en-US"]}},  # malformed
        {"type": "update", "seq": 2, "parameters": {"language": "de-DE"}},  # not in the model
    ],
)
async def test_bad_input_on_a_connector_gets_a_disconnect(gateway_factory: Any, message: dict[str, Any]) -> None:
    gateway: GatewayThread = gateway_factory(audiohook={"api_keys": (AudioHookKey(KEY, SECRET),)})
    session_id = str(uuid.uuid4())
    headers, _ = upgrade_headers(url(gateway), EXAMPLE_ORGANIZATION_ID, session_id, str(uuid.uuid4()), KEY, SECRET)
    async with aiohttp.ClientSession() as session, session.ws_connect(url(gateway), headers=headers) as ws:
        await ws.send_str(json.dumps(_open(session_id)))
        assert json.loads((await ws.receive()).data)["type"] == "opened"
        await ws.send_str(json.dumps(_header(session_id, message)))
        reply = json.loads((await ws.receive(timeout=60)).data)
        await ws.send_str(json.dumps(_header(session_id, {"type": "close", "seq": 3, "serverseq": 2})))
        closed = json.loads((await ws.receive(timeout=60)).data)
    assert reply["type"] == "disconnect" and reply["parameters"]["reason"] == "error"
    assert closed["type"] == "closed"

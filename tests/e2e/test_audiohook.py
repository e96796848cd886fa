"""Genesys AudioHook end to end: the simulator behaves as Genesys Cloud against the running gateway."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aiohttp
import numpy as np
import pytest

from mediagw.config import AudioHookKey
from mediagw.evaluation import word_error_rate
from mediagw.simulators.audiohook import EXAMPLE_ORGANIZATION_ID, connection_probe, play_session, upgrade_headers
from tests.e2e import api
from tests.e2e.api import by_start
from tests.gateway import GatewayThread

KEY, SECRET = "genesys-key", "c2VjcmV0LXNoYXJlZC13aXRoLWdlbmVzeXM="
PATH = "/mg-genesysaudiohook-autotranscribe/"


@pytest.fixture
def gateway(gateway_factory: Any) -> GatewayThread:
    keys = (AudioHookKey(KEY, SECRET), AudioHookKey("unsigned-key"))
    started: GatewayThread = gateway_factory(audiohook={"api_keys": keys})
    return started


def url(gateway: GatewayThread) -> str:
    return gateway.base_url.replace("http://", "ws://") + PATH


async def control(session: aiohttp.ClientSession, gateway: GatewayThread, kind: str, guid: str) -> Any:
    body: dict[str, Any] = {"namespace": "genesysaudiohook", "guid": guid}
    if kind == "start":
        body |= {"customerId": "c-1", "agentId": "a-1"}
    return await api.control(session, gateway, kind, body)


async def stored(session: aiohttp.ClientSession, gateway: GatewayThread, guid: str) -> list[dict[str, Any]]:
    return by_start(await api.messages(session, gateway, guid))


def stereo(call_audio: Any, name: str) -> tuple[np.ndarray, dict[str, Any]]:
    channels, script = call_audio[name]
    order = [script["channels"].index("customer"), script["channels"].index("agent")]
    return np.stack([channels[i] for i in order], axis=1), script


@pytest.mark.parametrize("pause", [False, True])
async def test_a_signed_session_is_transcribed_and_pauses_keep_call_time(
    gateway: GatewayThread, call_audio: Any, pause: bool
) -> None:
    audio, script = stereo(call_audio, "billing")
    conversation = str(uuid.uuid4())
    pause_at, pause_for = 15.4, 0.8  # hold between utterances (agent ends 15.33 s, customer starts 16.23 s)
    async with aiohttp.ClientSession() as session:

        async def start() -> None:
            assert (await control(session, gateway, "start", conversation))["status"] == 200

        result = await play_session(
            session,
            url(gateway),
            audio,
            conversation_id=conversation,
            api_key=KEY,
            client_secret=SECRET,
            realtime=False,
            on_opened=start,
            pause_at_s=pause_at if pause else None,
            pause_for_s=pause_for,
        )
        stopped = await control(session, gateway, "stop", conversation)
        messages = await stored(session, gateway, conversation)
    assert result.problems == [] and result.opened is not None and result.closed is not None
    assert stopped["status"] == 200
    expected = script["utterances"]  # with the pause too: its time is kept, so later utterances stay in place
    if pause:
        assert [m["type"] for m in result.sent].count("paused") == 1
    assert len(messages) == len(expected)
    assert word_error_rate([u["text"] for u in expected], [m["text"] for m in messages]) <= 0.2
    for message, utterance in zip(messages, expected, strict=True):
        assert message["sender"]["role"] == utterance["role"]
        assert abs(message["autotranscribeResponse"]["start"] - utterance["start"]) <= 150  # true call time


async def test_bad_credentials_are_refused_before_the_upgrade(gateway: GatewayThread, call_audio: Any) -> None:
    audio, _ = stereo(call_audio, "billing")
    async with aiohttp.ClientSession() as session:
        for key, secret in ((KEY, "d3Jvbmctc2VjcmV0"), ("nobody", None), (KEY, None)):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await play_session(
                    session,
                    url(gateway),
                    audio[:800],
                    conversation_id=str(uuid.uuid4()),
                    api_key=key,
                    client_secret=secret,
                    realtime=False,
                )
            assert refused.value.status == 401
        unsigned = await play_session(
            session,
            url(gateway),
            audio[:8000],
            conversation_id=str(uuid.uuid4()),
            api_key="unsigned-key",
            client_secret=None,
            realtime=False,
        )
        probe = await connection_probe(session, url(gateway), api_key=KEY, client_secret=SECRET)
    assert unsigned.problems == [] and unsigned.closed is not None
    assert probe.problems == [] and probe.closed is not None


async def test_a_session_that_reconnects_continues_the_call(gateway: GatewayThread, call_audio: Any) -> None:
    audio, script = stereo(call_audio, "billing")
    cut = int(15.8 * 8000)  # between two utterances
    conversation = str(uuid.uuid4())
    async with aiohttp.ClientSession() as session:

        async def start() -> None:
            assert (await control(session, gateway, "start", conversation))["status"] == 200

        common = {"conversation_id": conversation, "api_key": KEY, "client_secret": SECRET, "realtime": False}
        first = await play_session(session, url(gateway), audio[:cut], on_opened=start, close=False, **common)
        second = await play_session(session, url(gateway), audio[cut:], **common)  # a new session, same call
        stopped = await control(session, gateway, "stop", conversation)
        messages = await stored(session, gateway, conversation)
    assert first.opened is not None and second.closed is not None and stopped["status"] == 200
    assert len(messages) == len(script["utterances"])
    for message, utterance in zip(messages, script["utterances"], strict=True):
        assert message["sender"]["role"] == utterance["role"]
        assert abs(message["autotranscribeResponse"]["start"] - utterance["start"]) <= 150
    assert len({m["streamId"] for m in messages}) == 2  # one stream per participant across both sessions


@pytest.mark.parametrize(
    "frames",
    [
        ["not json"],
        [b"\x7f" * 160],  # audio before open
        ["OPEN", {"seq": 5, "type": "ping"}],  # a seq that skips
        ["OPEN", b"\x7f" * 1601],  # a stereo frame of odd size
    ],
)
async def test_bad_input_gets_a_disconnect_and_other_sessions_go_on(
    gateway: GatewayThread, call_audio: Any, frames: list[Any]
) -> None:
    audio, _ = stereo(call_audio, "billing")
    session_id = str(uuid.uuid4())
    headers, _ = upgrade_headers(url(gateway), EXAMPLE_ORGANIZATION_ID, session_id, str(uuid.uuid4()), KEY, SECRET)
    async with aiohttp.ClientSession() as session:
        healthy = asyncio.create_task(
            play_session(
                session,
                url(gateway),
                audio[:40000],
                conversation_id=str(uuid.uuid4()),
                api_key=KEY,
                client_secret=SECRET,
                realtime=False,
            )
        )
        async with session.ws_connect(url(gateway), headers=headers) as ws:
            for frame in frames:
                if frame == "OPEN":
                    await ws.send_str(json.dumps(_open(session_id)))
                    assert json.loads((await ws.receive()).data)["type"] == "opened"
                elif isinstance(frame, bytes):
                    await ws.send_bytes(frame)
                else:
                    await ws.send_str(frame if isinstance(frame, str) else json.dumps(_header(session_id, frame)))
            reply = json.loads((await ws.receive(timeout=60)).data)
        other = await healthy
    assert reply["type"] == "disconnect" and reply["parameters"]["reason"] == "error"
    assert other.problems == [] and other.closed is not None


def _header(session_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {"version": "2", "id": session_id, "serverseq": 1, "position": "PT0S", "parameters": {}, **fields}


def _open(session_id: str) -> dict[str, Any]:
    media = [{"type": "audio", "format": "PCMU", "channels": ["external", "internal"], "rate": 8000}]
    parameters = {
        "organizationId": EXAMPLE_ORGANIZATION_ID,
        "conversationId": str(uuid.uuid4()),
        "participant": {"id": str(uuid.uuid4()), "ani": "+15555550100", "aniName": "C", "dnis": "+15555550199"},
        "media": media,
        "language": "en-US",
    }
    return {**_header(session_id, {"type": "open", "seq": 1, "serverseq": 0}), "parameters": parameters}

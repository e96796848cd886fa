"""Twilio Media Streams end to end: the simulator plays sample calls as Twilio, start/stop over HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from mediagw.evaluation import word_error_rate
from mediagw.simulators.twilio import call_sid, media_stream_url, play_call, stereo_tracks
from tests.conftest import clip
from tests.e2e import api
from tests.e2e.api import by_start, messages
from tests.gateway import API_ID, API_SECRET, GatewayThread
from tests.waits import eventually

pytestmark = pytest.mark.e2e


async def control(session: aiohttp.ClientSession, gateway: GatewayThread, kind: str, sid: str) -> dict[str, Any]:
    body: dict[str, Any] = {"namespace": "twilio", "guid": sid}
    if kind == "start":
        body |= {"customerId": "cust-1", "agentId": "agent-1"}
    result: dict[str, Any] = await api.control(session, gateway, kind, body)
    return result


def received_ms(gateway: GatewayThread, sid: str) -> int:
    """Audio the gateway has taken in for the call, on its less advanced track."""
    media = gateway.media("twilio", sid)
    return min(media.media_ms("customer"), media.media_ms("agent")) if media is not None else 0


@pytest.mark.parametrize("separate_sockets", [False, True])
async def test_a_call_is_transcribed_from_start_streaming_on(
    gateway: GatewayThread, call_audio: Any, separate_sockets: bool
) -> None:
    channels, script = call_audio["billing"]
    tracks = stereo_tracks(channels, script["channels"])
    sid = call_sid()
    started: dict[str, Any] = {}
    async with aiohttp.ClientSession() as session:
        url = await media_stream_url(session, gateway.base_url, API_ID, API_SECRET)
        assert url.startswith("ws://") and "token=" in url

        async def start() -> None:  # once the gateway has taken in the 6.2 s sent before it
            await eventually(lambda: received_ms(gateway, sid), lambda ms: ms >= 6200, what="6.2 s received")
            started.update(await control(session, gateway, "start", sid))

        await play_call(
            session,
            url,
            tracks,
            sid,
            separate_sockets=separate_sockets,
            realtime=False,
            on_started=start,
            started_after_ms=6200,
        )
        stopped = await control(session, gateway, "stop", sid)
        stored = await messages(session, gateway, sid)
    assert started["status"] == 200 and stopped["status"] == 200
    expected = [u for u in script["utterances"] if u["start"] > 6200]  # the greeting came before start
    assert len(stored) == len(expected)
    in_time = by_start(stored)
    assert word_error_rate([u["text"] for u in expected], [m["text"] for m in in_time]) <= 0.2
    for message, utterance in zip(in_time, expected, strict=True):
        assert message["sender"]["role"] == utterance["role"]
        assert abs(message["autotranscribeResponse"]["start"] - utterance["start"]) <= 150  # true call time
    summary = stopped["autotranscribeResponse"]["customer"]["summary"]
    assert summary["totalAudioBytes"] == len(tracks["inbound"]) * 2  # all audio counted, before start too
    assert summary["transcripts"] == sum(u["role"] == "customer" for u in expected)


async def test_a_dropped_socket_flushes_the_utterance_in_progress(gateway: GatewayThread, call_audio: Any) -> None:
    channels, script = call_audio["billing"]
    first_agent = next(u for u in script["utterances"] if u["role"] == "agent")
    tracks = {t: clip(s, 0, first_agent["end"] - 400) for t, s in stereo_tracks(channels, script["channels"]).items()}
    sid = call_sid()
    async with aiohttp.ClientSession() as session:
        url = await media_stream_url(session, gateway.base_url, API_ID, API_SECRET)

        async def start() -> None:
            assert (await control(session, gateway, "start", sid))["status"] == 200

        await play_call(session, url, tracks, sid, realtime=False, on_started=start, send_stop=False)
        stopped = await control(session, gateway, "stop", sid)
        stored = await messages(session, gateway, sid)
    assert stopped["autotranscribeResponse"]["agent"]["summary"]["transcripts"] == 1
    assert len(stored) == 1
    assert word_error_rate([first_agent["text"]], [stored[0]["text"]]) <= 0.4  # its last 400 ms were never sent


async def test_start_waits_for_media_within_the_grace_period(gateway_factory: Any, call_audio: Any) -> None:
    channels, script = call_audio["billing"]
    tracks = {t: clip(s, 0, 2000) for t, s in stereo_tracks(channels, script["channels"]).items()}
    strict, patient = gateway_factory(), gateway_factory(twilio={"start_grace_s": 60.0})
    async with aiohttp.ClientSession() as session:
        assert (await control(session, strict, "start", call_sid()))["error"]["code"] == "400-203"
        sid = call_sid()
        early = asyncio.create_task(control(session, patient, "start", sid))
        node = patient.services.media  # start-streaming's wait for the call's media
        await eventually(lambda: node.waiting == 1, what="start-streaming waiting for media")
        url = await media_stream_url(session, patient.base_url, API_ID, API_SECRET)
        await play_call(session, url, tracks, sid, realtime=False)
        assert (await early)["status"] == 200


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        ([b"\x00\x01"], 1003),
        (["{not json"], 1003),
        ([json.dumps({"event": "media", "media": {"track": "inbound", "payload": ""}})], 1002),
    ],
)
async def test_bad_streams_are_closed_with_a_code(gateway: GatewayThread, frames: list[Any], code: int) -> None:
    async with aiohttp.ClientSession() as session:
        url = await media_stream_url(session, gateway.base_url, API_ID, API_SECRET)
        async with session.ws_connect(url) as ws:
            for frame in frames:
                await (ws.send_bytes(frame) if isinstance(frame, bytes) else ws.send_str(frame))
            async for _ in ws:
                pass
            assert ws.close_code == code


async def test_a_forged_token_is_refused_before_any_media(gateway: GatewayThread) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gateway.base_url}/mg-autotranscribe/v1/twilio-media-stream-url") as response:
            assert response.status == 401
        path = gateway.config.twilio.path
        async with session.ws_connect(f"{gateway.base_url}{path}?token=forged.token") as ws:
            message = await ws.receive()
            assert message.type is aiohttp.WSMsgType.CLOSE and ws.close_code == 1008


async def test_a_silent_stream_is_closed_with_1001_and_other_calls_are_unaffected(
    gateway_factory: Any, call_audio: Any
) -> None:
    gateway = gateway_factory(twilio={"idle_timeout_s": 2.0})  # the first call's socket is never that idle
    channels, script = call_audio["billing"]
    first_agent = next(u for u in script["utterances"] if u["role"] == "agent")
    tracks = {t: clip(s, 0, first_agent["end"] - 400) for t, s in stereo_tracks(channels, script["channels"]).items()}
    sid = call_sid()
    async with aiohttp.ClientSession() as session:
        url = await media_stream_url(session, gateway.base_url, API_ID, API_SECRET)
        assert (await control(session, gateway, "start", sid))["error"]["code"] == "400-203"

        async def start() -> None:
            assert (await control(session, gateway, "start", sid))["status"] == 200

        # a whole call first, then a socket that says nothing after connecting: only that one is closed
        task = asyncio.create_task(
            play_call(session, url, tracks, sid, realtime=False, on_started=start, send_stop=True, settle_s=0.0)
        )
        await task
        async with session.ws_connect(url) as ws:
            await ws.send_str(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
            async for _ in ws:
                pass
            assert ws.close_code == 1001
        stopped = await control(session, gateway, "stop", sid)
    assert stopped["autotranscribeResponse"]["agent"]["summary"]["transcripts"] == 1


async def test_a_call_whose_media_is_gone_is_forgotten_after_it_lingers(gateway_factory: Any, call_audio: Any) -> None:
    gateway = gateway_factory(limits={"call_linger_s": 0.5})
    channels, script = call_audio["billing"]
    tracks = {t: clip(s, 0, 1000) for t, s in stereo_tracks(channels, script["channels"]).items()}
    sid = call_sid()
    async with aiohttp.ClientSession() as session:
        url = await media_stream_url(session, gateway.base_url, API_ID, API_SECRET)
        await play_call(session, url, tracks, sid, realtime=False)
        assert gateway.record("twilio", sid) is not None  # a new stream could still resume it
        await eventually(lambda: gateway.record("twilio", sid) is None, what="the call forgotten")
        assert (await control(session, gateway, "start", sid))["error"]["code"] == "400-203"

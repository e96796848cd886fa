"""WebRTC ingress end to end: aiortc publishes over WHIP to a real gateway on loopback, start/stop over HTTP."""

from __future__ import annotations

import asyncio
import gc
import json
import weakref
from typing import Any

import aiohttp
import numpy as np
import pytest
from aiortc import RTCPeerConnection
from yarl import URL

from mediagw.evaluation import word_error_rate
from mediagw.ingress.webrtc.ice import configuration, pinned_addresses
from mediagw.ingress.webrtc.whip import SESSIONS
from mediagw.simulators.whip import PcmTrack, peer, publish, unpublish, whip_url
from tests.conftest import channel_of, clip
from tests.e2e import api
from tests.e2e.api import by_start, messages
from tests.gateway import API_ID, API_SECRET, GatewayThread
from tests.waits import eventually

pytestmark = pytest.mark.e2e
LOOPBACK = {"webrtc": {"ice_addresses": ("127.0.0.1",)}}
CALL_MS = 16_000  # the billing call's first three utterances: agent, customer, agent


@pytest.fixture
def whip_gateway(gateway_factory: Any) -> GatewayThread:
    gateway: GatewayThread = gateway_factory(**LOOPBACK)
    return gateway


def received_ms(gateway: GatewayThread, guid: str, role: str) -> int:
    media = gateway.media("webrtc", guid)
    return media.media_ms(role) if media is not None else 0


async def test_two_tracks_over_whip_are_transcribed_per_role(whip_gateway: GatewayThread, call_audio: Any) -> None:
    """Customer on Opus, agent on PCMU, both from one peer connection; transcripts in GET messages, on the data
    channel, and the stop summary counts the audio."""
    gateway = whip_gateway
    customer, customer_script = channel_of(call_audio["billing"], "customer")
    agent, agent_script = channel_of(call_audio["billing"], "agent")
    tracks = [PcmTrack(clip(customer, 0, CALL_MS), speed=2.0), PcmTrack(clip(agent, 0, CALL_MS), speed=2.0)]
    expected = [u for u in customer_script + agent_script if u["end"] <= CALL_MS]
    async with aiohttp.ClientSession() as session:
        issued = await whip_url(session, gateway.base_url, API_ID, API_SECRET)
        guid = issued["guid"]
        pc = peer(tracks, codecs=("opus", "PCMU"))
        channel = pc.createDataChannel("transcripts")
        sent_back: list[dict[str, Any]] = []
        channel.on("message", lambda text: sent_back.append(json.loads(text)))
        published = await publish(session, issued["whipUrl"], issued["token"], pc)
        assert "a=candidate" in published.answer and "127.0.0.1" in published.answer
        body = {"namespace": "webrtc", "guid": guid, "customerId": "cust-1", "agentId": "agent-1"}
        started = await api.control(session, gateway, "start", body)
        assert started["status"] == 200, started
        await asyncio.gather(*(track.done.wait() for track in tracks))
        for role in ("customer", "agent"):
            await eventually(lambda r=role: received_ms(gateway, guid, r), lambda ms: ms >= CALL_MS, what=role)
        stopped = await api.control(session, gateway, "stop", {"namespace": "webrtc", "guid": guid})
        stored = await messages(session, gateway, guid)
        await eventually(lambda: len(sent_back) == len(stored), what="every transcript on the data channel")
        assert await unpublish(session, published) == 200
    assert stopped["status"] == 200, stopped
    assert len(stored) == len(expected)
    in_time = by_start(stored)
    expected.sort(key=lambda u: u["start"])
    assert word_error_rate([u["text"] for u in expected], [m["text"] for m in in_time]) <= 0.25
    for message, utterance in zip(in_time, expected, strict=True):
        assert message["sender"]["role"] == utterance["role"]
        assert abs(message["autotranscribeResponse"]["start"] - utterance["start"]) <= 250
    summary = stopped["autotranscribeResponse"]
    assert summary["customer"]["summary"]["transcripts"] == sum(u["role"] == "customer" for u in expected)
    assert summary["agent"]["summary"]["transcripts"] == sum(u["role"] == "agent" for u in expected)
    assert sorted((m["role"], m["text"]) for m in sent_back) == sorted((m["sender"]["role"], m["text"]) for m in stored)


async def offer_sdp(tracks: int = 1, codec: str = "PCMU", data_channel: bool = False) -> tuple[RTCPeerConnection, str]:
    """A real aiortc offer with `tracks` audio sections on `codec` (its peer connection, to close)."""
    silence = np.zeros(800, dtype=np.int16)
    pc = (
        peer([PcmTrack(silence) for _ in range(tracks)], [codec] * tracks)
        if tracks
        else RTCPeerConnection(configuration(()))
    )
    if data_channel:
        pc.createDataChannel("transcripts")
    with pinned_addresses(("127.0.0.1",)):
        await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


async def post(
    session: aiohttp.ClientSession, url: str, body: str, token: str | None, content_type: str = "application/sdp"
) -> tuple[int, str]:
    headers = {"Content-Type": content_type} | ({"Authorization": f"Bearer {token}"} if token is not None else {})
    async with session.post(url, data=body, headers=headers) as response:
        return response.status, await response.text()


async def test_bad_input_gets_a_clear_http_error_and_other_sessions_keep_running(
    gateway_factory: Any, call_audio: Any
) -> None:
    gateway = gateway_factory(webrtc={"ice_addresses": ("127.0.0.1",), "connect_timeout_s": 1.5})
    customer, _ = channel_of(call_audio["billing"], "customer")
    bystander_track = PcmTrack(clip(customer, 0, 30_000))
    closers: list[RTCPeerConnection] = []
    async with aiohttp.ClientSession() as session:
        bystander_url = await whip_url(session, gateway.base_url, API_ID, API_SECRET)
        bystander = await publish(session, bystander_url["whipUrl"], bystander_url["token"], peer([bystander_track]))
        bystander_guid = bystander_url["guid"]
        await eventually(lambda: received_ms(gateway, bystander_guid, "customer"), lambda ms: ms > 0, what="media")
        issued = await whip_url(session, gateway.base_url, API_ID, API_SECRET)
        url, token = issued["whipUrl"], issued["token"]

        pc, good = await offer_sdp()
        closers.append(pc)
        status, text = await post(session, url, good, None)
        assert status == 401 and "bearer token is required" in text
        expired = gateway.services.signer.issue(API_ID, issued["guid"], now=0.0, audience="webrtc")
        status, text = await post(session, url, good, expired)
        assert status == 401 and "expired" in text
        twilio_token = gateway.services.signer.issue(API_ID, issued["guid"], audience="twilio")
        assert (await post(session, url, good, twilio_token))[0] == 401
        status, text = await post(session, url, good, token, content_type="application/json")
        assert status == 415 and "application/sdp" in text

        status, text = await post(session, url, "v=0\r\nthis is not SDP\r\n", token)
        assert status == 400 and "malformed SDP" in text
        pc, no_audio = await offer_sdp(tracks=0, data_channel=True)
        closers.append(pc)
        status, text = await post(session, url, no_audio, token)
        assert status == 400 and "no audio" in text
        g722 = good.replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:9 G722/8000").replace(
            "UDP/TLS/RTP/SAVPF 0", "UDP/TLS/RTP/SAVPF 9"
        )
        status, text = await post(session, url, g722, token)
        assert status == 400 and "no supported audio codec" in text and "G722" in text

        status, text = await post(session, bystander_url["whipUrl"], good, bystander_url["token"])
        assert status == 409 and "already has WebRTC media" in text

        av_pc = peer([PcmTrack(np.zeros(800, dtype=np.int16))])
        av_pc.addTransceiver("video", direction="sendonly")  # a media server publishing video too
        closers.append(av_pc)
        with_video = await whip_url(session, gateway.base_url, API_ID, API_SECRET)
        video = await publish(session, with_video["whipUrl"], with_video["token"], av_pc)
        video_section = video.answer[video.answer.index("m=video") :]
        assert "a=inactive" in video_section.split("m=", 2)[1]  # audio is taken, video declined
        assert await unpublish(session, video) == 200

        unknown = f"{url}/no-such-session"
        async with session.delete(unknown, headers={"Authorization": f"Bearer {token}"}) as response:
            assert response.status == 404 and "no such WHIP session" in await response.text()

        # a client that never completes ICE: it offers, then never answers a connectivity check
        silent, offer = await offer_sdp()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"}
        async with session.post(url, data=offer, headers=headers) as response:
            assert response.status == 201
            location = str(response.url.join(URL(response.headers["Location"])))
        await silent.close()
        media = gateway.media("webrtc", issued["guid"])
        await eventually(lambda: media is not None and media.sources == 0, timeout_s=10, what="the session ended")
        async with session.delete(location, headers={"Authorization": f"Bearer {token}"}) as response:
            assert response.status == 404
            assert "ICE and DTLS did not complete within 1.5 s" in await response.text()
        assert received_ms(gateway, bystander_guid, "customer") > 0
        before = received_ms(gateway, bystander_guid, "customer")
        await eventually(
            lambda: received_ms(gateway, bystander_guid, "customer"), lambda ms: ms > before + 500, what="bystander"
        )
        assert await unpublish(session, bystander) == 200
    for pc in closers:
        await pc.close()


async def test_limits_trickle_and_cors(gateway_factory: Any) -> None:
    gateway = gateway_factory(webrtc={"ice_addresses": ("127.0.0.1",), "max_sessions": 1})
    closers: list[RTCPeerConnection] = []
    async with aiohttp.ClientSession() as session:
        first = await whip_url(session, gateway.base_url, API_ID, API_SECRET, guid="call-1")
        assert first["guid"] == "call-1" and first["whipUrl"].endswith("/mg-webrtc/v1/whip/call-1")
        pc = peer([PcmTrack(np.zeros(8000, dtype=np.int16))])
        closers.append(pc)
        published = await publish(session, first["whipUrl"], first["token"], pc)
        second = await whip_url(session, gateway.base_url, API_ID, API_SECRET, guid="call-2")
        other, offer = await offer_sdp()
        closers.append(other)
        headers = {"Content-Type": "application/sdp", "Authorization": f"Bearer {second['token']}"}
        async with session.post(second["whipUrl"], data=offer, headers=headers) as response:
            assert response.status == 503 and "session limit" in await response.text()
            assert response.headers.get("Retry-After") == "5"
        status, text = await post(session, second["whipUrl"].replace("call-2", "call-1"), offer, second["token"])
        assert status == 401 and "another guid" in text

        auth = {"Authorization": f"Bearer {first['token']}", "Content-Type": "application/trickle-ice-sdpfrag"}
        ufrag = next(line for line in pc.localDescription.sdp.splitlines() if line.startswith("a=ice-ufrag:"))
        candidate = "a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host"
        fragment = f"{ufrag}\r\na=mid:0\r\n{candidate}\r\na=end-of-candidates\r\n"
        async with session.patch(published.location, data=fragment, headers=auth) as response:
            assert response.status == 204
        restart = f"a=ice-ufrag:abcd\r\na=ice-pwd:{'x' * 22}\r\na=mid:0\r\n{candidate}\r\n"
        async with session.patch(published.location, data=restart, headers=auth) as response:
            assert response.status == 422 and "ICE restarts are not supported" in await response.text()
        wrong = {**auth, "Authorization": f"Bearer {second['token']}"}
        async with session.patch(published.location, data=fragment, headers=wrong) as response:
            assert response.status == 401

        origin = {"Origin": "https://desk.example.com", "Access-Control-Request-Method": "POST"}
        async with session.options(first["whipUrl"], headers=origin) as response:
            assert response.status == 204
            assert response.headers["Accept-Post"] == "application/sdp"
            assert response.headers["Access-Control-Allow-Origin"] == "*"
            assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
        async with session.post(second["whipUrl"], data=offer, headers={"Origin": "https://desk.example.com"}) as r:
            assert r.status == 401 and r.headers["Access-Control-Allow-Origin"] == "*"
        held = gateway.app[SESSIONS].get(published.location.rsplit("/", 1)[1])
        assert held is not None
        aiortc_objects = [weakref.ref(held), weakref.ref(held._pc), *map(weakref.ref, held._pc.getTransceivers())]
        del held
        assert await unpublish(session, published) == 200
        assert (await post(session, second["whipUrl"], offer, second["token"]))[0] == 201  # the slot is free again
    await eventually(lambda: gateway.run(_collected(aiortc_objects)), what="the session's aiortc objects freed")
    for each in closers:
        await each.close()


async def _collected(refs: list[weakref.ref[Any]]) -> bool:
    gc.collect()
    return all(ref() is None for ref in refs)


async def test_idle_media_ends_the_session_and_flushes_the_utterance(gateway_factory: Any, call_audio: Any) -> None:
    """The client stops sending mid-utterance and never says goodbye: after webrtc.idle_timeout_s the session
    ends and the utterance in progress is transcribed."""
    gateway = gateway_factory(webrtc={"ice_addresses": ("127.0.0.1",), "idle_timeout_s": 1.0})
    customer, script = channel_of(call_audio["billing"], "customer")
    first = script[0]
    track = PcmTrack(clip(customer, 0, first["end"] - 300), speed=2.0, tail_ms=0)
    async with aiohttp.ClientSession() as session:
        issued = await whip_url(session, gateway.base_url, API_ID, API_SECRET)
        guid = issued["guid"]
        pc = peer([track])
        await publish(session, issued["whipUrl"], issued["token"], pc)
        body = {"namespace": "webrtc", "guid": guid, "customerId": "cust-1", "agentId": "agent-1"}
        assert (await api.control(session, gateway, "start", body))["status"] == 200
        await track.done.wait()
        stored = await eventually(lambda: messages(session, gateway, guid), lambda m: len(m) == 1, what="flushed")
        media = gateway.media("webrtc", guid)
        assert media is not None and media.sources == 0
        await pc.close()
    assert word_error_rate([first["text"]], [stored[0]["text"]]) <= 0.4

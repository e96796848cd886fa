"""SIPREC end to end: an SRC (our asyncio one) records a sample call into the running gateway over UDP."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiohttp
import numpy as np
import pytest

from mediagw.core.media import CallMedia
from mediagw.evaluation import word_error_rate
from mediagw.simulators.siprec_call import SiprecCall
from tests.e2e.api import by_start, control, messages
from tests.gateway import GatewayThread
from tests.waits import eventually

GUID = "00002542391662063156"
DEAD = "00002542391662063157"


def srs_address(gateway: GatewayThread) -> tuple[str, int]:
    return ("127.0.0.1", gateway.siprec.port)


def the_call(gateway: GatewayThread, guid: str) -> CallMedia:
    media = gateway.media("siprec", guid)
    assert media is not None, f"no SIPREC call {guid}"
    return media


def ending(gateway: GatewayThread, guid: str) -> bool:
    record = gateway.record("siprec", guid)
    return record is not None and record.ending


async def bye_processed(gateway: GatewayThread, guid: str) -> None:
    """Until the recording's BYE has been handled: its media detached and its last utterances flushed."""
    media = the_call(gateway, guid)
    await eventually(lambda: media.sources == 0 and not ending(gateway, guid), what=f"BYE of {guid} processed")


def stereo(call_audio: Any, name: str) -> tuple[np.ndarray, dict[str, Any]]:
    channels, script = call_audio[name]
    return np.stack(channels, axis=1), script


async def test_a_siprec_call_is_transcribed_per_participant(gateway: GatewayThread, call_audio: Any) -> None:
    audio, script = stereo(call_audio, "billing")
    async with aiohttp.ClientSession() as session, SiprecCall(srs_address(gateway), GUID) as call:
        assert await call.invite() == 200
        assert "a=recvonly" in call.result.answer and "a=label:1" in call.result.answer
        started = await control(
            session,
            gateway,
            "start",
            {
                "namespace": "siprec",
                "guid": GUID,
                "customerId": "c-1",
                "agentId": "a-1",
                "siprecParams": {"mediaLineOrder": "CUSTOMER_FIRST"},
            },
        )
        assert started["status"] == 200, started
        garbage = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for target in [("127.0.0.1", call.remote_ports[0]), srs_address(gateway)]:
            for junk in (b"\x00" * 3, b"\xff" * 40, b"INVITE nonsense\r\n\r\n"):  # dropped and counted
                garbage.sendto(junk, target)
        garbage.close()
        await call.play(audio, speed=8.0)
        assert await call.bye() == 200
        await bye_processed(gateway, GUID)
        stopped = await control(session, gateway, "stop", {"namespace": "siprec", "guid": GUID})
        stored = await messages(session, gateway, GUID)
    assert stopped["status"] == 200, stopped
    expected = script["utterances"]
    in_time = by_start(stored)
    assert len(in_time) == len(expected)
    assert word_error_rate([u["text"] for u in expected], [m["text"] for m in in_time]) <= 0.2
    for message, utterance in zip(in_time, expected, strict=True):
        assert message["sender"]["role"] == utterance["role"]
        assert abs(message["autotranscribeResponse"]["start"] - utterance["start"]) <= 150
    summary = stopped["autotranscribeResponse"]["customer"]["summary"]
    assert summary["totalAudioBytes"] == len(audio) // 160 * 160 * 2
    registry = gateway.services.metrics.registry
    assert registry.get_sample_value("mediagw_rtp_packets_total", {"outcome": "bad"}) == 3  # the garbage
    assert registry.get_sample_value("mediagw_rtp_packets_total", {"outcome": "lost"}) is None  # none lost


async def test_an_unknown_guid_is_400_203_and_sip_errors_get_their_codes(gateway: GatewayThread) -> None:
    async with aiohttp.ClientSession() as session:
        unknown = await control(
            session,
            gateway,
            "start",
            {"namespace": "siprec", "guid": "00000000000000000001", "customerId": "c", "agentId": "a"},
        )
    assert unknown["status"] == 400 and unknown["error"]["code"] == "400-203"
    async with SiprecCall(srs_address(gateway), GUID) as call:
        assert await call.invite(extra_headers=(("Require", "foo"),)) == 420


async def test_bye_flushes_the_utterance_in_progress_and_control_waits_with_409_203(
    gateway: GatewayThread, call_audio: Any
) -> None:
    audio, script = stereo(call_audio, "travel")
    last = script["utterances"][-1]
    cut = (last["start"] + last["end"]) // 2 * 8  # BYE in the middle of the last utterance
    guid = "00002542391662063157"
    async with aiohttp.ClientSession() as session, SiprecCall(srs_address(gateway), guid) as call:
        assert await call.invite() == 200
        start = {"namespace": "siprec", "guid": guid, "customerId": "c-1", "agentId": "a-1"}
        assert (await control(session, gateway, "start", start))["status"] == 200
        await call.play(audio[:cut], speed=8.0)
        bye = asyncio.create_task(call.bye())
        media = the_call(gateway, guid)
        await eventually(lambda: ending(gateway, guid) or media.sources == 0, interval_s=0.001, what="BYE received")
        codes = []

        async def stop() -> Any:  # while the BYE's flush runs, start and stop are refused with 409-203
            answer = await control(session, gateway, "stop", {"namespace": "siprec", "guid": guid})
            if answer["status"] != 200:
                codes.append(answer["error"]["code"])
            return answer

        stopped = await eventually(stop, lambda a: a["status"] == 200 or a["error"]["code"] != "409-203")
        assert await bye == 200
    assert codes and set(codes) == {"409-203"}
    summaries = stopped["autotranscribeResponse"]
    assert summaries["customer"]["summary"]["transcripts"] + summaries["agent"]["summary"]["transcripts"] == len(
        script["utterances"]
    )


async def test_a_recording_whose_rtp_stops_is_ended_with_a_bye_but_not_while_on_hold(
    gateway_factory: Any, call_audio: Any
) -> None:
    gateway = gateway_factory(siprec={"port": 0, "media_timeout_s": 1.0})
    audio, _ = stereo(call_audio, "billing")
    async with SiprecCall(srs_address(gateway), GUID) as held, SiprecCall(srs_address(gateway), DEAD) as dead:
        assert await held.invite() == 200 and await dead.invite() == 200
        await asyncio.gather(held.play(audio[:4000]), dead.play(audio[:4000]))
        assert await held.reinvite("inactive") == 200  # on hold: the SRC says it sends nothing
        bye = await dead.bye_received(within_s=60.0)
        assert "No RTP" in (bye.headers.get("Reason") or "")
        server = gateway.siprec
        assert server.core is not None
        assert [r.call_id for r in server.core.recordings.values()] == [held.call_id]
        with pytest.raises(TimeoutError):
            await held.bye_received(within_s=1.5)  # still recording, though silent
        assert await held.bye() == 200

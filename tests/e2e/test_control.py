"""start-streaming / stop-streaming over HTTP, with a call's media fed as an ingress adapter feeds it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import aiohttp
import numpy as np
import pytest

from mediagw.core.frames import Frame
from mediagw.core.node import MediaHandle
from mediagw.core.registry import change
from tests.conftest import channel_of
from tests.gateway import API_ID, API_SECRET, GatewayThread

pytestmark = pytest.mark.e2e
HEADERS = {"asapp-api-id": API_ID, "asapp-api-secret": API_SECRET}
GUID = "00002542391662063156"
START = {
    "namespace": "siprec",
    "guid": GUID,
    "customerId": "TT9833237",
    "agentId": "RE223444211993",
    "autotranscribeParams": {"language": "en-US"},
    "siprecParams": {"mediaLineOrder": "CUSTOMER_FIRST"},
}
STOP = {"namespace": "siprec", "guid": GUID}


async def post(gateway: GatewayThread, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession(headers=HEADERS) as session,
        session.post(f"{gateway.base_url}/mg-autotranscribe/v1/{path}", json=body) as response,
    ):
        return response.status, await response.json()


def feed(gateway: GatewayThread, media: MediaHandle, audio: dict[str, np.ndarray]) -> None:
    """Both participants' audio in 20 ms chunks, in step, on the gateway's loop."""

    def push_all() -> None:
        length = max(len(a) for a in audio.values())
        for offset in range(0, length, 160):
            for role, samples in audio.items():
                if offset < len(samples):
                    media.feed(role, Frame.of_pcm(media.position(role), samples[offset : offset + 160]))

    gateway.call_soon(push_all)


async def messages(gateway: GatewayThread, guid: str) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession(headers=HEADERS) as session,
        session.get(
            f"{gateway.base_url}/conversation/v1/conversation/messages", params={"externalId": guid}
        ) as response,
    ):
        return list((await response.json())["messages"])


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"namespace": "sip"}, "400-201"),
        ({"guid": "not-a-guid"}, "400-201"),
        ({"guid": 42}, "400-201"),
        ({"customerId": ""}, "400-201"),
        ({"agentId": None}, "400-201"),
        ({"siprecParams": {"mediaLineOrder": "SIDEWAYS"}}, "400-201"),
        (
            {
                "namespace": "twilio",
                "guid": "CA5b040e075515c424391012acc5a870cf",
                "twilioParams": {"trackMap": {"inbound": "customer", "outbound": "customer"}},
            },
            "400-201",
        ),
        (
            {
                "namespace": "amazonconnect",
                "guid": "8c259fea-8764-4a92-adc4-73572e9cf016",
                "amazonConnectParams": {
                    "streamArn": "arn:aws:kinesisvideo:us-east-1:145051540001:stream/s/1696422764859",
                    "startSelectorType": "FRAGMENT_NUMBER",
                },
            },
            "400-201",
        ),
        *(
            (
                {
                    "namespace": "amazonconnect",
                    "guid": "8c259fea-8764-4a92-adc4-73572e9cf016",
                    "amazonConnectParams": {"streamArn": arn, "startSelectorType": "NOW"},
                },
                "400-201",
            )
            for arn in (
                "connect-contact-stream",
                "arn:aws:kinesis:us-east-1:145051540001:stream/s/1696422764859",  # Kinesis Data Streams
                "arn:aws:kinesisvideo:us-east-1:1450515:stream/s/1696422764859",  # account id too short
                "arn:aws:kinesisvideo:us-east-1:145051540001:stream/s/" + "1" * 1000,  # over AWS's 1024
            )
        ),
        ({"autotranscribeParams": {"language": "es-US"}}, "400-202"),
        ({"autotranscribeParams": {"smartFormatting": False}}, "400-202"),
        ({"autotranscribeParams": {"detailedToken": "yes"}}, "400-202"),
        ({}, "400-203"),  # valid, but no call with that guid has media here
    ],
)
async def test_bad_start_requests_get_their_documented_code(gateway: GatewayThread, change: Any, code: str) -> None:
    status, body = await post(gateway, "start-streaming", {**START, **change})
    assert status == int(code[:3])
    assert body["error"]["code"] == code and body["error"]["requestId"] and body["error"]["message"]


async def test_cisco_guid_and_trailing_slash_are_accepted(gateway: GatewayThread) -> None:
    cisco = "0867617078-0032318833-2221801472-0002236962"
    status, body = await post(gateway, "start-streaming/", {**START, "guid": cisco})
    assert (status, body["error"]["code"]) == (400, "400-203")  # well-formed: only the call is missing


async def test_a_call_started_stopped_and_resumed_with_a_new_agent(gateway: GatewayThread, call_audio: Any) -> None:
    call = gateway.attach("siprec", GUID)
    customer, customer_script = channel_of(call_audio["billing"], "customer")
    agent, agent_script = channel_of(call_audio["billing"], "agent")
    half = customer_script[1]["end"] + 600  # agent greeting, customer complaint, agent question, customer answer
    feed(gateway, call, {"customer": customer[:8000], "agent": agent[:8000]})  # before start: counted, not heard

    status, started = await post(gateway, "start-streaming", START)
    assert status == 200 and started["isOk"] is True
    streams = started["autotranscribeResponse"]
    assert set(streams) == {"customer", "agent"}
    assert streams["customer"]["status"] == {"code": 1000, "description": "OK"}
    assert (await post(gateway, "start-streaming", START))[1]["error"]["code"] == "409-201"

    feed(gateway, call, {"customer": customer[8000 : half * 8], "agent": agent[8000 : half * 8]})
    status, stopped = await post(gateway, "stop-streaming", STOP)
    assert status == 200
    summary = stopped["autotranscribeResponse"]["customer"]["summary"]
    assert summary["totalAudioBytes"] == half * 8 * 2  # received, before start included
    assert summary["audioDurationMs"] == half - 1000
    assert summary["transcripts"] == 2
    assert stopped["autotranscribeResponse"]["customer"]["streamId"] == streams["customer"]["streamId"]
    assert (await post(gateway, "stop-streaming", STOP))[1]["error"]["code"] == "409-201"

    stored = await messages(gateway, GUID)
    assert [m["sender"]["role"] for m in stored].count("agent") == stopped["autotranscribeResponse"]["agent"][
        "summary"
    ]["transcripts"]
    assert all(m["externalConversationId"] == GUID for m in stored)
    first_customer = next(m for m in stored if m["sender"] == {"externalId": "TT9833237", "role": "customer"})
    assert abs(first_customer["autotranscribeResponse"]["start"] - customer_script[0]["start"]) <= 150

    feed(gateway, call, {"customer": customer[half * 8 : half * 8 + 16000]})  # on hold: never transcribed
    resumed_start = {**START, "agentId": "NEWAGENT42"}
    status, resumed = await post(gateway, "start-streaming", resumed_start)
    assert status == 200
    assert resumed["autotranscribeResponse"]["customer"]["streamId"] != streams["customer"]["streamId"]
    rest = half * 8 + 16000
    feed(gateway, call, {"customer": customer[rest:], "agent": agent[rest:]})
    status, ended = await post(gateway, "stop-streaming", STOP)
    later = [
        m
        for m in await messages(gateway, GUID)
        if m["streamId"] == resumed["autotranscribeResponse"]["customer"]["streamId"]
    ]
    assert later and all(m["autotranscribeResponse"]["start"] >= (rest // 8) - 300 for m in later)
    record = gateway.record("siprec", GUID)
    assert record is not None and len(record.legs) == 2


async def test_pending_and_bye_conflicts(gateway: GatewayThread) -> None:
    gateway.attach("siprec", GUID)
    registry = gateway.services.registry
    gateway.run(change(registry, "siprec", GUID, lambda r: replace(r, pending=True)))
    assert (await post(gateway, "start-streaming", START))[1]["error"]["code"] == "409-202"
    gateway.run(change(registry, "siprec", GUID, lambda r: replace(r, pending=False, ending=True)))
    assert (await post(gateway, "stop-streaming", STOP))[1]["error"]["code"] == "409-203"
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{gateway.base_url}/mg-autotranscribe/v1/start-streaming", json=START) as response,
    ):
        assert response.status == 401

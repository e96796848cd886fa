"""Drain (POST /v1/drain, the first step of SIGTERM): new work of every kind is refused with its protocol's code,
readiness says so at once, and a call already in progress goes on to its end with its transcripts."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import numpy as np
import pytest

from mediagw.simulators.direct_ws import streaming_url
from mediagw.simulators.siprec_call import SiprecCall
from tests.e2e.api import HEADERS, by_start, control, messages
from tests.e2e.test_siprec import GUID, bye_processed, srs_address, stereo
from tests.gateway import API_ID, API_SECRET, GatewayThread
from tests.waits import eventually

pytestmark = pytest.mark.e2e
OTHER_GUID = "00002542391662063199"


async def test_drain_refuses_new_work_and_the_siprec_call_in_progress_still_gets_its_transcripts(
    gateway: GatewayThread, call_audio: Any
) -> None:
    audio, script = stereo(call_audio, "billing")
    half = len(audio) // 2
    async with aiohttp.ClientSession() as session, SiprecCall(srs_address(gateway), GUID) as call:
        assert await call.invite() == 200
        start = {"namespace": "siprec", "guid": GUID, "customerId": "c-1", "agentId": "a-1"}
        assert (await control(session, gateway, "start", start))["status"] == 200
        await call.play(np.ascontiguousarray(audio[:half]), speed=8.0)
        direct_url = await streaming_url(session, gateway.base_url, API_ID, API_SECRET, "issued-before")

        async with session.post(f"{gateway.base_url}/v1/drain") as unauthenticated:
            assert unauthenticated.status == 401
        async with session.post(f"{gateway.base_url}/v1/drain", headers=HEADERS) as drained:
            assert (drained.status, (await drained.json())["status"]) == (202, "draining")
        async with session.get(f"{gateway.base_url}/v1/ready") as ready:
            assert (ready.status, (await ready.json())["status"]) == (503, "draining")
        async with session.get(f"{gateway.base_url}/v1/health") as health:
            assert health.status == 200  # liveness: a draining node must not be restarted for it

        async with SiprecCall(srs_address(gateway), OTHER_GUID) as new_call:
            assert await new_call.invite() == 503
            assert new_call.last_response is not None
            assert new_call.last_response.headers.get("Retry-After") == "5"
        await eventually(
            lambda: gateway.metric("mediagw_siprec_invites_refused_total", reason="draining"),
            lambda refused: refused == 1,
            what="the refused INVITE counted",
        )
        async with session.post(
            f"{gateway.base_url}/autotranscribe/v1/streaming-url", json={"externalId": "x"}, headers=HEADERS
        ) as refused_url:
            assert (refused_url.status, (await refused_url.json())["error"]["code"]) == (503, "503-01")
        async with session.ws_connect(direct_url) as ws:
            await ws.send_str(json.dumps({"message": "startStream", "sender": {"role": "agent", "externalId": "a"}}))
            replies = [json.loads(m.data) async for m in ws]
        assert [(m["message"], m["status"]["code"]) for m in replies] == [
            ("startResponse", "5001"),
            ("finalResponse", "5001"),
        ]

        await call.play(np.ascontiguousarray(audio[half:]), speed=8.0)  # the call in progress goes on
        assert await call.bye() == 200
        await bye_processed(gateway, GUID)
        stored = by_start(await messages(session, gateway, GUID))
    drain_at_ms = half // 8
    after_drain = [u for u in script["utterances"] if u["start"] > drain_at_ms + 500]
    assert after_drain, "the sample call has utterances after the drain"
    assert len(stored) == len(script["utterances"])  # every one, before and after the drain
    assert any(m["autotranscribeResponse"]["start"] > drain_at_ms for m in stored)

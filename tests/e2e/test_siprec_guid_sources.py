"""Every guid a SIPREC call is registered under can be started: guid_source call-id and header name calls by
raw values that start-streaming then accepts, and a call without its configured id falls back to a startable guid."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import numpy as np
import pytest

from mediagw.ingress.siprec.callid import fallback_guid
from mediagw.simulators.siprec_call import SiprecCall
from tests.e2e.api import control
from tests.e2e.test_siprec import srs_address

pytestmark = pytest.mark.e2e
UCID = "00002542391662063156"
REF = "ref-42@pbx.example"  # a raw header value: not one of the reference's decimal forms


async def registered(gateway: Any, guid: str, within_s: float = 5.0) -> None:
    """The INVITE's 200 goes out before the recording's media is set up: wait for the call to be known."""
    deadline = time.monotonic() + within_s
    while gateway.media("siprec", guid) is None:
        assert time.monotonic() < deadline, f"no call registered as {guid}: {[c.guid for c in gateway.services.media]}"
        await asyncio.sleep(0.01)


async def start_and_stop(gateway: Any, call: SiprecCall, guid: str) -> None:
    async with aiohttp.ClientSession() as session:
        start = {"namespace": "siprec", "guid": guid, "customerId": "c-1", "agentId": "a-1"}
        started = await control(session, gateway, "start", start)
        assert started["status"] == 200 and started["isOk"] is True, started
        await call.play(np.zeros((1600, 2), dtype=np.int16), speed=8.0)
        stopped = await control(session, gateway, "stop", {"namespace": "siprec", "guid": guid})
        assert stopped["status"] == 200 and stopped["isOk"] is True, stopped


@pytest.mark.parametrize(
    ("siprec", "header", "guid"),
    [
        ({"guid_source": "call-id"}, None, None),  # None: the call's own Call-ID
        ({"guid_source": "header", "guid_header": "X-Call-Ref"}, ("X-Call-Ref", REF), REF),
        ({"guid_source": "cisco-guid"}, None, "fallback"),  # no Cisco-Guid in the INVITE
    ],
)  # fmt: skip
async def test_a_call_named_by_its_configured_guid_source_can_be_started(
    gateway_factory: Any, siprec: dict[str, str], header: tuple[str, str] | None, guid: str | None
) -> None:
    gateway = gateway_factory(siprec=siprec)
    async with SiprecCall(srs_address(gateway), UCID) as call:
        assert await call.invite(extra_headers=(header,) if header else ()) == 200
        if guid is None:
            guid = call.call_id
        elif guid == "fallback":
            guid = fallback_guid(call.call_id, siprec["guid_source"])
        await registered(gateway, guid)
        await start_and_stop(gateway, call, guid)
        assert await call.bye() == 200

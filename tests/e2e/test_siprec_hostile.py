"""SIPREC on a hostile network, end to end over loopback: an INVITE flood that never ACKs cannot take the RTP ports
from a real SRC, sources outside siprec.allowed_sources are refused (SIP 403, RTP dropped), and RTP racing the SRC
from another address cannot capture its streams (127.0.0.2 is a distinct source on Linux loopback)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from typing import Any

import aiohttp
import numpy as np

from mediagw.simulators.siprec_call import SiprecCall
from tests.e2e.api import by_start, control, messages
from tests.e2e.test_siprec import bye_processed, srs_address, stereo
from tests.gateway import GatewayThread
from tests.waits import eventually

GUID = "00002542391662063156"
ATTACKER = "127.0.0.2"
SILENCE = bytes([0xFF]) * 160  # 20 ms of PCMU silence


def rtp_range() -> dict[str, int]:
    """Ten RTP port pairs somewhere other gateways of a parallel run are unlikely to be."""
    base = random.randrange(40000, 60000, 2)
    return {"rtp_port_min": base, "rtp_port_max": base + 19}


def silence_packet(sequence: int, ssrc: int) -> bytes:
    return struct.pack("!BBHII", 0x80, 0, sequence & 0xFFFF, (sequence * 160) & 0xFFFFFFFF, ssrc) + SILENCE


async def test_an_invite_flood_without_acks_leaves_ports_for_a_real_src(gateway_factory: Any) -> None:
    gateway = gateway_factory(siprec={**rtp_range(), "max_unconfirmed_per_source": 3})
    srs = srs_address(gateway)
    async with contextlib.AsyncExitStack() as stack:
        flood = [await stack.enter_async_context(SiprecCall(srs, GUID, address=ATTACKER)) for _ in range(20)]
        statuses = [await call.invite(ack=False) for call in flood]  # 40 ports asked for, 20 in the range
        assert statuses == [200] * 3 + [503] * 17
        refusal = flood[-1].last_response
        assert refusal is not None and refusal.headers.get("Retry-After") == "5"
        async with SiprecCall(srs, GUID) as src:
            assert await src.invite() == 200
            assert await src.bye() == 200
    assert gateway.metric("mediagw_siprec_invites_refused_total", reason="unconfirmed-dialogs") == 17


async def test_sources_outside_allowed_sources_get_403_and_their_rtp_is_dropped(gateway_factory: Any) -> None:
    gateway = gateway_factory(siprec={"allowed_sources": ["127.0.0.1/32"]})
    srs = srs_address(gateway)
    async with SiprecCall(srs, GUID) as src, SiprecCall(srs, GUID, address=ATTACKER) as stranger:
        assert await stranger.invite() == 403
        assert await src.invite() == 200
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender.bind((ATTACKER, 0))
        for sequence in range(5):
            sender.sendto(silence_packet(sequence, 7), (srs[0], src.remote_ports[0]))
        sender.close()
        await eventually(
            lambda: gateway.metric("mediagw_rtp_foreign_packets_total", reason="not-allowed"),
            lambda count: count == 5,
            what="the stranger's RTP counted",
        )
        assert await src.bye() == 200
    assert gateway.metric("mediagw_siprec_invites_refused_total", reason="source-not-allowed") == 1


async def _spray(ports: list[int], host: str, started: asyncio.Event) -> None:
    """RTP silence to each of the call's ports every 20 ms from another address, as the attacker in #15 did."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=(ATTACKER, 0))
    try:
        for sequence in range(100000):
            for port in ports:
                transport.sendto(silence_packet(sequence, 0xBADBAD), (host, port))
            started.set()
            await asyncio.sleep(0.02)  # the attacker's pace, not a wait for state
    finally:
        transport.close()


async def test_rtp_racing_the_src_from_another_address_does_not_capture_its_streams(
    gateway: GatewayThread, call_audio: Any
) -> None:
    audio, script = stereo(call_audio, "billing")
    expected = [u for u in script["utterances"] if u["end"] <= 11000]  # one each: the agent's, the customer's
    srs = srs_address(gateway)
    async with aiohttp.ClientSession() as session, SiprecCall(srs, GUID) as call:
        assert await call.invite() == 200  # its offer's c= names 127.0.0.1
        start = {"namespace": "siprec", "guid": GUID, "customerId": "c-1", "agentId": "a-1"}
        assert (await control(session, gateway, "start", start))["status"] == 200
        sprayed = asyncio.Event()
        spray = asyncio.create_task(_spray(call.remote_ports, srs[0], sprayed))
        await sprayed.wait()  # the foreign packets come first
        await eventually(
            lambda: gateway.metric("mediagw_rtp_foreign_packets_total", reason="unexpected-source"),
            what="a foreign packet received before the SRC's first",
        )
        await call.play(np.ascontiguousarray(audio[: 11000 * 8]), speed=8.0)
        spray.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await spray
        assert await call.bye() == 200
        await bye_processed(gateway, GUID)
        stored = by_start(await messages(session, gateway, GUID))
    assert [m["sender"]["role"] for m in stored] == [u["role"] for u in expected]
    foreign = gateway.metric("mediagw_rtp_foreign_packets_total", reason="unexpected-source")
    assert foreign > 0
    assert gateway.metric("mediagw_rtp_packets_total", outcome="foreign") == foreign

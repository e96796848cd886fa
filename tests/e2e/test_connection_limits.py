"""Idle and excess connections, end to end: SIP over TCP closes idle connections (not one a recording uses) and
refuses connections past its limit while a call goes on; the HTTP listener does the same, and a request body
that trickles in (a slowloris) is cut after server.body_timeout_s while the API answers others."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import aiohttp

from mediagw.ingress.siprec.sip import SipResponse, StreamFramer, parse_message
from mediagw.simulators.siprec_call import offer_sdp
from tests.e2e.api import HEADERS
from tests.gateway import GatewayThread

DEADLINE_S = 20.0  # for a close that the gateway should make within a second or two


class SipTcp:
    """An SRC's SIP connection over TCP: requests as text, responses read with the gateway's own framer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, srs: tuple[str, int]) -> None:
        self.reader, self.writer, self.srs = reader, writer, srs
        self.local_port = writer.get_extra_info("sockname")[1]
        self.call_id = f"{secrets.token_hex(6)}@127.0.0.1"
        self.to_tag = ""
        self._framer = StreamFramer()
        self._pending: list[bytes] = []

    @classmethod
    async def connect(cls, srs: tuple[str, int]) -> SipTcp:
        reader, writer = await asyncio.open_connection(*srs)
        return cls(reader, writer, srs)

    def send(self, method: str, cseq: int, body: str = "") -> None:
        host, port = self.srs
        lines = [
            f"{method} sip:srs@{host}:{port};transport=tcp SIP/2.0",
            f"Via: SIP/2.0/TCP 127.0.0.1:{self.local_port};branch=z9hG4bK{secrets.token_hex(6)}",
            "Max-Forwards: 70",
            "From: <sip:src@127.0.0.1>;tag=src1",
            "To: <sip:srs@127.0.0.1>" + (f";tag={self.to_tag}" if self.to_tag else ""),
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: <sip:src@127.0.0.1:{self.local_port};transport=tcp>",
        ]
        if body:
            lines.append("Content-Type: application/sdp")
        self.writer.write(("\r\n".join(lines) + f"\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode())

    async def response(self) -> SipResponse:
        while not self._pending:
            data = await asyncio.wait_for(self.reader.read(65536), DEADLINE_S)
            assert data, "connection closed"
            self._pending += [item for item in self._framer.feed(data) if isinstance(item, bytes)]
        message = parse_message(self._pending.pop(0))
        assert isinstance(message, SipResponse)
        return message

    async def closed(self) -> bool:
        """True once the gateway closed the connection (EOF), within DEADLINE_S."""
        try:
            data = await asyncio.wait_for(self.reader.read(65536), DEADLINE_S)
        except ConnectionResetError:
            return True
        return data == b""


def sip_tcp_address(gateway: GatewayThread) -> tuple[str, int]:
    return ("127.0.0.1", gateway.siprec.port)


async def test_an_idle_sip_tcp_connection_is_closed_after_the_idle_timeout(gateway_factory: Any) -> None:
    gateway = gateway_factory(siprec={"tcp_idle_timeout_s": 0.3})
    idle = await SipTcp.connect(sip_tcp_address(gateway))
    loop = asyncio.get_running_loop()
    opened = loop.time()
    assert await idle.closed()
    assert 0.25 <= loop.time() - opened < 5.0


async def test_sip_tcp_connections_past_the_limit_are_refused_while_a_call_goes_on(gateway_factory: Any) -> None:
    gateway = gateway_factory(siprec={"tcp_max_connections": 2, "tcp_idle_timeout_s": 0.5})
    srs = sip_tcp_address(gateway)
    call = await SipTcp.connect(srs)
    call.send("INVITE", 1, offer_sdp("127.0.0.1", (40000, 40002)))
    ok = await call.response()
    assert ok.status == 200
    call.to_tag = ok.to_tag or ""
    call.send("ACK", 1)
    idle = await SipTcp.connect(srs)
    idle.send("OPTIONS", 1)
    assert (await idle.response()).status == 200  # admitted: two open, the limit
    excess = await SipTcp.connect(srs)
    assert await excess.closed()
    assert gateway.metric("mediagw_connections_refused_total", listener="sip-tcp") == 1
    assert await idle.closed()  # idle past 0.5 s: closed; the call's connection, as quiet, is not
    call.send("BYE", 2)
    assert (await call.response()).status == 200
    again = await SipTcp.connect(srs)  # room again
    again.send("OPTIONS", 1)
    assert (await again.response()).status == 200
    for connection in (call, idle, excess, again):
        connection.writer.close()


async def _raw_http(gateway: GatewayThread) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", gateway.port)


async def test_http_connections_past_the_limit_get_503_while_open_ones_are_served(gateway_factory: Any) -> None:
    gateway = gateway_factory(server={"max_connections": 3})
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        async with session.get(f"{gateway.base_url}/v1/health") as response:
            assert response.status == 200  # its connection stays open (keep-alive) and counts
        held = [await _raw_http(gateway) for _ in range(2)]
        reader, writer = await _raw_http(gateway)
        answer = await asyncio.wait_for(reader.read(), DEADLINE_S)
        assert answer.startswith(b"HTTP/1.1 503 ")
        assert gateway.metric("mediagw_connections_refused_total", listener="http") == 1
        async with session.get(f"{gateway.base_url}/v1/health") as response:
            assert response.status == 200  # the open connection goes on
        for _, held_writer in [*held, (reader, writer)]:
            held_writer.close()


async def test_an_idle_http_connection_is_closed(gateway_factory: Any) -> None:
    gateway = gateway_factory(server={"idle_timeout_s": 0.3})
    reader, writer = await _raw_http(gateway)
    writer.write(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")  # headers never finished
    assert await asyncio.wait_for(reader.read(), DEADLINE_S) == b""
    writer.close()


async def test_a_slow_request_body_is_cut_after_the_body_timeout_while_the_api_answers(gateway_factory: Any) -> None:
    gateway = gateway_factory(server={"body_timeout_s": 0.5})
    reader, writer = await _raw_http(gateway)
    headers = "".join(f"{name}: {value}\r\n" for name, value in HEADERS.items())
    writer.write(
        f"POST /autotranscribe/v1/streaming-url HTTP/1.1\r\nHost: x\r\n{headers}"
        "Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{".encode()
    )
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gateway.base_url}/v1/health") as response:
            assert response.status == 200  # while the slow body is pending
        answer = await asyncio.wait_for(reader.read(), DEADLINE_S)  # the 408, then the close
    assert answer.startswith(b"HTTP/1.1 408 ") and b"408-01" in answer
    writer.close()

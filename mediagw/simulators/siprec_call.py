"""A SIPREC recording client (SRC) in asyncio: INVITE with SDP and rs-metadata, RTP from a two-channel file, BYE.

    python -m mediagw.simulators.siprec_call --srs 127.0.0.1:5070 --guid 00002542391662063156 samples/calls/billing.flac

It plays channel 0 (customer) on the first m-line and channel 1 (agent) on the second, at real-time pace by
default, as an SBC forks a call. Tests and benchmarks drive it in-process (`SiprecCall`); the pjsua2-based
`siprec_src` is the independent peer.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from mediagw.audio.g711 import pcm_to_alaw, pcm_to_ulaw
from mediagw.ingress.siprec.sdp import parse_sdp
from mediagw.ingress.siprec.sip import (
    Headers,
    SipRequest,
    SipResponse,
    generate_branch,
    generate_tag,
    make_response,
    parse_message,
)

BOUNDARY = "mediagw-src-boundary"
PACKET_SAMPLES = 160


def uui_for_ucid(ucid: str) -> str:
    """The User-to-User value an Avaya/Acme SBC sends for a 20-digit decimal UCID."""
    node, sequence, stamp = int(ucid[:5]), int(ucid[5:10]), int(ucid[10:])
    return f"00FA08{node:04X}{sequence:04X}{stamp:08X};encoding=hex"


def offer_sdp(address: str, ports: tuple[int, int], direction: str = "sendonly", version: int = 0) -> str:
    lines = ["v=0", f"o=SRC 1 {version} IN IP4 {address}", "s=SIPREC", f"c=IN IP4 {address}", "t=0 0"]
    for label, port in enumerate(ports, start=1):
        lines += [
            f"m=audio {port} RTP/AVP 0 8 101",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:8 PCMA/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-15",
            f"a={direction}",
            f"a=label:{label}",
        ]
    return "\r\n".join(lines) + "\r\n"


def recording_metadata(call_id: str, ucid_uui: str, customer_first: bool = True) -> str:
    customer, agent = ("1", "2") if customer_first else ("2", "1")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<recording xmlns="urn:ietf:params:xml:ns:recording:1" xmlns:apkt="http://acmepacket.com/siprec/extensiondata">
  <datamode>complete</datamode>
  <session session_id="c2Vzc2lvbjE=">
    <sipSessionID>{call_id}</sipSessionID>
    <extensiondata><apkt:ucid>{ucid_uui}</apkt:ucid></extensiondata>
  </session>
  <participant participant_id="cGFydDE=">
    <nameID aor="sip:+15551230001@carrier.example.com"><name>Customer</name></nameID>
  </participant>
  <participant participant_id="cGFydDI=">
    <nameID aor="sip:4001@agents.example.com"><name>Agent</name></nameID>
  </participant>
  <stream stream_id="c3RyZWFtMQ==" session_id="c2Vzc2lvbjE="><label>{customer}</label></stream>
  <stream stream_id="c3RyZWFtMg==" session_id="c2Vzc2lvbjE="><label>{agent}</label></stream>
  <participantstreamassoc participant_id="cGFydDE=">
    <send>c3RyZWFtMQ==</send><recv>c3RyZWFtMg==</recv>
  </participantstreamassoc>
  <participantstreamassoc participant_id="cGFydDI=">
    <send>c3RyZWFtMg==</send><recv>c3RyZWFtMQ==</recv>
  </participantstreamassoc>
</recording>
"""


def multipart(sdp: str, metadata: str) -> bytes:
    parts = [("application/sdp", sdp), ("application/rs-metadata+xml", metadata)]
    body = "".join(
        f"--{BOUNDARY}\r\nContent-Type: {kind}\r\nContent-Disposition: "
        f"{'session' if kind.endswith('sdp') else 'recording-session'}\r\n\r\n{text}\r\n"
        for kind, text in parts
    )
    return f"{body}--{BOUNDARY}--\r\n".encode()


class _SipSocket(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.responses: asyncio.Queue[SipResponse] = asyncio.Queue()
        self.requests: asyncio.Queue[SipRequest] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        message = parse_message(data)
        if isinstance(message, SipResponse):
            self.responses.put_nowait(message)
        else:
            self.requests.put_nowait(message)


@dataclass
class CallResult:
    statuses: dict[str, int] = field(default_factory=dict)  # final status per request: INVITE, re-INVITE, BYE
    answer: str = ""  # the SRS's SDP answer to the INVITE
    packets_sent: int = 0


class SiprecCall:
    """One recording session from this SRC to an SRS at `srs` (host, port), over UDP."""

    def __init__(self, srs: tuple[str, int], guid: str, *, address: str = "127.0.0.1") -> None:
        self.srs = srs
        self.guid = guid
        self.address = address
        self.call_id = f"{secrets.token_hex(8)}@{address}"
        self.from_tag = generate_tag()
        self.to_tag = ""
        self.cseq = 0
        self.result = CallResult()
        self.remote_ports: list[int] = []
        self._sip: _SipSocket | None = None
        self._rtp: asyncio.DatagramTransport | None = None
        self._local_port = 0
        self.last_response: SipResponse | None = None  # the final response to the last INVITE

    async def __aenter__(self) -> SiprecCall:
        loop = asyncio.get_running_loop()
        transport, self._sip = await loop.create_datagram_endpoint(_SipSocket, local_addr=(self.address, 0))
        self._local_port = transport.get_extra_info("sockname")[1]
        self._rtp, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=(self.address, 0))
        return self

    async def __aexit__(self, *_: object) -> None:
        for transport in (self._sip.transport if self._sip else None, self._rtp):
            if transport is not None:
                transport.close()

    def _request(self, method: str, body: bytes = b"", content_type: str = "") -> SipRequest:
        if method != "ACK":
            self.cseq += 1
        headers = Headers()
        headers.add("Via", f"SIP/2.0/UDP {self.address}:{self._local_port};branch={generate_branch()};rport")
        headers.add("Max-Forwards", "70")
        headers.add("From", f"<sip:src@{self.address}>;tag={self.from_tag}")
        headers.add("To", f"<sip:srs@{self.srs[0]}:{self.srs[1]}>" + (f";tag={self.to_tag}" if self.to_tag else ""))
        headers.add("Call-ID", self.call_id)
        headers.add("CSeq", f"{self.cseq} {method}")
        headers.add("Contact", f"<sip:src@{self.address}:{self._local_port}>;+sip.src")
        if content_type:
            headers.add("Content-Type", content_type)
        return SipRequest(method, f"sip:srs@{self.srs[0]}:{self.srs[1]}", headers, body)

    async def send(self, request: SipRequest, within_s: float = 8.0) -> SipResponse:
        """Send (retransmitting over UDP, timer A) and wait for the final response."""
        assert self._sip is not None and self._sip.transport is not None
        data, interval = bytes(request), 0.5
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        self._sip.transport.sendto(data, self.srs)
        while loop.time() < deadline:
            try:
                response = await asyncio.wait_for(self._sip.responses.get(), interval)
            except TimeoutError:
                self._sip.transport.sendto(data, self.srs)
                interval = min(interval * 2, 4.0)
                continue
            if response.call_id == self.call_id and response.cseq[0] == self.cseq and response.status >= 200:
                return response
        raise TimeoutError(f"no final response to {request.method}")

    async def invite(
        self, *, extra_headers: tuple[tuple[str, str], ...] = (), customer_first: bool = True, ack: bool = True
    ) -> int:
        """INVITE; a 200 is acknowledged unless `ack` is False (as a flood of INVITEs never completed would)."""
        ports = (40000, 40002)  # where we would receive: an SRS sends nothing, so any number will do
        body = multipart(
            offer_sdp(self.address, ports), recording_metadata(self.call_id, uui_for_ucid(self.guid), customer_first)
        )
        request = self._request("INVITE", body, f"multipart/mixed;boundary={BOUNDARY}")
        request.headers.add("Require", "siprec")
        request.headers.add("User-to-User", uui_for_ucid(self.guid))
        for name, value in extra_headers:
            request.headers.add(name, value)
        response = await self.send(request)
        self.result.statuses["INVITE"] = response.status
        if response.status == 200:
            self.to_tag = response.to_tag or ""
            self.result.answer = response.body.decode()
            self.remote_ports = [media.port for media in parse_sdp(response.body).media]
            if ack:
                await self._ack()
        self.last_response = response
        return response.status

    async def _ack(self) -> None:
        assert self._sip is not None and self._sip.transport is not None
        ack = self._request("ACK")
        ack.headers.set("CSeq", f"{self.cseq} ACK")
        self._sip.transport.sendto(bytes(ack), self.srs)

    async def reinvite(self, direction: str) -> int:
        body = offer_sdp(self.address, (40000, 40002), direction, version=self.cseq)
        response = await self.send(self._request("INVITE", body.encode(), "application/sdp"))
        self.result.statuses["re-INVITE"] = response.status
        if response.status == 200:
            await self._ack()
        return response.status

    async def bye(self) -> int:
        response = await self.send(self._request("BYE"))
        self.result.statuses["BYE"] = response.status
        return response.status

    async def bye_received(self, within_s: float) -> SipRequest:
        """The SRS ended the session: its BYE, answered 200 (TimeoutError if none comes in time)."""
        assert self._sip is not None and self._sip.transport is not None
        async with asyncio.timeout(within_s):
            while True:
                request = await self._sip.requests.get()
                if request.method == "BYE" and request.call_id == self.call_id:
                    self._sip.transport.sendto(bytes(make_response(request, 200)), self.srs)
                    return request

    async def play(self, audio: np.ndarray, *, speed: float = 1.0, codec: str = "PCMU") -> None:
        """RTP for both channels to the answered ports, 20 ms packets at `speed` x real time."""
        assert self._rtp is not None and len(self.remote_ports) >= 2
        encode, payload_type = (pcm_to_ulaw, 0) if codec == "PCMU" else (pcm_to_alaw, 8)
        ssrcs = [secrets.randbits(32) for _ in range(2)]
        loop = asyncio.get_running_loop()
        start = loop.time()
        for number, offset in enumerate(range(0, len(audio) - PACKET_SAMPLES + 1, PACKET_SAMPLES)):
            for channel, port in enumerate(self.remote_ports[:2]):
                payload = encode(audio[offset : offset + PACKET_SAMPLES, channel])
                header = struct.pack("!BBHII", 0x80, payload_type, number & 0xFFFF, offset & 0xFFFFFFFF, ssrcs[channel])
                self._rtp.sendto(header + payload, (self.srs[0], port))
                self.result.packets_sent += 1
            delay = start + (number + 1) * 0.02 / speed - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)


def read_call(path: Path) -> np.ndarray:
    audio, rate = sf.read(str(path), dtype="int16", always_2d=True)
    if rate != 8000 or audio.shape[1] != 2:
        raise SystemExit(f"{path}: need 8 kHz two-channel audio (got {rate} Hz, {audio.shape[1]} channels)")
    return np.ascontiguousarray(audio)


async def _main(args: argparse.Namespace) -> None:
    host, _, port = args.srs.partition(":")
    async with SiprecCall((host, int(port or 5070)), args.guid) as call:
        status = await call.invite()
        print(f"INVITE -> {status}")
        if status == 200:
            await call.play(read_call(args.file), speed=args.speed)
            print(f"BYE -> {await call.bye()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("--srs", default="127.0.0.1:5070")
    parser.add_argument("--guid", default="00002542391662063156", help="Avaya UCID (20 digits), sent in User-to-User")
    parser.add_argument("--speed", type=float, default=1.0, help="x real time")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()

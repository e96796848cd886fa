"""RTP in: UDP ports from a range, one receiver per recorded stream (jitter buffer, DTMF), audio onto the call."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from asr.frame import Pcm
from mediagw.audio.g711 import alaw_to_pcm, ulaw_to_pcm
from mediagw.ingress.siprec.admission import SourceFilter, same_host
from mediagw.ingress.siprec.g729 import G729Decoder, g729_available
from mediagw.ingress.siprec.jitterbuffer import JitterBuffer, MediaChunk
from mediagw.ingress.siprec.offer import StreamPlan
from mediagw.ingress.siprec.rtp import DtmfDetector, DtmfEnded, DtmfStarted, RtpPacket, is_rtcp

log = logging.getLogger(__name__)

G729_FRAME_BYTES, G729_FRAME_SAMPLES = 10, 80
IDLE_FLUSH_S = 0.2  # a stream silent this long gives up what its jitter buffer holds


class PortPool:
    """Even RTP ports (RTCP on the next odd one), bound when handed out so an answer never names a busy port."""

    def __init__(self, host: str, first: int, last: int) -> None:
        self._host = host
        self._free = list(range(first + first % 2, last, 2))
        self._next = 0
        self.sockets: dict[int, tuple[socket.socket, socket.socket]] = {}

    def allocate(self, _index: int = 0) -> int | None:
        for _ in range(len(self._free)):
            port = self._free[self._next]
            self._next = (self._next + 1) % len(self._free)  # round robin: a late packet never hits a new call
            if port in self.sockets:
                continue
            pair = self._bind(port)
            if pair is not None:
                self.sockets[port] = pair
                return port
        return None

    def _bind(self, port: int) -> tuple[socket.socket, socket.socket] | None:
        bound: list[socket.socket] = []
        try:
            for number in (port, port + 1):
                sock = socket.socket(socket.AF_INET6 if ":" in self._host else socket.AF_INET, socket.SOCK_DGRAM)
                bound.append(sock)
                sock.setblocking(False)
                sock.bind((self._host, number))
        except OSError:  # taken by someone else: skip it
            for sock in bound:
                sock.close()
            return None
        return bound[0], bound[1]

    def release(self, port: int) -> None:
        pair = self.sockets.pop(port, None)
        for sock in pair or ():
            sock.close()

    @property
    def in_use(self) -> int:
        return len(self.sockets)


@dataclass
class ReceiverStats:
    packets: int = 0
    bad: int = 0  # not RTP
    rtcp: int = 0
    foreign: int = 0  # from a source that may not send this stream (allowlist, expected address, latch)
    wrong_codec: int = 0


class StreamReceiver(asyncio.DatagramProtocol):
    """One m-line's RTP, reordered, loss filled. Taken only from `sources` (an allowlist) and, when `expected` is
    set, only from that host, any port (an SBC behind NAT may send from another port than its m= line names);
    with `expected` None, latched to its first source (symmetric RTP). Everything else is dropped and counted."""

    def __init__(
        self,
        plan: StreamPlan,
        on_chunk: Callable[[StreamPlan, MediaChunk], None],
        sources: SourceFilter | None = None,
        expected: str | None = None,
        on_foreign: Callable[[str], None] | None = None,
    ) -> None:
        self.plan = plan
        self._on_chunk = on_chunk
        self._sources = sources or SourceFilter()
        self.expected = expected
        self._on_foreign = on_foreign
        self._buffer = JitterBuffer()
        self._dtmf = DtmfDetector()
        self.stats = ReceiverStats()
        self.source: tuple[str, int] | None = None
        self._ssrc: int | None = None
        self.last_packet_at = 0.0
        self.on_dtmf: Callable[[StreamPlan, DtmfStarted | DtmfEnded], None] | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self._fault_logged = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            self._receive(data, addr)
        except Exception:  # a bug must not reach the event loop with every packet: counted, logged once
            self.stats.bad += 1
            if not self._fault_logged:
                self._fault_logged = True
                log.exception("siprec stream %d: packet not handled; later failures are only counted", self.plan.index)

    def _receive(self, data: bytes, addr: tuple[str, int]) -> None:
        self.stats.packets += 1
        host = addr[0]
        if not self._sources.allows(host):
            self._foreign("not-allowed")
            return
        if self.expected is not None and host != self.expected and not same_host(host, self.expected):
            self._foreign("unexpected-source")
            return
        if is_rtcp(data):
            self.stats.rtcp += 1
            return
        try:
            packet = RtpPacket.parse(data)
        except ValueError:
            self.stats.bad += 1
            return
        if self.expected is None and not self._latched(packet, addr):
            self._foreign("unexpected-source")
            return
        self.last_packet_at = asyncio.get_running_loop().time()
        if packet.payload_type == self.plan.dtmf_payload_type:
            self._buffer.skip(packet)  # its sequence number is not audio lost
            try:
                events = self._dtmf.feed(packet)
            except ValueError:  # a telephone-event payload shorter than 4 bytes
                self.stats.bad += 1
                return
            for event in events:
                if self.on_dtmf is not None:
                    self.on_dtmf(self.plan, event)
            return
        if packet.payload_type not in self.plan.codecs:
            self.stats.wrong_codec += 1
            return
        for chunk in self._buffer.push(packet):
            self._on_chunk(self.plan, chunk)

    def _foreign(self, reason: str) -> None:
        self.stats.foreign += 1
        if self._on_foreign is not None:
            self._on_foreign(reason)

    def _latched(self, packet: RtpPacket, addr: tuple[str, int]) -> bool:
        """The first source is kept; another one takes over only with a new SSRC after the first went quiet."""
        if self.source is None or addr == self.source:
            self.source, self._ssrc = addr, packet.ssrc
            return True
        quiet = asyncio.get_running_loop().time() - self.last_packet_at > 0.5
        if quiet and packet.ssrc != self._ssrc:
            self.source, self._ssrc = addr, packet.ssrc
            return True
        return False

    def outcomes(self) -> dict[str, int]:
        """What happened to this stream's packets, for the metrics."""
        stats, buffer = self.stats, self._buffer
        return {
            "received": stats.packets,
            "bad": stats.bad,
            "rtcp": stats.rtcp,
            "foreign": stats.foreign,
            "wrong_codec": stats.wrong_codec,
            "lost": buffer.lost,
            "late": buffer.late,
            "duplicate": buffer.duplicates,
        }

    def flush(self) -> None:
        for chunk in self._buffer.flush():
            self._on_chunk(self.plan, chunk)

    def drain(self, limit: int = 1024) -> None:
        """Take the datagrams the kernel already holds: RTP sent before a BYE may still wait in the socket when the
        BYE is handled (the loop serves the SIP socket first under load), and it belongs to the recording."""
        if self.transport is None or self.transport.is_closing():
            return
        held = self.transport.get_extra_info("socket")
        if held is None:
            return
        try:
            sock = held.dup()  # a socket of the same file: asyncio's TransportSocket does not read
        except OSError:
            return
        with sock:
            sock.setblocking(False)
            for _ in range(limit):
                try:
                    data, addr = sock.recvfrom(65535)
                except OSError:  # BlockingIOError: nothing more; anything else: the socket is gone
                    return
                self.datagram_received(data, addr)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class RtcpSink(asyncio.DatagramProtocol):
    """RTCP on the odd port: received and ignored (reports are not needed to record)."""

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        pass


class Decoder:
    """Payload to PCM for one stream's codec; G.729 keeps state, so one per stream. A payload it cannot decode
    is silence of the length the call's clock counted for it, and is counted in `bad`: it never raises."""

    def __init__(self, codec_name: str) -> None:
        self.name = codec_name.upper()
        self._g729 = G729Decoder() if self.name == "G729" and g729_available() else None
        self.bad = 0  # payloads that could not be decoded

    def sample_count(self, payload: bytes) -> int:
        if self.name == "G729":  # 10-byte frames of 80 samples; a 2-byte SID frame stands for one frame
            frames, rest = divmod(len(payload), G729_FRAME_BYTES)
            return (frames + (1 if rest else 0)) * G729_FRAME_SAMPLES
        return len(payload)

    def decode(self, payload: bytes) -> Pcm:
        count = self.sample_count(payload)
        try:
            samples = self._decode(payload)
        except Exception:  # ValueError for a malformed G.729 payload; anything else is as bad for the call
            samples = None
        if samples is None or len(samples) != count:
            self.bad += 1
            return np.zeros(count, dtype=np.int16)
        return samples

    def _decode(self, payload: bytes) -> Pcm:
        if self.name == "PCMU":
            return ulaw_to_pcm(payload)
        if self.name == "PCMA":
            return alaw_to_pcm(payload)
        if self._g729 is not None:
            return self._g729.decode(payload)
        return np.zeros(self.sample_count(payload), dtype=np.int16)

    def close(self) -> None:
        if self._g729 is not None:
            self._g729.close()

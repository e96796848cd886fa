"""Garbage RTP payloads never raise out of datagram_received: an undecodable payload is silence of the length the
call's clock counted, and is counted as a bad packet; a short telephone-event payload is counted too."""

from __future__ import annotations

import asyncio
import socket
import struct
import time

import numpy as np
import pytest

from asr.frame import Pcm
from mediagw.config import SiprecConfig
from mediagw.core.media import CallMedia
from mediagw.core.record import Participant, TranscriptionParams
from mediagw.ingress.siprec.dialog import Recording
from mediagw.ingress.siprec.g729 import G729Encoder, g729_available
from mediagw.ingress.siprec.media import Decoder, PortPool, StreamReceiver
from mediagw.ingress.siprec.offer import StreamPlan
from mediagw.ingress.siprec.recording import RecordingMedia
from mediagw.ingress.siprec.sdp import Codec
from mediagw.ingress.siprec.transactions import Peer
from mediagw.metrics import Metrics
from tests.core import begin, handle

needs_g729 = pytest.mark.skipif(not g729_available(), reason="libbcg729 is not installed")
G729 = Codec(18, "G729", 8000)


class Heard:
    """A participant's transcription that keeps what it is pushed."""

    def __init__(self) -> None:
        self.samples: list[Pcm] = []

    def push(self, samples: Pcm) -> None:
        self.samples.append(samples)

    def set_language(self, code: str) -> None:
        pass

    async def finish(self) -> int:
        return 0


def rtp(sequence: int, payload: bytes, payload_type: int = 18) -> bytes:
    return struct.pack("!BBHII", 0x80, payload_type, sequence, sequence * 160, 0x1234) + payload


@needs_g729
def test_an_undecodable_g729_payload_is_counted_silence_and_the_decoder_goes_on() -> None:
    decoder = Decoder("G729")
    voice = G729Encoder().encode(np.zeros(160, dtype=np.int16))
    assert len(decoder.decode(voice)) == 160
    garbage = decoder.decode(bytes(11))
    assert len(garbage) == decoder.sample_count(bytes(11)) == 160 and not garbage.any()
    assert decoder.bad == 1
    assert len(decoder.decode(voice)) == 160 and decoder.bad == 1
    decoder.close()


@needs_g729
async def test_g729_garbage_on_the_wire_keeps_the_call_clock_and_the_audio_in_step() -> None:
    loop = asyncio.get_running_loop()
    ports = PortPool("127.0.0.1", 42000, 42999)
    port = ports.allocate()
    assert port is not None
    plan = StreamPlan(0, "1", port, {18: G729})
    recording = Recording(
        "call-1", "a", "b", "sip:src@127.0.0.1", [], "sip:srs", "sip:src", Peer(("127.0.0.1", 5060), "udp"), {}, None,
        [plan], 1,
    )  # fmt: skip
    call = handle("siprec", "00002542391662063156")
    heard = Heard()

    def factory(_media: CallMedia, _participant: Participant) -> Heard:
        return heard

    begin(call.media, TranscriptionParams(), factory, loop.time())
    metrics = Metrics()
    media = RecordingMedia(call, recording, SiprecConfig(), metrics)
    await media.open(ports)
    voice = G729Encoder().encode(np.zeros(160, dtype=np.int16))
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for sequence, payload in enumerate([voice, bytes(11), voice, voice[:15], voice]):
        sender.sendto(rtp(sequence, payload), ("127.0.0.1", port))
    sender.close()
    receiver = media.receivers[0]
    deadline = time.monotonic() + 5
    while receiver.stats.packets < 5:
        assert time.monotonic() < deadline, f"{receiver.stats.packets} packets arrived"
        await asyncio.sleep(0.01)
    media.close()
    ports.release(port)
    assert call.media.clock["customer"] == 5 * 160
    assert sum(len(samples) for samples in heard.samples) == 5 * 160  # decoded audio matches the clock
    assert metrics.registry.get_sample_value("mediagw_rtp_packets_total", {"outcome": "bad"}) == 2


def test_a_short_telephone_event_payload_is_a_bad_packet() -> None:
    plan = StreamPlan(0, "1", 0, {0: Codec(0, "PCMU", 8000)}, dtmf_payload_type=101)
    receiver = StreamReceiver(plan, lambda _plan, _chunk: None)

    async def receive() -> None:
        receiver.datagram_received(rtp(0, b"\x01\x80", payload_type=101), ("127.0.0.1", 4000))

    asyncio.run(receive())
    assert receiver.stats.bad == 1 and receiver.outcomes()["bad"] == 1


def test_a_fault_past_the_parser_is_counted_not_raised() -> None:
    plan = StreamPlan(0, "1", 0, {0: Codec(0, "PCMU", 8000)})

    def broken(_plan: StreamPlan, _chunk: object) -> None:
        raise RuntimeError("a bug downstream")

    receiver = StreamReceiver(plan, broken)

    async def receive() -> None:
        for sequence in range(3):
            receiver.datagram_received(rtp(sequence, bytes(160), payload_type=0), ("127.0.0.1", 4000))

    asyncio.run(receive())
    assert receiver.stats.bad == 3


def test_rtp_waiting_in_the_socket_when_the_bye_comes_is_taken_before_it_closes() -> None:
    """Under load the loop may serve the BYE before the RTP sent ahead of it: drain() reads what the kernel holds."""
    plan = StreamPlan(0, "1", 0, {0: Codec(0, "PCMU", 8000)})
    chunks: list[object] = []
    receiver = StreamReceiver(plan, lambda _plan, chunk: chunks.append(chunk))

    async def bye_before_the_loop_reads() -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: receiver, local_addr=("127.0.0.1", 0))
        assert receiver.transport is not None
        port = receiver.transport.get_extra_info("sockname")[1]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for sequence in range(20):
                sender.sendto(rtp(sequence, bytes(160), payload_type=0), ("127.0.0.1", port))
        receiver.drain()  # no await since the sends: the loop has read none of them
        receiver.flush()
        receiver.close()

    asyncio.run(bye_before_the_loop_reads())
    assert receiver.stats.packets == 20
    assert len(chunks) == 20

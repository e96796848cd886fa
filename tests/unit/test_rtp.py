"""RTP core: packets parsed and serialized byte for byte, precise errors, RTCP demux, RFC 4733 DTMF dedupe."""

from __future__ import annotations

import pytest

from mediagw.ingress.siprec.rtp import (
    DtmfDetector,
    DtmfEnded,
    DtmfStarted,
    RtpPacket,
    TelephoneEvent,
    is_rtcp,
)

# PCMU, seq 0x1F4A, ts 0xA000, ssrc 0x5E2D3F11, marker set, 160 bytes of mu-law silence.
PCMU = bytes.fromhex("80801f4a0000a0005e2d3f11") + b"\xff" * 160
# Two CSRCs, a one-byte-header extension (0xBEDE, 1 word: audio level), 4 bytes of padding, G.729 payload.
FULL = (
    bytes.fromhex("b2120001 00000050 0badcafe 00000001 00000002 bede0001 10ff0000".replace(" ", ""))
    + bytes(range(10))
    + bytes.fromhex("00000004")
)
# A receiver report followed by an SDES, as sent on the RTP port under rtcp-mux.
RTCP_RR = bytes.fromhex("81c90007 5e2d3f11 0badcafe 00000000 00001f4a 00000000 00000000 00000000".replace(" ", ""))


def test_common_packet_parses_and_round_trips() -> None:
    packet = RtpPacket.parse(PCMU)
    assert (packet.payload_type, packet.sequence, packet.timestamp, packet.ssrc) == (0, 0x1F4A, 0xA000, 0x5E2D3F11)
    assert packet.marker and packet.payload == b"\xff" * 160
    assert packet.csrcs == () and packet.extension is None and packet.padding == 0
    assert bytes(packet) == PCMU


def test_csrc_extension_and_padding_round_trip() -> None:
    packet = RtpPacket.parse(FULL)
    assert packet.payload_type == 18 and not packet.marker
    assert packet.csrcs == (1, 2)
    assert packet.extension == (0xBEDE, bytes.fromhex("10ff0000"))
    assert packet.padding == 4
    assert packet.payload == bytes(range(10))
    assert bytes(packet) == FULL


def test_serializes_a_built_packet() -> None:
    packet = RtpPacket(8, 65535, 0xFFFFFF60, 42, b"\xd5" * 160, marker=True)
    assert RtpPacket.parse(bytes(packet)) == packet


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x80\x00\x00", "shorter than the 12-byte header"),
        (bytes.fromhex("400000010000000000000001"), "version 1, expected 2"),
        (bytes.fromhex("820000010000000000000001") + b"\x00" * 4, "truncated CSRC"),
        (bytes.fromhex("900000010000000000000001") + b"\xbe\xde", "truncated extension header"),
        (bytes.fromhex("900000010000000000000001") + bytes.fromhex("bede0002") + b"\x00" * 4, "truncated extension"),
        (bytes.fromhex("a00000010000000000000001") + b"\x01\x02\x00", "invalid padding length 0"),
        (bytes.fromhex("a00000010000000000000001") + b"\x01\x02\x09", "invalid padding length 9"),
    ],
)
def test_malformed_packets_raise_precise_errors(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RtpPacket.parse(data)


def test_rtcp_on_the_rtp_port_is_recognised() -> None:
    assert is_rtcp(RTCP_RR)
    assert is_rtcp(bytes.fromhex("81ca0001"))  # SDES
    assert not is_rtcp(PCMU)
    assert not is_rtcp(FULL)
    assert not is_rtcp(bytes.fromhex("01c9"))  # version 0
    assert not is_rtcp(b"\x80")


def test_telephone_event_payload() -> None:
    event = TelephoneEvent.parse(bytes.fromhex("0b8a0320"))
    assert event == TelephoneEvent(event=11, end=True, volume=10, duration=800)
    assert event.digit == "#"
    assert bytes(event) == bytes.fromhex("0b8a0320")
    assert [TelephoneEvent(n, False, 0, 0).digit for n in (0, 9, 10, 12, 15, 16)] == ["0", "9", "*", "A", "D", None]
    with pytest.raises(ValueError, match="3 bytes, expected 4"):
        TelephoneEvent.parse(b"\x01\x02\x03")


def tone(seq: int, ts: int, event: int, duration: int, end: bool = False, marker: bool = False) -> RtpPacket:
    payload = bytes(TelephoneEvent(event, end, 10, duration))
    return RtpPacket(101, seq, ts, 0x1234, payload, marker=marker)


def key_press(detector: DtmfDetector, first_seq: int, ts: int, event: int) -> list[DtmfStarted | DtmfEnded]:
    """A key held 60 ms: start sent 3 times (RFC 4733 §2.5.1.2), updates, end sent 3 times."""
    packets = [tone(first_seq + i, ts, event, 0, marker=i == 0) for i in range(3)]
    packets += [tone(first_seq + 3 + i, ts, event, 160 * (i + 1)) for i in range(3)]
    packets += [tone(first_seq + 6 + i, ts, event, 480, end=True) for i in range(3)]
    return [e for p in packets for e in detector.feed(p)]


def test_dtmf_each_press_reported_once_despite_retransmissions() -> None:
    detector = DtmfDetector()
    assert key_press(detector, 10, 8000, 5) == [DtmfStarted("5"), DtmfEnded("5", 480)]
    assert key_press(detector, 19, 16000, 5) == [DtmfStarted("5"), DtmfEnded("5", 480)]  # same key, new press
    assert detector.feed(tone(12, 8000, 5, 480, end=True)) == []  # a late straggler of the first press


def test_dtmf_lost_start_and_lost_end() -> None:
    detector = DtmfDetector()
    assert detector.feed(tone(1, 800, 1, 480, end=True)) == [DtmfStarted("1"), DtmfEnded("1", 480)]
    assert detector.feed(tone(2, 1600, 2, 160, marker=True)) == [DtmfStarted("2")]
    # Every end packet of "2" lost: the next key ends it.
    assert detector.feed(tone(3, 3200, 3, 0, marker=True)) == [DtmfEnded("2", 160), DtmfStarted("3")]
    assert detector.flush() == [DtmfEnded("3", 0)]
    assert detector.flush() == []


def test_dtmf_long_event_segments_are_one_press() -> None:
    detector = DtmfDetector()
    assert detector.feed(tone(1, 1000, 0, 0xFFFF, marker=True)) == [DtmfStarted("0")]
    assert detector.feed(tone(2, 1000 + 0xFFFF, 0, 800, end=True)) == [DtmfEnded("0", 0xFFFF + 800)]


def test_dtmf_ignores_non_key_events() -> None:
    assert DtmfDetector().feed(tone(1, 0, 16, 0, marker=True)) == []  # flash

"""Jitter buffer: order, loss as clock-true gaps, duplicates, wraparound, source changes, discontinuities."""

from __future__ import annotations

import pytest

from mediagw.ingress.siprec.jitterbuffer import JitterBuffer, MediaChunk
from mediagw.ingress.siprec.rtp import RtpPacket

SSRC = 0x11223344


def packet(seq: int, ts: int | None = None, ssrc: int = SSRC, base_ts: int = 1000) -> RtpPacket:
    """20 ms of PCMU; the payload names the sequence number so the output order is visible."""
    timestamp = (base_ts + 160 * seq if ts is None else ts) & 0xFFFFFFFF
    return RtpPacket(0, seq & 0xFFFF, timestamp, ssrc, seq.to_bytes(4, "big", signed=True))


def push_all(buffer: JitterBuffer, packets: list[RtpPacket]) -> list[MediaChunk]:
    return [chunk for p in packets for chunk in buffer.push(p)]


def seqs(chunks: list[MediaChunk]) -> list[int]:
    return [int.from_bytes(c.payload, "big", signed=True) for c in chunks]


def test_in_order_packets_pass_straight_through() -> None:
    buffer = JitterBuffer()
    chunks = push_all(buffer, [packet(n) for n in range(5)])
    assert seqs(chunks) == [0, 1, 2, 3, 4]
    assert [c.position for c in chunks] == [0, 160, 320, 480, 640]
    assert all(c.gap == 0 and c.payload_type == 0 for c in chunks)
    assert (buffer.lost, buffer.late, buffer.duplicates, buffer.held) == (0, 0, 0, 0)


def test_reordered_within_depth_is_put_back_in_order() -> None:
    buffer = JitterBuffer(depth=3)
    out = push_all(buffer, [packet(0), packet(2), packet(3)])
    assert seqs(out) == [0] and buffer.held == 2
    out = buffer.push(packet(1))
    assert seqs(out) == [1, 2, 3]
    assert [c.position for c in out] == [160, 320, 480] and all(c.gap == 0 for c in out)
    assert buffer.lost == 0


def test_loss_declared_after_depth_packets_and_gap_is_the_timestamp_difference() -> None:
    buffer = JitterBuffer(depth=3)
    assert seqs(push_all(buffer, [packet(n) for n in (0, 1, 3, 4, 5)])) == [0, 1]
    out = buffer.push(packet(6))  # four packets beyond the hole: 2 is lost
    assert seqs(out) == [3, 4, 5, 6]
    assert out[0].gap == packet(3).timestamp - packet(2).timestamp == 160
    assert out[0].position == 480
    assert buffer.lost == 1
    assert buffer.push(packet(2)) == [] and buffer.late == 1  # too late now: dropped, not a duplicate


def test_gap_spans_several_lost_packets_and_learns_the_packet_duration() -> None:
    buffer = JitterBuffer(depth=0, samples_per_packet_default=160)
    # 30 ms packets (240 samples): the duration is learned from neighbours before the loss.
    out = push_all(buffer, [packet(n, ts=240 * n) for n in (0, 1, 2, 6)])
    assert seqs(out) == [0, 1, 2, 6]
    assert out[-1].gap == 3 * 240 and out[-1].position == 6 * 240
    assert buffer.lost == 3


def test_duplicates_are_dropped_and_counted() -> None:
    buffer = JitterBuffer()
    out = push_all(buffer, [packet(0), packet(1), packet(1), packet(3), packet(3), packet(0)])
    assert seqs(out) == [0, 1]
    assert buffer.duplicates == 3 and buffer.late == 0
    assert seqs(buffer.push(packet(2))) == [2, 3]


def test_sequence_and_timestamp_wraparound() -> None:
    buffer = JitterBuffer()
    base_ts = 0xFFFFFFFF - 100 - 160 * 65534  # the timestamp wraps between sequence 65534 and 65535
    numbers = [65533, 65535, 65534, 65536, 65538, 65537]
    out = push_all(buffer, [packet(n, base_ts=base_ts) for n in numbers])
    assert [c.payload for c in out] == [n.to_bytes(4, "big") for n in sorted(numbers)]
    assert [c.position for c in out] == [160 * i for i in range(6)]
    assert all(c.gap == 0 for c in out)
    assert buffer.lost == buffer.late == buffer.duplicates == 0


def test_loss_across_the_wrap() -> None:
    buffer = JitterBuffer(depth=1)
    out = push_all(buffer, [packet(n) for n in (65534, 65535, 65537, 65538)])
    assert [int.from_bytes(c.payload, "big") for c in out] == [65534, 65535, 65537, 65538]
    assert out[2].gap == 160 and buffer.lost == 1


def test_ssrc_change_continues_right_after_the_last_audio() -> None:
    buffer = JitterBuffer()
    first = push_all(buffer, [packet(n) for n in range(3)])
    # Failover: new SSRC, unrelated sequence numbers and timestamps.
    second = push_all(buffer, [packet(n, ssrc=0xBEEF, base_ts=99_000_000) for n in range(5000, 5003)])
    assert [c.position for c in first + second] == [160 * i for i in range(6)]
    assert all(c.gap == 0 for c in second)
    # A straggler of the old source is late, not a switch back.
    assert buffer.push(packet(1)) == [] and buffer.late == 1
    assert [c.position for c in buffer.push(packet(5003, ssrc=0xBEEF, base_ts=99_000_000))] == [960]


def test_ssrc_change_releases_what_the_old_source_left_held() -> None:
    buffer = JitterBuffer()
    push_all(buffer, [packet(0), packet(2)])
    out = buffer.push(packet(700, ssrc=0xBEEF))
    assert seqs(out) == [2, 700]
    assert out[0].gap == 160 and out[1].position == out[0].position + 160 and out[1].gap == 0
    assert buffer.lost == 1


def test_timestamp_jump_beyond_ten_seconds_is_a_discontinuity() -> None:
    buffer = JitterBuffer()
    out = push_all(buffer, [packet(0), packet(1), packet(2, ts=packet(1).timestamp + 160 + 80_001)])
    assert out[2].gap == 0 and out[2].position == 320
    assert buffer.discontinuities == 1
    # Within 10 s it is silence to fill (a talk spurt after suppressed silence).
    buffer = JitterBuffer()
    out = push_all(buffer, [packet(0), packet(1), packet(2, ts=packet(1).timestamp + 160 + 8000)])
    assert out[2].gap == 8000 and out[2].position == 320 + 8000


def test_timestamp_going_backwards_is_a_discontinuity() -> None:
    buffer = JitterBuffer()
    out = push_all(buffer, [packet(0), packet(1), packet(2, ts=5)])
    assert out[2].position == 320 and out[2].gap == 0


def test_flush_releases_everything_held() -> None:
    buffer = JitterBuffer(depth=5)
    assert seqs(push_all(buffer, [packet(0), packet(2), packet(4)])) == [0]
    out = buffer.flush()
    assert seqs(out) == [2, 4]
    assert [c.gap for c in out] == [160, 160] and [c.position for c in out] == [320, 640]
    assert buffer.lost == 2 and buffer.held == 0
    assert buffer.flush() == []
    assert seqs(buffer.push(packet(5))) == [5]


def test_a_burst_of_loss_longer_than_the_ring() -> None:
    buffer = JitterBuffer(capacity=16)
    push_all(buffer, [packet(0), packet(1)])
    out = buffer.push(packet(101))
    assert seqs(out) == [101] and out[0].gap == 99 * 160 and buffer.lost == 99


def test_sequence_restart_on_the_same_ssrc_resynchronises() -> None:
    buffer = JitterBuffer()
    push_all(buffer, [packet(n) for n in range(1000, 1010)])
    restarted = push_all(buffer, [packet(n) for n in range(20)])
    assert seqs(restarted) == list(range(8, 20))  # the first eight are taken as stale, then it resyncs
    assert buffer.late == 8


def test_invalid_configuration() -> None:
    with pytest.raises(ValueError, match="power of two"):
        JitterBuffer(capacity=48)
    with pytest.raises(ValueError, match="depth"):
        JitterBuffer(capacity=8, depth=8)


def test_skipped_packets_hold_their_place_without_audio() -> None:
    buffer = JitterBuffer()
    assert seqs(push_all(buffer, [packet(0), packet(1)])) == [0, 1]
    # A key press: telephone-event packets take sequence numbers 2-4 and go to the DTMF detector instead.
    assert buffer.skip(packet(3)) == []
    assert buffer.skip(packet(2)) == []
    out = buffer.skip(packet(4)) + buffer.push(packet(5))
    assert seqs(out) == [5] and out[0].gap == 3 * 160 and out[0].position == 5 * 160
    assert buffer.lost == 0 and buffer.held == 0
    assert buffer.skip(packet(6, ssrc=0xBEEF)) == []  # another source's events do not switch the stream
    assert seqs(buffer.push(packet(6))) == [6]

"""Per-stream RTP reordering and loss handling, sans-I/O: packets in, media-clock-placed chunks out.

A power-of-two ring indexed by sequence number (16-bit wraparound arithmetic) holds packets that
arrived ahead of a missing one. The head waits until `depth` newer packets are buffered, then is
declared lost; the next chunk carries the missing time as `gap` so the stream's clock stays true.
"""

from __future__ import annotations

from dataclasses import dataclass

from mediagw.ingress.siprec.rtp import RtpPacket

MAX_GAP_SAMPLES = 80_000  # 10 s at 8 kHz: a longer jump is a discontinuity, not silence to fill
MAX_FRAME_SAMPLES = 960  # 120 ms at 8 kHz: a longer timestamp step between neighbours is a pause, not a frame
RESYNC_AFTER_LATE = 8  # this many stale packets in a row: the sender restarted its sequence numbers


@dataclass(slots=True)
class MediaChunk:
    position: int  # samples since the stream's first packet on its media clock
    payload_type: int
    payload: bytes
    gap: int  # silence samples to insert before payload (loss)


def _seq_diff(a: int, b: int) -> int:
    """a - b in 16-bit sequence space, in [-32768, 32767]."""
    return ((a - b + 0x8000) & 0xFFFF) - 0x8000


def _ts_diff(a: int, b: int) -> int:
    """a - b in 32-bit timestamp space, in [-2**31, 2**31)."""
    return ((a - b + 0x80000000) & 0xFFFFFFFF) - 0x80000000


class JitterBuffer:
    """Releases one stream's packets in sequence order, each placed on the stream's media clock.

    The clock follows RTP timestamps; it is re-anchored (no gap, no overlap) at the first packet, on an
    SSRC change and on a timestamp jump beyond `max_gap_samples`. O(1) amortised per packet.
    """

    def __init__(
        self,
        capacity: int = 64,
        depth: int = 3,
        samples_per_packet_default: int = 160,
        max_gap_samples: int = MAX_GAP_SAMPLES,
    ) -> None:
        if capacity < 2 or capacity & (capacity - 1):
            raise ValueError(f"jitter buffer capacity must be a power of two >= 2, got {capacity}")
        if not 0 <= depth < capacity:
            raise ValueError(f"jitter buffer depth must be in [0, {capacity}), got {depth}")
        if samples_per_packet_default <= 0:
            raise ValueError(f"samples_per_packet_default must be positive, got {samples_per_packet_default}")
        self.capacity = capacity
        self.depth = depth
        self.max_gap_samples = max_gap_samples
        self._mask = capacity - 1
        self._slots: list[RtpPacket | None] = [None] * capacity
        self._audio = [True] * capacity  # False: a skipped packet, its slot only keeps the order
        self._released: list[int] = [-1] * capacity  # sequence number last released through each slot
        self._held = 0
        self._ssrc: int | None = None
        self._old_sources: dict[int, int] = {}  # replaced SSRC -> its newest sequence number
        self._head = 0  # next sequence number to release
        self._newest = 0  # newest sequence number buffered, valid while _held > 0
        self._late_run = 0
        self._anchor = True  # the next released packet re-anchors the clock
        self._frame = samples_per_packet_default  # learned duration of the last released packet
        self._last_position = 0
        self._last_timestamp = 0
        self._last_sequence = -1
        self.duplicates = 0
        self.late = 0
        self.lost = 0
        self.discontinuities = 0

    @property
    def held(self) -> int:
        return self._held

    def push(self, packet: RtpPacket) -> list[MediaChunk]:
        """Takes one packet; returns the chunks it lets out, in order (often one, none while waiting)."""
        return self._take(packet, True)

    def skip(self, packet: RtpPacket) -> list[MediaChunk]:
        """Takes the sequence number of a packet of this stream handled elsewhere (telephone-event, comfort
        noise) so it is not waited for nor counted lost; its time goes into the next chunk's gap."""
        return self._take(packet, False) if packet.ssrc == self._ssrc else []

    def _take(self, packet: RtpPacket, audio: bool) -> list[MediaChunk]:
        out: list[MediaChunk] = []
        if packet.ssrc != self._ssrc and not self._switch_source(packet, out):
            return out
        diff = _seq_diff(packet.sequence, self._head)
        if diff < 0:
            self._drop_stale(packet, diff)
            if self._late_run <= RESYNC_AFTER_LATE:
                return out
            self.late -= 1  # taken after all, as the first of the restarted numbering
            diff = self._resync(packet.sequence, out)
        elif diff >= self.capacity:
            diff = self._resync(packet.sequence, out)  # a burst of loss longer than the ring
        self._late_run = 0
        if diff == 0 and not self._held:  # in order with nothing waiting: the common case
            self._emit(packet, audio, out)
            self._head = (self._head + 1) & 0xFFFF
            return out
        slot = packet.sequence & self._mask
        if self._slots[slot] is not None:
            self.duplicates += 1
            return out
        self._slots[slot] = packet
        self._audio[slot] = audio
        if not self._held or _seq_diff(packet.sequence, self._newest) > 0:
            self._newest = packet.sequence
        self._held += 1
        self._drain(out, self.depth)
        return out

    def flush(self) -> list[MediaChunk]:
        """Releases everything held, declaring the holes lost (BYE, or the stream went idle)."""
        out: list[MediaChunk] = []
        self._drain(out, 0)
        return out

    def _drain(self, out: list[MediaChunk], depth: int) -> None:
        while self._held:
            slot = self._head & self._mask
            packet = self._slots[slot]
            if packet is None:
                if _seq_diff(self._newest, self._head) <= depth:
                    return
                self._released[slot] = -1  # a copy arriving now is late, not a duplicate
                self.lost += 1
            else:
                self._slots[slot] = None
                self._held -= 1
                self._emit(packet, self._audio[slot], out)
            self._head = (self._head + 1) & 0xFFFF

    def _emit(self, packet: RtpPacket, audio: bool, out: list[MediaChunk]) -> None:
        if audio:
            out.append(self._release(packet))
        else:
            self._released[packet.sequence & self._mask] = packet.sequence

    def _release(self, packet: RtpPacket) -> MediaChunk:
        self._released[packet.sequence & self._mask] = packet.sequence
        if self._anchor:
            self._anchor = False
            position = self._end_position()
            gap = 0
        else:
            delta = _ts_diff(packet.timestamp, self._last_timestamp)
            consecutive = _seq_diff(packet.sequence, self._last_sequence) == 1
            if consecutive and not packet.marker and 0 < delta <= MAX_FRAME_SAMPLES:
                self._frame = delta  # neighbours one frame apart tell the packet duration
            gap = delta - self._frame
            if delta < 0 or gap > self.max_gap_samples:
                self.discontinuities += 1
                position, gap = self._end_position(), 0
            else:
                position, gap = self._last_position + delta, max(gap, 0)
        self._last_position = position
        self._last_timestamp = packet.timestamp
        self._last_sequence = packet.sequence
        return MediaChunk(position, packet.payload_type, packet.payload, gap)

    def _end_position(self) -> int:
        """Where the audio released so far ends: 0 before the first packet."""
        return self._last_position + self._frame if self._last_sequence >= 0 else 0

    def _switch_source(self, packet: RtpPacket, out: list[MediaChunk]) -> bool:
        """False for a straggler of a replaced source; else the new source continues the clock."""
        newest_old = self._old_sources.get(packet.ssrc)
        if newest_old is not None and _seq_diff(packet.sequence, newest_old) <= 0:
            self.late += 1
            return False
        if self._ssrc is not None:
            self._drain(out, 0)
            self._old_sources[self._ssrc] = (self._head - 1) & 0xFFFF
            if len(self._old_sources) > 4:
                del self._old_sources[next(iter(self._old_sources))]
            self._anchor = True
        self._old_sources.pop(packet.ssrc, None)
        self._ssrc = packet.ssrc
        self._head = packet.sequence
        self._released = [-1] * self.capacity
        self._late_run = 0
        return True

    def _drop_stale(self, packet: RtpPacket, diff: int) -> None:
        if diff >= -self.capacity and self._released[packet.sequence & self._mask] == packet.sequence:
            self.duplicates += 1
        else:
            self.late += 1
            self._late_run += 1

    def _resync(self, sequence: int, out: list[MediaChunk]) -> int:
        """Jumps the head to `sequence` after releasing what is held; returns the new offset, 0."""
        self._drain(out, 0)
        skipped = _seq_diff(sequence, self._head)
        if skipped > 0:
            self.lost += skipped
        else:
            self._released = [-1] * self.capacity  # the sender restarted: old numbers mean nothing now
        self._head = sequence
        return 0

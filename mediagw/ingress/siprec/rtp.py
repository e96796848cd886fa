"""Sans-I/O RTP (RFC 3550) packets, RTCP demultiplexing (RFC 5761) and telephone-events (RFC 4733)."""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass

_HEADER = struct.Struct("!BBHII")
_EXTENSION_HEADER = struct.Struct("!HH")
_TELEPHONE_EVENT = struct.Struct("!BBH")
_DIGITS = "0123456789*#ABCD"  # RFC 4733 §3.2: events 0-15 are the DTMF keys in this order


@dataclass(slots=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    extension: tuple[int, bytes] | None = None  # (profile-defined 16 bits, extension body)
    padding: int = 0  # padding octets, the count octet included

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        if len(data) < 12:
            raise ValueError(f"RTP packet is {len(data)} bytes, shorter than the 12-byte header")
        first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(data)
        if first >> 6 != 2:
            raise ValueError(f"RTP packet has version {first >> 6}, expected 2")
        if not first & 0x3F:  # the common case: no padding, extension or CSRC
            return cls(second & 0x7F, sequence, timestamp, ssrc, data[12:], second > 0x7F)
        pos = 12
        csrcs: tuple[int, ...] = ()
        if count := first & 0x0F:
            pos += 4 * count
            if len(data) < pos:
                raise ValueError(f"RTP packet has truncated CSRC ({count} announced, {len(data) - 12} bytes left)")
            csrcs = struct.unpack_from(f"!{count}I", data, 12)
        extension = None
        if first & 0x10:
            if len(data) < pos + 4:
                raise ValueError("RTP packet has truncated extension header")
            profile, words = _EXTENSION_HEADER.unpack_from(data, pos)
            pos += 4
            if len(data) < pos + 4 * words:
                raise ValueError(f"RTP packet has truncated extension ({4 * words} bytes announced)")
            extension = (profile, data[pos : pos + 4 * words])
            pos += 4 * words
        end = len(data)
        padding = 0
        if first & 0x20:
            padding = data[-1]
            if padding == 0 or padding > end - pos:
                raise ValueError(f"RTP packet has invalid padding length {padding} ({end - pos} bytes after header)")
            end -= padding
        return cls(second & 0x7F, sequence, timestamp, ssrc, data[pos:end], second > 0x7F, csrcs, extension, padding)

    def __bytes__(self) -> bytes:
        first = 0x80 | len(self.csrcs)
        if self.padding:
            first |= 0x20
        if self.extension is not None:
            first |= 0x10
        second = self.payload_type | (0x80 if self.marker else 0)
        parts = [_HEADER.pack(first, second, self.sequence, self.timestamp, self.ssrc)]
        if self.csrcs:
            parts.append(struct.pack(f"!{len(self.csrcs)}I", *self.csrcs))
        if self.extension is not None:
            profile, body = self.extension
            if len(body) % 4:
                raise ValueError(f"RTP extension body is {len(body)} bytes, not a multiple of 4")
            parts.append(_EXTENSION_HEADER.pack(profile, len(body) // 4))
            parts.append(body)
        parts.append(self.payload)
        if self.padding:
            parts.append(bytes(self.padding - 1) + bytes((self.padding,)))
        return b"".join(parts)


def is_rtcp(data: bytes) -> bool:
    """RTCP sharing the RTP port (RFC 5761 §4): version 2 and a packet type 192-223 in the second octet."""
    return len(data) >= 2 and data[0] >> 6 == 2 and 192 <= data[1] <= 223


@dataclass
class TelephoneEvent:
    """One RFC 4733 §2.3 payload: `duration` in timestamp units since the event's timestamp."""

    event: int
    end: bool
    volume: int
    duration: int

    @classmethod
    def parse(cls, data: bytes) -> TelephoneEvent:
        if len(data) < 4:
            raise ValueError(f"telephone-event payload is {len(data)} bytes, expected 4")
        event, flags, duration = _TELEPHONE_EVENT.unpack_from(data)
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration)

    def __bytes__(self) -> bytes:
        return _TELEPHONE_EVENT.pack(self.event, (0x80 if self.end else 0) | (self.volume & 0x3F), self.duration)

    @property
    def digit(self) -> str | None:
        return _DIGITS[self.event] if self.event < len(_DIGITS) else None


@dataclass(frozen=True, slots=True)
class DtmfStarted:
    digit: str


@dataclass(frozen=True, slots=True)
class DtmfEnded:
    digit: str
    duration_samples: int


DtmfEvent = DtmfStarted | DtmfEnded


@dataclass(slots=True)
class _Tone:
    key: tuple[int, int]  # (ssrc, timestamp): all packets of one event share the event's start timestamp
    event: int
    digit: str
    segment: int  # duration reported in the current segment
    earlier: int = 0  # summed durations of the earlier segments of a long event

    @property
    def duration(self) -> int:
        return self.earlier + self.segment


class DtmfDetector:
    """Turns telephone-event packets into one DtmfStarted and one DtmfEnded per key press.

    Senders repeat the start, send updates while the key is held and retransmit the end packet
    (RFC 4733 §2.5.1.4: three times); reordered stragglers of a finished event are ignored too.
    Events other than the 16 DTMF keys (flash, fax tones) are ignored.
    """

    def __init__(self, remembered: int = 16) -> None:
        self._tone: _Tone | None = None
        self._finished: deque[tuple[int, int]] = deque(maxlen=remembered)

    def feed(self, packet: RtpPacket) -> list[DtmfEvent]:
        """Events for one packet of the telephone-event payload type; ValueError on a short payload."""
        tone_event = TelephoneEvent.parse(packet.payload)
        digit = tone_event.digit
        key = (packet.ssrc, packet.timestamp)
        if digit is None or key in self._finished:
            return []
        events: list[DtmfEvent] = []
        tone = self._tone
        if tone is None or tone.key != key:
            if tone is not None and self._continues(tone, packet, tone_event):
                tone.key = key  # a long event goes on in a new segment (RFC 4733 §2.5.1.3)
                tone.earlier += tone.segment
                tone.segment = tone_event.duration
            else:
                events.extend(self.flush())  # its end packets were all lost
                tone = self._tone = _Tone(key, tone_event.event, digit, tone_event.duration)
                events.append(DtmfStarted(digit))
        else:
            tone.segment = max(tone.segment, tone_event.duration)
        if tone_event.end:
            events.extend(self.flush())
        return events

    def flush(self) -> list[DtmfEvent]:
        """Ends the event in progress (call end, or its end packets never came)."""
        tone, self._tone = self._tone, None
        if tone is None:
            return []
        self._finished.append(tone.key)
        return [DtmfEnded(tone.digit, tone.duration)]

    @staticmethod
    def _continues(tone: _Tone, packet: RtpPacket, event: TelephoneEvent) -> bool:
        # A new segment starts where the previous one ended: same key, same source, no marker.
        segment_end = (tone.key[1] + tone.segment) & 0xFFFFFFFF
        return (
            tone.segment > 0
            and not packet.marker
            and event.event == tone.event
            and packet.ssrc == tone.key[0]
            and packet.timestamp == segment_end
        )

"""Sans-I/O Matroska reader for the Kinesis Video Streams GetMedia payload: bytes in, events out.

GetMedia returns one EBML document per KVS fragment, back to back: an EBML header (DocType "matroska"), then a
Segment of unknown size holding Info, Tracks, a Tags element the service adds (AWS_KINESISVIDEO_FRAGMENT_NUMBER,
_SERVER_TIMESTAMP, _PRODUCER_TIMESTAMP), one Cluster (unknown size when the producer streams it), the producer's
own Tags (Amazon Connect: ContactId) and a trailing Tags (AWS_KINESISVIDEO_MILLIS_BEHIND_NOW, _CONTINUATION_TOKEN).
Amazon Connect's tracks are named AUDIO_FROM_CUSTOMER and AUDIO_TO_CUSTOMER, A_PCM/INT/LIT, 8 kHz, mono, 16 bits.

Memory stays bounded whatever the chunking: a header or the payload of one element we must read (a block, a
string, a number; at most `max_element_bytes`) is kept between calls; anything else is skipped as it streams past.
Tags and track lists are capped at `max_element_bytes` and MAX_TRACKS, nesting at MAX_DEPTH. An element of
unknown size ends where an element that belongs to one of its ancestors begins, as the Matroska spec says. One
tolerance: a block found after a Tags element has ended an unknown-size Cluster (a producer's tags written between
frames) keeps that cluster's timecode instead of being refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from struct import unpack_from

# Element IDs (https://www.matroska.org/technical/elements.html)
EBML, DOC_TYPE = 0x1A45DFA3, 0x4282
SEGMENT, SEEK_HEAD, INFO, TIMECODE_SCALE, CUES = 0x18538067, 0x114D9B74, 0x1549A966, 0x2AD7B1, 0x1C53BB6B
CHAPTERS, ATTACHMENTS = 0x1043A770, 0x1941A469
TRACKS, TRACK_ENTRY, TRACK_NUMBER, TRACK_UID, NAME, CODEC_ID = 0x1654AE6B, 0xAE, 0xD7, 0x73C5, 0x536E, 0x86
AUDIO, SAMPLING_FREQUENCY, CHANNELS, BIT_DEPTH = 0xE1, 0xB5, 0x9F, 0x6264
CLUSTER, TIMECODE, SIMPLE_BLOCK, BLOCK_GROUP, BLOCK = 0x1F43B675, 0xE7, 0xA3, 0xA0, 0xA1
TAGS, TAG, SIMPLE_TAG, TAG_NAME, TAG_STRING = 0x1254C367, 0x7373, 0x67C8, 0x45A3, 0x4487

NS_PER_MS = 1_000_000
MAX_DEPTH = 16  # open masters; Matroska needs 6 for what is read here, nested SimpleTags a few more
MAX_TRACKS = 128
ROOT = 0  # the parent of top-level elements
_MASTER, _VALUE, _SKIP = 1, 2, 3

# Where each element we know may appear; an ID not listed here (Void, CRC-32, anything else) is a child of
# whichever master is open and is skipped.
_PARENTS: dict[int, tuple[int, ...]] = {
    EBML: (ROOT,),
    SEGMENT: (ROOT,),
    DOC_TYPE: (EBML,),
    **dict.fromkeys((SEEK_HEAD, INFO, TRACKS, CLUSTER, CUES, CHAPTERS, ATTACHMENTS, TAGS), (SEGMENT,)),
    TIMECODE_SCALE: (INFO,),
    TRACK_ENTRY: (TRACKS,),
    **dict.fromkeys((TRACK_NUMBER, TRACK_UID, NAME, CODEC_ID, AUDIO), (TRACK_ENTRY,)),
    **dict.fromkeys((SAMPLING_FREQUENCY, CHANNELS, BIT_DEPTH), (AUDIO,)),
    **dict.fromkeys((TIMECODE, SIMPLE_BLOCK, BLOCK_GROUP), (CLUSTER,)),
    BLOCK: (BLOCK_GROUP,),
    TAG: (TAGS,),
    SIMPLE_TAG: (TAG, SIMPLE_TAG),
    **dict.fromkeys((TAG_NAME, TAG_STRING), (SIMPLE_TAG,)),
}
_KIND: dict[int, int] = {
    **dict.fromkeys((EBML, SEGMENT, INFO, TRACKS, TRACK_ENTRY, AUDIO, CLUSTER, BLOCK_GROUP), _MASTER),
    **dict.fromkeys((TAGS, TAG, SIMPLE_TAG), _MASTER),
    **dict.fromkeys((DOC_TYPE, TIMECODE_SCALE, TRACK_NUMBER, TRACK_UID, NAME, CODEC_ID, SAMPLING_FREQUENCY), _VALUE),
    **dict.fromkeys((CHANNELS, BIT_DEPTH, TIMECODE, SIMPLE_BLOCK, BLOCK, TAG_NAME, TAG_STRING), _VALUE),
}
_NAMES = {EBML: "EBML", SEGMENT: "Segment", TRACKS: "Tracks", TRACK_ENTRY: "TrackEntry", CLUSTER: "Cluster"}
_NAMES |= {TAGS: "Tags", SIMPLE_TAG: "SimpleTag", SIMPLE_BLOCK: "SimpleBlock", BLOCK: "Block", TAG_STRING: "TagString"}
_INT_VALUES = frozenset((TIMECODE_SCALE, TRACK_NUMBER, TRACK_UID, CHANNELS, BIT_DEPTH, TIMECODE))
_STRING_VALUES = frozenset((DOC_TYPE, NAME, CODEC_ID, TAG_NAME, TAG_STRING))
_DOC_TYPES = ("matroska", "webm")
_LACING = ("none", "Xiph", "fixed-size", "EBML")
# VINT length from its first byte (0: 0x00, which would need more than 8 bytes); value masks per length.
_LENGTH = bytes([0] + [9 - b.bit_length() for b in range(1, 256)])
_MASK = [0] + [(1 << (7 * n)) - 1 for n in range(1, 9)]


class MkvError(ValueError):
    """The stream is not Matroska this reader can follow; `offset` is the stream byte where it went wrong."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} (at byte {offset})")
        self.offset = offset


class MkvTruncated(MkvError):
    """The stream ended inside an element: more bytes were due (a cut connection, or a cut file)."""


@dataclass(frozen=True, slots=True)
class Track:
    number: int
    name: str = ""
    codec_id: str = ""
    sampling_frequency: float = 8000.0  # the Matroska defaults
    channels: int = 1
    bit_depth: int | None = None
    uid: int | None = None


@dataclass(frozen=True, slots=True)
class TracksFound:
    tracks: list[Track]


@dataclass(frozen=True, slots=True)
class FragmentTags:
    """The SimpleTags of one Tags element; a nested SimpleTag is keyed "OUTER/INNER"."""

    tags: dict[str, str]


@dataclass(frozen=True, slots=True)
class ClusterStarted:
    timecode_ms: int


@dataclass(frozen=True, slots=True)
class AudioBlock:
    """One frame of a (Simple)Block: `timecode_ms` is the cluster's timecode plus the block's own."""

    track: int
    timecode_ms: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class SegmentEnded:
    """A Segment (one KVS fragment) is over: its known size was read, the next EBML header began, or the end."""


Event = TracksFound | FragmentTags | ClusterStarted | AudioBlock | SegmentEnded


@dataclass(slots=True)
class _TrackDraft:
    number: int | None = None
    name: str = ""
    codec_id: str = ""
    sampling_frequency: float = 8000.0
    channels: int = 1
    bit_depth: int | None = None
    uid: int | None = None


class MkvReader:
    """Feed GetMedia bytes in any chunking; get events back. `close()` at the end of the stream."""

    def __init__(self, max_element_bytes: int = 1 << 20) -> None:
        self.max_element_bytes = max_element_bytes
        self._buf = bytearray()
        self._offset = 0  # stream offset of _buf[0]
        self._here = 0  # stream offset of the element being handled, for error messages
        self._skip = 0  # bytes of a skipped element still to come
        self._stack: list[tuple[int, int | None, int]] = []  # open masters: id, end (None: unknown), outer _next_end
        self._next_end = 1 << 63  # innermost known end among open masters
        self._started = self._failed = False
        self._scale = NS_PER_MS
        self._cluster_tc: int | None = None
        self._doc_type = ""
        self._tracks: list[Track] = []
        self._track: _TrackDraft | None = None
        self._tags: dict[str, str] | None = None
        self._tag_bytes = 0  # text held in _tags
        self._simple_tags: list[list[str | None]] = []  # open SimpleTags: [name, value]

    @property
    def buffered_bytes(self) -> int:
        """Bytes held between calls: at most one element's header and payload."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Event]:
        if self._failed:
            raise MkvError("the reader was closed or failed earlier and cannot go on", self._offset)
        events: list[Event] = []
        buf = self._buf
        buf += data
        try:
            pos = self._parse(buf, events)
        except MkvError:
            self._failed = True
            raise
        del buf[:pos]
        self._offset += pos
        return events

    def close(self) -> list[Event]:
        """End of stream: closes what is open (unknown sizes end here), or raises if it stopped mid-element."""
        if self._buf or self._skip:
            held = len(self._buf) + self._skip
            raise MkvTruncated(f"stream truncated inside an element ({held} bytes)", self._offset)
        events: list[Event] = []
        while self._stack:
            eid, end, _ = self._stack[-1]
            if end is not None:
                missing = end - self._offset
                raise MkvTruncated(f"stream truncated: {_name(eid)} needs {missing} more bytes", self._offset)
            self._pop(events)
        self._failed = True  # nothing more may be fed
        return events

    def _parse(self, buf: bytearray, events: list[Event]) -> int:
        pos, n, base = 0, len(buf), self._offset
        while True:
            if self._skip:
                taken = self._skip if self._skip <= n - pos else n - pos
                pos += taken
                self._skip -= taken
                if self._skip:
                    return pos
                if base + pos >= self._next_end:
                    self._close_ended(base + pos, events)
                continue
            if pos >= n:
                return pos
            first = buf[pos]
            id_len = _LENGTH[first]
            if not 0 < id_len <= 4:
                raise MkvError(f"invalid element ID (first byte 0x{first:02X})", base + pos)
            if n - pos <= id_len:
                return pos
            eid = first if id_len == 1 else _uint(buf, pos, id_len)
            size_len = _LENGTH[buf[pos + id_len]]
            if size_len == 0:
                raise MkvError(f"invalid size VINT for element 0x{eid:X} (first byte 0x00)", base + pos + id_len)
            start = pos + id_len + size_len
            if start > n:
                return pos
            mask = _MASK[size_len]
            size = (buf[pos + 1] if id_len == 1 and size_len == 1 else _uint(buf, pos + id_len, size_len)) & mask
            kind = _KIND.get(eid, _SKIP)
            self._check(eid, kind, size, size == mask, base + pos, base + start, events)
            if kind == _VALUE:
                if start + size > n:
                    return pos  # wait for the whole element; its header stays in the buffer
                self._value(eid, buf, start, start + size, base + pos, events)
                pos = start + size
            elif kind == _MASTER:
                self._push(eid, None if size == mask else base + start + size)
                pos = start
            else:
                self._skip, pos = size, start
                if size:
                    continue
            if base + pos >= self._next_end:
                self._close_ended(base + pos, events)

    def _check(self, eid: int, kind: int, size: int, unknown: bool, at: int, body: int, events: list[Event]) -> None:
        """Validates an element header and closes the unknown-size masters it ends."""
        self._here = at
        if not self._started:
            if eid != EBML:
                raise MkvError(f"stream does not start with an EBML header (element 0x{eid:X})", at)
            self._started = True
        if unknown and kind != _MASTER:
            raise MkvError(f"{_name(eid)} of unknown size cannot be read or skipped", at)
        if kind == _VALUE and size > self.max_element_bytes:
            raise MkvError(f"{_name(eid)} of {size} bytes exceeds max_element_bytes ({self.max_element_bytes})", at)
        parents = _PARENTS.get(eid)
        stack = self._stack
        if (
            parents is not None
            and (stack[-1][0] if stack else ROOT) not in parents
            and (ROOT in parents or any(entry[0] in parents for entry in stack))
        ):
            while stack and stack[-1][1] is None and stack[-1][0] not in parents:
                self._pop(events)
        if not unknown and body + size > self._next_end:
            raise MkvError(f"{_name(eid)} of {size} bytes overruns its parent, which ends at {self._next_end}", at)

    def _push(self, eid: int, end: int | None) -> None:
        if len(self._stack) >= MAX_DEPTH:
            raise MkvError(f"{_name(eid)} nested more than {MAX_DEPTH} masters deep", self._here)
        self._stack.append((eid, end, self._next_end))
        if end is not None and end < self._next_end:
            self._next_end = end
        if eid == SEGMENT:
            self._scale, self._cluster_tc = NS_PER_MS, None
        elif eid == CLUSTER:
            self._cluster_tc = None
        elif eid == EBML:
            self._doc_type = ""
        elif eid == TRACKS:
            self._tracks = []
        elif eid == TRACK_ENTRY:
            self._track = _TrackDraft()
        elif eid == TAGS:
            self._tags, self._tag_bytes = {}, 0
        elif eid == SIMPLE_TAG:
            self._simple_tags.append([None, None])

    def _pop(self, events: list[Event]) -> None:
        eid, _, self._next_end = self._stack.pop()
        if eid == SIMPLE_TAG:
            self._end_simple_tag()
        elif eid == TAGS and self._tags is not None:
            events.append(FragmentTags(self._tags))
            self._tags = None
        elif eid == TRACK_ENTRY and self._track is not None:
            if len(self._tracks) >= MAX_TRACKS:
                raise MkvError(f"more than {MAX_TRACKS} tracks", self._here)
            self._tracks.append(self._end_track(self._track))
            self._track = None
        elif eid == TRACKS:
            events.append(TracksFound(self._tracks))
        elif eid == SEGMENT:
            events.append(SegmentEnded())
        elif eid == EBML and self._doc_type and self._doc_type not in _DOC_TYPES:
            raise MkvError(f"unsupported DocType {self._doc_type!r}", self._here)

    def _close_ended(self, offset: int, events: list[Event]) -> None:
        self._here = offset
        while offset >= self._next_end:
            while self._stack[-1][1] != self._next_end:
                self._pop(events)  # unknown-size masters inside the one that ended
            self._pop(events)

    def _value(self, eid: int, buf: bytearray, start: int, end: int, at: int, events: list[Event]) -> None:
        if eid in (SIMPLE_BLOCK, BLOCK):
            events.append(self._block(buf, start, end, at))
        elif eid in _STRING_VALUES:
            self._string(eid, buf[start:end].rstrip(b"\0").decode("utf-8", "replace"))
        elif eid == SAMPLING_FREQUENCY:
            if end - start not in (0, 4, 8):
                raise MkvError(f"SamplingFrequency of {end - start} bytes (a float is 4 or 8)", at)
            if self._track is not None:
                rate = 0.0 if end == start else unpack_from(">f" if end - start == 4 else ">d", buf, start)[0]
                self._track.sampling_frequency = rate
        elif eid in _INT_VALUES:
            if end - start > 8:
                raise MkvError(f"integer element 0x{eid:X} of {end - start} bytes (at most 8)", at)
            self._integer(eid, int.from_bytes(buf[start:end], "big"), events)

    def _block(self, buf: bytearray, start: int, end: int, at: int) -> AudioBlock:
        track_len = _LENGTH[buf[start]] if end > start else 0
        if not track_len or end - start < track_len + 3:
            raise MkvError(f"{_name(BLOCK)} header truncated or invalid", at)
        track = _uint(buf, start, track_len) & _MASK[track_len]
        head = start + track_len
        relative = (buf[head] << 8 | buf[head + 1]) - (0x10000 if buf[head] & 0x80 else 0)
        lacing = (buf[head + 2] >> 1) & 3
        if lacing:
            raise MkvError(f"unsupported lacing ({_LACING[lacing]}) in a block of track {track}", at)
        if self._cluster_tc is None:
            raise MkvError("block before its cluster's Timecode or outside any cluster", at)
        ticks = self._cluster_tc + relative
        timecode_ms = ticks if self._scale == NS_PER_MS else ticks * self._scale // NS_PER_MS
        return AudioBlock(track, timecode_ms, bytes(buf[head + 3 : end]))

    def _integer(self, eid: int, value: int, events: list[Event]) -> None:
        if eid == TIMECODE:
            self._cluster_tc = value
            events.append(ClusterStarted(value if self._scale == NS_PER_MS else value * self._scale // NS_PER_MS))
        elif eid == TIMECODE_SCALE:
            self._scale = value or NS_PER_MS
        elif (track := self._track) is not None:
            if eid == TRACK_NUMBER:
                track.number = value
            elif eid == TRACK_UID:
                track.uid = value
            elif eid == CHANNELS:
                track.channels = value
            elif eid == BIT_DEPTH:
                track.bit_depth = value

    def _string(self, eid: int, text: str) -> None:
        if eid in (TAG_NAME, TAG_STRING):
            if self._simple_tags:
                self._simple_tags[-1][0 if eid == TAG_NAME else 1] = text
        elif eid == DOC_TYPE:
            self._doc_type = text
        elif self._track is not None and eid == NAME:
            self._track.name = text
        elif self._track is not None:
            self._track.codec_id = text

    def _end_simple_tag(self) -> None:
        name, value = self._simple_tags.pop()
        if name is None or value is None or self._tags is None:
            return
        key = "/".join([*(tag[0] or "" for tag in self._simple_tags), name])
        self._tag_bytes += len(key) + len(value)
        if self._tag_bytes > self.max_element_bytes:
            raise MkvError(f"Tags hold more than max_element_bytes ({self.max_element_bytes}) of text", self._here)
        self._tags[key] = value

    def _end_track(self, draft: _TrackDraft) -> Track:
        if draft.number is None:
            raise MkvError("TrackEntry without a TrackNumber", self._here)
        rate, channels, bits = draft.sampling_frequency, draft.channels, draft.bit_depth
        return Track(draft.number, draft.name, draft.codec_id, rate, channels, bits, draft.uid)


def _uint(buf: bytearray, start: int, length: int) -> int:
    value = 0
    for index in range(start, start + length):
        value = value << 8 | buf[index]
    return value


def _name(eid: int) -> str:
    return _NAMES.get(eid, f"element 0x{eid:X}")

"""Sans-I/O SDP (RFC 4566): parse an offer, read its streams and codecs, build and serialize an answer."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar

MAX_SDP_BYTES = 64 * 1024
MAX_MEDIA = 64
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
# RFC 3551 §6: static audio payload types, usable without a=rtpmap.
STATIC_PAYLOAD_TYPES = {
    0: ("PCMU", 8000, 1),
    3: ("GSM", 8000, 1),
    4: ("G723", 8000, 1),
    5: ("DVI4", 8000, 1),
    6: ("DVI4", 16000, 1),
    7: ("LPC", 8000, 1),
    8: ("PCMA", 8000, 1),
    9: ("G722", 8000, 1),  # the RTP clock is 8000 though G.722 samples at 16 kHz (RFC 3551 §4.5.2)
    10: ("L16", 44100, 2),
    11: ("L16", 44100, 1),
    12: ("QCELP", 8000, 1),
    13: ("CN", 8000, 1),
    15: ("G728", 8000, 1),
    18: ("G729", 8000, 1),
}
# RFC 4566 §5: the order of lines; other_lines of each type are written in their group, unknown types last.
_SESSION_BEFORE_C, _SESSION_AFTER_C, _SESSION_AFTER_T = "iuep", "b", "trzk"
_MEDIA_BEFORE_C, _MEDIA_AFTER_C = "i", "bk"
_SESSION_GROUPS = (_SESSION_BEFORE_C, _SESSION_AFTER_C, _SESSION_AFTER_T)
_MEDIA_GROUPS = (_MEDIA_BEFORE_C, _MEDIA_AFTER_C)
# Types that RFC 4566 §5 allows only before the first m= line (the session and its time descriptions).
_SESSION_ONLY = "vosuepztr"


_T = TypeVar("_T")


class SdpError(ValueError):
    """An SDP body that cannot be used (answered 400 or 488 by the caller)."""


@dataclass(frozen=True)
class Codec:
    payload_type: int
    name: str
    clock_rate: int
    channels: int = 1
    fmtp: str = ""

    @property
    def rtpmap(self) -> str:
        """The a=rtpmap value after the payload type: `PCMU/8000`, `opus/48000/2`."""
        suffix = f"/{self.channels}" if self.channels != 1 else ""
        return f"{self.name}/{self.clock_rate}{suffix}"


@dataclass
class Origin:
    username: str
    session_id: str
    session_version: int
    net_type: str
    addr_type: str
    address: str

    def __str__(self) -> str:
        fields = (self.username, self.session_id, self.session_version, self.net_type, self.addr_type, self.address)
        return " ".join(str(value) for value in fields)


@dataclass
class MediaDescription:
    media: str
    port: int
    proto: str
    formats: list[str]
    connection: str | None = None
    attributes: list[tuple[str, str | None]] = field(default_factory=list)
    port_count: int = 1  # `m=audio 49170/2`
    other_lines: list[tuple[str, str]] = field(default_factory=list)  # i=, b=, k= and unknown types, in RFC 4566 order
    # A session-level direction attribute, which applies where the media names none (RFC 4566 §6).
    session_direction: str = field(default="sendrecv", compare=False, repr=False)

    def attribute(self, name: str) -> str | None:
        """The value of the first a=name: line, None when absent or a flag."""
        return next((value for key, value in self.attributes if key == name), None)

    @property
    def direction(self) -> str:
        return _direction(self.attributes) or self.session_direction

    @property
    def label(self) -> str | None:
        return self.attribute("label")  # RFC 4574; SIPREC names each recorded stream by it

    @property
    def rtcp_port(self) -> int | None:
        """a=rtcp (RFC 3605) or the RTP port + 1; None for a rejected stream."""
        if self.port == 0:
            return None
        fields = (self.attribute("rtcp") or "").split()
        return _port(fields[0]) if fields else self.port + 1

    def codecs(self) -> list[Codec]:
        """The RTP codecs in m-line order; a dynamic payload type without a=rtpmap is left out."""
        if "RTP" not in self.proto.upper():
            return []
        rtpmaps: dict[int, tuple[str, int, int]] = {}
        fmtps: dict[int, str] = {}
        for name, value in self.attributes:
            if name in ("rtpmap", "fmtp") and value is not None:
                number, _, rest = value.partition(" ")
                payload_type = _payload_type(number)
                if name == "rtpmap":
                    rtpmaps[payload_type] = _rtpmap(rest)
                else:
                    fmtps[payload_type] = rest.strip()
        codecs = []
        for fmt in self.formats:
            payload_type = _payload_type(fmt)
            known = rtpmaps.get(payload_type) or STATIC_PAYLOAD_TYPES.get(payload_type)
            if known is not None:
                codecs.append(Codec(payload_type, *known, fmtp=fmtps.get(payload_type, "")))
        return codecs

    def rejected(self) -> MediaDescription:
        """The answer refusing this stream: port 0, the offered formats echoed (RFC 3264 §6)."""
        return MediaDescription(self.media, 0, self.proto, list(self.formats))

    def lines(self) -> list[str]:
        port = f"{self.port}/{self.port_count}" if self.port_count != 1 else str(self.port)
        lines = [f"m={self.media} {port} {self.proto} {' '.join(self.formats)}"]
        lines += _typed(self.other_lines, _MEDIA_BEFORE_C)
        if self.connection is not None:
            lines.append(_connection_line(self.connection))
        lines += _typed(self.other_lines, _MEDIA_AFTER_C)
        lines += _unknown(self.other_lines, _MEDIA_GROUPS)
        lines += _attribute_lines(self.attributes)
        return lines

    def __str__(self) -> str:
        return "".join(line + "\r\n" for line in self.lines())


@dataclass
class SessionDescription:
    version: int
    origin: Origin
    session_name: str
    connection: str | None = None  # the session-level c= address
    timing: str = "0 0"
    attributes: list[tuple[str, str | None]] = field(default_factory=list)
    media: list[MediaDescription] = field(default_factory=list)
    other_lines: list[tuple[str, str]] = field(default_factory=list)  # i= u= e= p= b= r= z= k=, extra t=

    @property
    def direction(self) -> str:
        """The session-level direction, the default for media naming none."""
        return _direction(self.attributes) or "sendrecv"

    def connection_for(self, media: MediaDescription) -> str | None:
        """Where the stream's media comes from: its own c= over the session's."""
        return media.connection if media.connection is not None else self.connection

    def __str__(self) -> str:
        lines = [f"v={self.version}", f"o={self.origin}", f"s={self.session_name}"]
        lines += _typed(self.other_lines, _SESSION_BEFORE_C)
        if self.connection is not None:
            lines.append(_connection_line(self.connection))
        lines += _typed(self.other_lines, _SESSION_AFTER_C)
        lines.append(f"t={self.timing}")
        lines += _typed(self.other_lines, _SESSION_AFTER_T)
        lines += _unknown(self.other_lines, _SESSION_GROUPS)
        lines += _attribute_lines(self.attributes)
        text = "".join(line + "\r\n" for line in lines)
        return text + "".join(str(media) for media in self.media)

    def serialize(self) -> bytes:
        return str(self).encode()


def build_media(
    media: str,
    port: int,
    codecs: list[Codec],
    direction: str,
    label: str | None = None,
    extra: Iterable[tuple[str, str | None]] = (),
    *,
    proto: str = "RTP/AVP",
    connection: str | None = None,
) -> MediaDescription:
    """An answer's m-section: a=rtpmap (and a=fmtp) per codec, `extra`, a=label and the direction."""
    if direction not in DIRECTIONS:
        raise ValueError(f"SDP direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
    if not codecs:
        raise ValueError("an SDP media description needs at least one codec")
    attributes: list[tuple[str, str | None]] = []
    for codec in codecs:
        if not 0 <= codec.payload_type <= 127:
            raise ValueError(f"RTP payload type {codec.payload_type} is not in 0-127")
        attributes.append(("rtpmap", f"{codec.payload_type} {codec.rtpmap}"))
        if codec.fmtp:
            attributes.append(("fmtp", f"{codec.payload_type} {codec.fmtp}"))
    attributes.extend(extra)
    if label is not None:
        attributes.append(("label", label))
    attributes.append((direction, None))
    formats = [str(codec.payload_type) for codec in codecs]
    return MediaDescription(media, _port(str(port), allow_zero=True), proto, formats, connection, attributes)


def parse_sdp(text: str | bytes) -> SessionDescription:
    if len(text) > MAX_SDP_BYTES:
        raise SdpError(f"SDP of {len(text)} bytes is over the {MAX_SDP_BYTES}-byte limit")
    if isinstance(text, bytes):
        try:
            text = text.decode()
        except UnicodeDecodeError:
            raise SdpError("SDP is not valid UTF-8") from None
    sections: list[list[tuple[str, str]]] = [[]]  # the session, then one per m= line
    for number, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")  # LF-only line ends are common enough to accept
        if not line.strip():
            continue
        kind, equals, value = line[:1], line[1:2], line[2:]
        if equals != "=" or not ("a" <= kind <= "z"):
            raise SdpError(f"SDP line {number} is not <type>=<value>")
        if kind == "m":
            if len(sections) > MAX_MEDIA:
                raise SdpError(f"SDP has more than {MAX_MEDIA} media descriptions")
            sections.append([])
        sections[-1].append((kind, value))
    session = _parse_session(sections[0])
    for section in sections[1:]:
        media = _parse_media(section)
        media.session_direction = session.direction
        session.media.append(media)
    return session


def _parse_session(lines: list[tuple[str, str]]) -> SessionDescription:
    if not lines or lines[0] != ("v", "0"):
        raise SdpError("SDP does not start with v=0")
    origin: Origin | None = None
    name = timing = connection = None
    attributes: list[tuple[str, str | None]] = []
    other: list[tuple[str, str]] = []
    for kind, value in lines[1:]:
        if kind == "a":
            attributes.append(_attribute(value))
        elif kind == "c":
            connection = _once(connection, _connection_address(value), "c")
        elif kind == "o":
            origin = _once(origin, _origin(value), "o")
        elif kind == "s":
            name = _once(name, value, "s")
        elif kind == "t" and timing is None:
            timing = value.strip()
        elif kind == "v":
            raise SdpError("SDP has a second v= line")
        else:
            other.append((kind, value))
    if origin is None:
        raise SdpError("SDP has no o= line")
    # s= and t= are mandatory too, but some SBCs leave them out and nothing here depends on them.
    other = _in_order(other, _SESSION_GROUPS)
    return SessionDescription(0, origin, name or "-", connection, timing or "0 0", attributes, [], other)


def _parse_media(lines: list[tuple[str, str]]) -> MediaDescription:
    media = _media_line(lines[0][1])
    for kind, value in lines[1:]:
        if kind == "a":
            media.attributes.append(_attribute(value))
        elif kind == "c":
            media.connection = _once(media.connection, _connection_address(value), "c")
        elif kind in _SESSION_ONLY:
            raise SdpError(f"{kind}= line inside a media description")
        else:
            media.other_lines.append((kind, value))
    media.other_lines = _in_order(media.other_lines, _MEDIA_GROUPS)
    # Check a=rtpmap, a=fmtp and a=rtcp now, so that codecs() and rtcp_port cannot fail later.
    media.codecs()
    _ = media.rtcp_port
    return media


def _media_line(value: str) -> MediaDescription:
    fields = value.split()
    if len(fields) < 4:
        raise SdpError("m= line needs media, port, proto and at least one format")
    media, port_text, proto, *formats = fields
    port_text, slash, count_text = port_text.partition("/")
    port = _port(port_text, allow_zero=True)
    count = _port(count_text) if slash else 1
    media_description = MediaDescription(media, port, proto, formats, port_count=count)
    if "RTP" in proto.upper():
        for fmt in formats:
            _payload_type(fmt)
    return media_description


def _origin(value: str) -> Origin:
    fields = value.split()
    if len(fields) != 6:
        raise SdpError("o= line needs six fields")
    username, session_id, version, net_type, addr_type, address = fields
    if not (version.isascii() and version.isdigit() and len(version) <= 20):
        raise SdpError("o= session version is not a number")
    return Origin(username, session_id, int(version), net_type, addr_type, address)


def _connection_address(value: str) -> str:
    fields = value.split()
    if len(fields) != 3 or fields[0] != "IN" or fields[1] not in ("IP4", "IP6"):
        raise SdpError("c= line is not IN IP4|IP6 <address>")
    address = fields[2]
    host = address.split("/", 1)[0]  # multicast addresses carry /ttl and /count
    if fields[1] == "IP4" and host.replace(".", "").isdigit():
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise SdpError("c= line has an invalid IPv4 address") from None
    elif fields[1] == "IP6" and ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise SdpError("c= line has an invalid IPv6 address") from None
    elif not host or ":" in host:
        raise SdpError("c= line has an invalid address")
    return address


def _attribute(value: str) -> tuple[str, str | None]:
    name, colon, rest = value.partition(":")
    if not name:
        raise SdpError("a= line without an attribute name")
    return name, rest if colon else None


def _once(current: _T | None, value: _T, kind: str) -> _T:
    if current is not None:
        raise SdpError(f"more than one {kind}= line in one section")
    return value


def _port(text: str, *, allow_zero: bool = False) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 5) or not (0 if allow_zero else 1) <= int(text) < 65536:
        raise SdpError(f"invalid port {text[:8]!r}")
    return int(text)


def _payload_type(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 3) or int(text) > 127:
        raise SdpError(f"invalid RTP payload type {text[:8]!r}")
    return int(text)


def _rtpmap(text: str) -> tuple[str, int, int]:
    name, _, rest = text.strip().partition("/")
    rate, _, channels = rest.partition("/")
    if not name or not (rate.isascii() and rate.isdigit() and len(rate) <= 9 and int(rate) > 0):
        raise SdpError("a=rtpmap is not <pt> <name>/<rate>[/<channels>]")
    if channels and not (channels.isascii() and channels.isdigit() and 0 < len(channels) <= 3 and int(channels)):
        raise SdpError("a=rtpmap has an invalid channel count")
    return name, int(rate), int(channels) if channels else 1


def _direction(attributes: list[tuple[str, str | None]]) -> str | None:
    return next((name for name, value in reversed(attributes) if value is None and name in DIRECTIONS), None)


def _connection_line(address: str) -> str:
    return f"c=IN {'IP6' if ':' in address else 'IP4'} {address}"


def _attribute_lines(attributes: list[tuple[str, str | None]]) -> list[str]:
    return [f"a={name}" if value is None else f"a={name}:{value}" for name, value in attributes]


def _typed(lines: list[tuple[str, str]], kinds: str) -> list[str]:
    return [f"{kind}={value}" for kind, value in lines if kind in kinds]


def _unknown(lines: list[tuple[str, str]], groups: tuple[str, ...]) -> list[str]:
    known = "".join(groups)
    return [f"{kind}={value}" for kind, value in lines if kind not in known]


def _in_order(lines: list[tuple[str, str]], groups: tuple[str, ...]) -> list[tuple[str, str]]:
    """The lines sorted, stably, into the groups that serialization writes them in (RFC 4566 §5 order).

    RFC 4566 makes the order strict but this parser is lenient about it; kept in arrival order, a line out of
    place (b= before i=, an unknown type before k=) would come back elsewhere after a round trip through str().
    """
    return sorted(lines, key=lambda line: next((n for n, kinds in enumerate(groups) if line[0] in kinds), len(groups)))

"""Sans-I/O SIP messages (RFC 3261 §7, §18.3): parse, serialize, frame a TCP stream, build responses."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from mediagw.ingress.siprec.sipheaders import (
    CANONICAL,
    TOKEN_RE,
    Headers,
    NameAddr,
    SipError,
    Via,
    format_via,
    header_key,
    parse_name_addr,
    parse_via,
    split_list,
)

__all__ = [
    "Headers",
    "NameAddr",
    "SipError",
    "SipRequest",
    "SipResponse",
    "StreamFramer",
    "Via",
    "format_via",
    "generate_branch",
    "generate_tag",
    "is_keepalive",
    "make_response",
    "parse_cseq",
    "parse_message",
    "parse_name_addr",
    "parse_via",
    "split_list",
]

MAGIC_COOKIE = "z9hG4bK"  # RFC 3261 §8.1.1.7: branch of a 3261-compliant client
MAX_HEADER_BYTES = 16 * 1024
MANDATORY = ("via", "from", "to", "call-id", "cseq")
SINGLE = ("from", "to", "call-id", "cseq", "max-forwards", "content-type")  # a second copy is ambiguous: refuse

REASONS = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    421: "Extension Required",
    422: "Session Interval Too Small",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    491: "Request Pending",
    500: "Server Internal Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    513: "Message Too Large",
    603: "Decline",
}
_CLASS_REASONS = {1: "Progress", 2: "OK", 3: "Redirection", 4: "Client Error", 5: "Server Error", 6: "Global Failure"}

_LINE_END_RE = re.compile(r"\r?\n")
_VERSION_RE = re.compile(r"SIP/\d{1,3}\.\d{1,3}", re.IGNORECASE)
_STREAM_LENGTH_RE = re.compile(rb"^(?:content-length|l)[ \t]*:([^\r\n]*)", re.IGNORECASE | re.MULTILINE)


class _Message:
    """What requests and responses share: the dialog and transaction identifiers read from headers."""

    headers: Headers
    body: bytes

    def _required(self, name: str) -> str:
        value = self.headers.get(name)
        if value is None:
            raise SipError(400, f"SIP message is missing the {CANONICAL[header_key(name)]} header")
        return value

    @property
    def call_id(self) -> str:
        return self._required("Call-ID")

    @property
    def cseq(self) -> tuple[int, str]:
        return parse_cseq(self._required("CSeq"))

    @property
    def from_tag(self) -> str | None:
        return parse_name_addr(self._required("From")).tag

    @property
    def to_tag(self) -> str | None:
        return parse_name_addr(self._required("To")).tag

    @property
    def branch(self) -> str | None:
        vias = self.headers.get_all("Via")
        if not vias:
            raise SipError(400, "SIP message is missing the Via header")
        return parse_via(vias[0]).branch

    def _serialize(self, start_line: str) -> bytes:
        # Content-Length is always recomputed from the body, so a stale header can never misframe a stream.
        lines = [start_line]
        lines.extend(f"{name}: {value}" for name, value in self.headers.items() if name != "Content-Length")
        lines.append(f"Content-Length: {len(self.body)}\r\n\r\n")
        return "\r\n".join(lines).encode() + self.body


@dataclass(eq=True)
class SipRequest(_Message):
    method: str
    uri: str
    headers: Headers
    body: bytes = b""

    def __bytes__(self) -> bytes:
        return self._serialize(f"{self.method} {self.uri} SIP/2.0")


@dataclass(eq=True)
class SipResponse(_Message):
    status: int
    reason: str
    headers: Headers
    body: bytes = b""

    def __bytes__(self) -> bytes:
        return self._serialize(f"SIP/2.0 {self.status} {self.reason}")


def parse_cseq(value: str) -> tuple[int, str]:
    parts = value.split()
    if len(parts) != 2 or not TOKEN_RE.fullmatch(parts[1]):
        raise SipError(400, "malformed CSeq header")
    number = _parse_uint(parts[0], 2**31 - 1, "CSeq number")  # RFC 3261 §8.1.1.5: less than 2**31
    return number, parts[1]


def _parse_uint(text: str, limit: int, what: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or int(text) > limit:
        raise SipError(400, f"invalid {what}")
    return int(text)


def is_keepalive(data: bytes) -> bool:
    """A datagram of only CRLFs: an RFC 5626 keep-alive, to be dropped rather than answered."""
    return not data.strip(b"\r\n")


def parse_message(data: bytes, *, max_size: int = 65535) -> SipRequest | SipResponse:
    """One SIP message from a datagram or from StreamFramer; Content-Length is consumed, not kept in headers."""
    if len(data) > max_size:
        raise SipError(413, f"SIP message of {len(data)} bytes is over the {max_size}-byte limit")
    data = data.lstrip(b"\r\n")  # RFC 3261 §7.5: CRLFs before the start line are ignored
    if not data:
        raise SipError(400, "empty SIP message")
    end, body_start = data.find(b"\r\n\r\n"), 4
    if end < 0:  # the same cut as StreamFramer's; LF-only line ends only where no CRLFCRLF exists
        end, body_start = data.find(b"\n\n"), 2
    if end < 0:
        raise SipError(400, "SIP message has no empty line after its headers")
    try:
        text = data[:end].decode()
    except UnicodeDecodeError:
        raise SipError(400, "SIP headers are not valid UTF-8") from None
    start_line, *lines = _LINE_END_RE.split(text)
    headers, length = _parse_headers(lines)
    body = data[end + body_start :]
    if length is not None:
        if length > max_size:
            raise SipError(413, f"Content-Length {length} is over the {max_size}-byte limit")
        if length > len(body):
            raise SipError(400, f"truncated body: Content-Length {length} but {len(body)} bytes follow")
        body = body[:length]  # RFC 3261 §18.3: bytes past Content-Length in a datagram are discarded
    message = _start(start_line, headers, body)
    _validate(message)
    return message


def _start(line: str, headers: Headers, body: bytes) -> SipRequest | SipResponse:
    if line[:4].upper() == "SIP/":
        version, _, rest = line.partition(" ")
        _check_version(version)
        code, _, reason = rest.partition(" ")
        if not (len(code) == 3 and code.isascii() and code.isdigit() and code[0] in "123456"):
            raise SipError(400, "invalid SIP status code")
        if "\r" in reason or "\0" in reason:
            raise SipError(400, "invalid character in reason phrase")
        return SipResponse(int(code), reason, headers, body)
    parts = line.split(" ")
    if len(parts) != 3 or not TOKEN_RE.fullmatch(parts[0]) or not parts[1] or "\r" in parts[1]:
        raise SipError(400, "malformed SIP request line")
    _check_version(parts[2])
    return SipRequest(parts[0], parts[1], headers, body)


def _check_version(version: str) -> None:
    if version.upper() == "SIP/2.0":
        return
    if _VERSION_RE.fullmatch(version):
        raise SipError(505, "only SIP/2.0 is supported")
    raise SipError(400, "malformed SIP version")


def _parse_headers(lines: list[str]) -> tuple[Headers, int | None]:
    """Headers (folded lines unfolded) and the Content-Length, which is taken out of them."""
    entries: list[list[str]] = []
    for line in lines:
        if line[:1] in (" ", "\t"):
            if not entries:
                raise SipError(400, "SIP header continuation line before any header")
            entries[-1][1] += " " + line.strip()
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise SipError(400, "SIP header line without colon")
        name = name.rstrip(" \t")  # RFC 3261 §7.3.1: HCOLON allows whitespace before the colon
        if not TOKEN_RE.fullmatch(name):
            raise SipError(400, "invalid SIP header name")
        entries.append([name, value])
    headers = Headers()
    lengths: set[int] = set()
    for name, raw in entries:
        value = raw.strip()
        if "\r" in value or "\0" in value:
            raise SipError(400, "SIP header value contains a bare CR or NUL")
        key = header_key(name)
        if key == "content-length":
            lengths.add(_parse_uint(value, 2**32, "Content-Length"))
        else:
            headers._append(key, CANONICAL.get(key, name), value)
    if len(lengths) > 1:
        raise SipError(400, "conflicting Content-Length headers")
    return headers, lengths.pop() if lengths else None


def _validate(message: SipRequest | SipResponse) -> None:
    """Check what every later layer relies on, so the properties never raise on a parsed message."""
    headers = message.headers
    for key in MANDATORY:
        if key not in headers:
            raise SipError(400, f"SIP message is missing the {CANONICAL[key]} header")
    for key in SINGLE:
        if headers.count(key) > 1:
            raise SipError(400, f"SIP message has more than one {CANONICAL[key]} header")
    if not message.call_id:
        raise SipError(400, "empty Call-ID header")
    _, method = message.cseq
    if isinstance(message, SipRequest) and method != message.method:
        raise SipError(400, f"CSeq method {method} does not match request method {message.method}")
    _ = message.branch, message.from_tag, message.to_tag  # parse top Via, From and To
    max_forwards = headers.get("Max-Forwards")
    if max_forwards is not None:
        _parse_uint(max_forwards, 255, "Max-Forwards")


class StreamFramer:
    """Cuts a SIP-over-TCP/TLS byte stream into raw messages by Content-Length (RFC 3261 §18.3).

    Once `broken`, the stream cannot be resynchronised: the transport answers the error if it can and closes.
    """

    def __init__(self, *, max_size: int = 65535, max_header_bytes: int = MAX_HEADER_BYTES) -> None:
        self.max_size = max_size
        self.max_header_bytes = max_header_bytes
        self.broken = False
        self._buffer = bytearray()
        self._scanned = 0  # bytes of the buffer already searched for the end of headers
        self._message_size: int | None = None  # size of the message at the front, once its headers are in
        self._crlfs = 0  # consecutive CRLFs between messages
        self._keepalives = 0

    def take_keepalives(self) -> int:
        """CRLFCRLF pings seen since the last call; RFC 5626 §4.4.1 answers each with a CRLF pong."""
        count, self._keepalives = self._keepalives, 0
        return count

    def feed(self, data: bytes) -> list[bytes | SipError]:
        if self.broken:
            return []
        self._buffer += data
        out: list[bytes | SipError] = []
        while True:
            if self._message_size is None:
                self._skip_crlfs()
                try:
                    self._message_size = self._header_block()
                except SipError as error:
                    self.broken = True
                    self._buffer.clear()
                    out.append(error)
                    return out
                if self._message_size is None:
                    return out
            if len(self._buffer) < self._message_size:
                return out
            out.append(bytes(self._buffer[: self._message_size]))
            del self._buffer[: self._message_size]
            self._message_size = None
            self._scanned = 0

    def _skip_crlfs(self) -> None:
        skipped = 0
        while self._buffer[skipped : skipped + 2] == b"\r\n":
            skipped += 2
        if skipped:
            del self._buffer[:skipped]
            self._crlfs += skipped // 2
            self._keepalives += self._crlfs // 2
            self._crlfs %= 2
        if self._buffer and self._buffer != b"\r":
            self._crlfs = 0  # a message starts: a lone CRLF before it was no ping

    def _header_block(self) -> int | None:
        """Total size of the message at the front once its headers are complete, else None."""
        end = self._buffer.find(b"\r\n\r\n", max(0, self._scanned - 3))
        if end < 0:
            self._scanned = len(self._buffer)
            if len(self._buffer) > self.max_header_bytes:
                raise SipError(413, f"SIP header block is over {self.max_header_bytes} bytes")
            return None
        if end > self.max_header_bytes:
            raise SipError(413, f"SIP header block is over {self.max_header_bytes} bytes")
        matches = _STREAM_LENGTH_RE.findall(self._buffer, 0, end)
        values = {value.strip() for value in matches}
        if not values:
            raise SipError(400, "SIP message on a stream has no Content-Length")
        if len(values) > 1:
            raise SipError(400, "conflicting Content-Length headers")
        length = _parse_uint(values.pop().decode("latin-1"), 2**32, "Content-Length")
        if length > self.max_size:
            raise SipError(413, f"Content-Length {length} is over the {self.max_size}-byte limit")
        return end + 4 + length


def make_response(
    request: SipRequest,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> SipResponse:
    """A response to `request` with Via, From, To, Call-ID and CSeq copied as RFC 3261 §8.2.6 says."""
    if not 100 <= status <= 699:
        raise ValueError(f"SIP status {status} is not in 100-699")
    if reason is None:
        reason = REASONS.get(status, _CLASS_REASONS[status // 100])
    elif "\r" in reason or "\n" in reason:
        raise ValueError("SIP reason phrase contains a line break")
    out = Headers()
    for name, value in request.headers.items():
        key = header_key(name)
        if key in ("via", "from", "call-id", "cseq") or (key == "timestamp" and status == 100):
            out.add(name, value)
        elif key == "to":
            if to_tag is not None and parse_name_addr(value).tag is None:
                value = f"{value};tag={to_tag}"
            out.add(name, value)
    for name, value in headers or ():
        out.add(name, value)
    return SipResponse(status, reason, out, body)


def generate_tag() -> str:
    return secrets.token_hex(8)  # 64 random bits; RFC 3261 §19.3 asks for at least 32


def generate_branch() -> str:
    return MAGIC_COOKIE + secrets.token_hex(12)

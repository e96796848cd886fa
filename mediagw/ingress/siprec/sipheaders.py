"""SIP header fields (RFC 3261 §7.3, §20): the case-insensitive multi-dict and the name-addr and Via forms."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field


class SipError(ValueError):
    """A message that cannot be accepted; `status` is the SIP response to answer with.

    `reason` says precisely what is wrong and is safe to send as the reason phrase (RFC 3261 §21.4.1 asks for
    that detail): it never echoes raw message bytes.
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


COMPACT = {
    "i": "call-id",
    "f": "from",
    "t": "to",
    "v": "via",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
    "k": "supported",
    "s": "subject",
    "e": "content-encoding",
    "x": "session-expires",
    "o": "event",
    "r": "refer-to",
    "b": "referred-by",
    "u": "allow-events",
    "a": "accept-contact",
    "j": "reject-contact",
    "d": "request-disposition",
    "y": "identity",
    "n": "identity-info",
}

_KNOWN_NAMES = (
    "Accept Accept-Contact Accept-Encoding Accept-Language Alert-Info Allow Allow-Events Authentication-Info "
    "Authorization Call-ID Call-Info Contact Content-Disposition Content-Encoding Content-ID Content-Language "
    "Content-Length Content-Type CSeq Date Error-Info Event Expires From History-Info Identity Identity-Info "
    "In-Reply-To Max-Forwards Min-Expires Min-SE MIME-Version Organization P-Asserted-Identity "
    "P-Preferred-Identity Priority Privacy Proxy-Authenticate Proxy-Authorization Proxy-Require RAck Reason "
    "Record-Route Refer-To Referred-By Reject-Contact Replaces Reply-To Request-Disposition Require Retry-After "
    "Route RSeq Server Session-Expires Session-ID SIP-ETag SIP-If-Match Subject Subscription-State Supported "
    "Timestamp To Unsupported User-Agent Via Warning WWW-Authenticate"
)
CANONICAL = {name.lower(): name for name in _KNOWN_NAMES.split()}

# Headers whose value is a comma-separated list (RFC 3261 §7.3.1), split by get_all. Warning, Authorization and
# the like are left whole: their commas sit inside one value.
LIST_HEADERS = frozenset(
    "via require supported allow proxy-require unsupported accept accept-encoding accept-language "
    "allow-events content-encoding content-language contact route record-route".split()
)

TOKEN_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_HOST_RE = re.compile(r"[A-Za-z0-9\-.]+")
_IPV6_RE = re.compile(r"[0-9A-Fa-f:.]+")
_URI_FORBIDDEN_RE = re.compile(r'[\s<>"]')


def header_key(name: str) -> str:
    """The lookup key of a header name: lower case, compact form expanded."""
    key = name.strip().lower()
    return COMPACT.get(key, key)


def canonical_name(name: str) -> str:
    """The name to write: the usual spelling of a known header, an unknown one as first given."""
    key = header_key(name)
    return CANONICAL.get(key, name.strip())


class Headers:
    """Ordered, case-insensitive multi-dict; each entry is one header line as received or added."""

    __slots__ = ("_entries",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._entries: list[tuple[str, str, str]] = []  # (key, name to write, value)
        for name, value in items:
            self.add(name, value)

    def _append(self, key: str, name: str, value: str) -> None:
        """Unchecked add for the parser, which has validated name and value already."""
        self._entries.append((key, name, value))

    def get(self, name: str, default: str | None = None) -> str | None:
        key = header_key(name)
        for entry_key, _, value in self._entries:
            if entry_key == key:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        key = header_key(name)
        values = [value for entry_key, _, value in self._entries if entry_key == key]
        if key in LIST_HEADERS:
            return [item for value in values for item in split_list(value)]
        return values

    def count(self, name: str) -> int:
        """Header lines of that name, whatever their commas hold."""
        key = header_key(name)
        return sum(1 for entry_key, _, _ in self._entries if entry_key == key)

    def add(self, name: str, value: str) -> None:
        if not TOKEN_RE.fullmatch(name.strip()):
            raise ValueError(f"invalid SIP header name {name!r}")
        if "\r" in value or "\n" in value or "\0" in value:
            raise ValueError(f"SIP header {name.strip()} value contains a line break or NUL")
        self._entries.append((header_key(name), canonical_name(name), value.strip()))

    def set(self, name: str, value: str) -> None:
        """Replace every line of that name with one, kept where the first one was."""
        key = header_key(name)
        position = next((i for i, entry in enumerate(self._entries) if entry[0] == key), len(self._entries))
        self.remove(name)
        self.add(name, value)
        self._entries.insert(position, self._entries.pop())

    def remove(self, name: str) -> None:
        key = header_key(name)
        self._entries = [entry for entry in self._entries if entry[0] != key]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = header_key(name)
        return any(entry[0] == key for entry in self._entries)

    def items(self) -> list[tuple[str, str]]:
        return [(name, value) for _, name, value in self._entries]

    def copy(self) -> Headers:
        clone = Headers()
        clone._entries = list(self._entries)
        return clone

    def __len__(self) -> int:
        return len(self._entries)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return [(k, v) for k, _, v in self._entries] == [(k, v) for k, _, v in other._entries]

    def __repr__(self) -> str:
        return f"Headers({self.items()!r})"


def _split(text: str, separator: str, *, closed: bool = False) -> list[str]:
    """Split on `separator` outside quoted strings and <...>; backslash escapes inside quotes.

    With `closed`, a quoted string or <...> still open at the end is a SipError: it would swallow whatever follows.
    """
    if '"' not in text and "<" not in text:
        return text.split(separator)
    parts: list[str] = []
    start = 0
    quoted = escaped = False
    depth = 0
    for index, char in enumerate(text):
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == "<":
            depth += 1
        elif char == ">" and depth:
            depth -= 1
        elif char == separator and not depth:
            parts.append(text[start:index])
            start = index + 1
    if closed and (quoted or depth):
        raise SipError(400, "unterminated quoted string or <...> in SIP header parameters")
    parts.append(text[start:])
    return parts


def split_list(value: str) -> list[str]:
    """The items of a comma-separated header value; empty items dropped."""
    return [item for item in (part.strip() for part in _split(value, ",")) if item]


def parse_params(text: str) -> dict[str, str]:
    """`;name=value;flag` into a dict: names lower-cased, values as written (quotes kept), flags as "".

    An unterminated quoted string is refused (RFC 3261 §25.1), and so is an unclosed <: either would hide a
    parameter appended later, such as the To tag that make_response adds.
    """
    params: dict[str, str] = {}
    for part in _split(text, ";", closed=True):
        name, _, value = part.partition("=")
        name = name.strip().lower()
        if not name:
            if part.strip():
                raise SipError(400, "SIP header parameter without a name")
            continue
        if not TOKEN_RE.fullmatch(name):
            raise SipError(400, "invalid SIP header parameter name")
        params[name] = value.strip()
    return params


def format_params(params: dict[str, str]) -> str:
    return "".join(f";{name}={value}" if value else f";{name}" for name, value in params.items())


@dataclass
class NameAddr:
    """From, To, Contact and the like: `"Bob" <sip:bob@x>;tag=1`."""

    display: str
    uri: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def __str__(self) -> str:
        escaped = self.display.replace("\\", "\\\\").replace('"', '\\"')
        display = f'"{escaped}" ' if self.display else ""
        return f"{display}<{self.uri}>{format_params(self.params)}"


def _quoted_string(value: str) -> tuple[str, str]:
    """The unescaped quoted string at the start of `value`, and what follows it."""
    chars: list[str] = []
    index = 1
    while index < len(value):
        char = value[index]
        if char == "\\" and index + 1 < len(value):
            chars.append(value[index + 1])
            index += 2
            continue
        if char == '"':
            return "".join(chars), value[index + 1 :]
        chars.append(char)
        index += 1
    raise SipError(400, "unterminated quoted display name")


def parse_name_addr(value: str) -> NameAddr:
    text = value.strip()
    display = ""
    if text.startswith('"'):
        display, text = _quoted_string(text)
        text = text.lstrip()
        if not text.startswith("<"):
            raise SipError(400, "quoted display name not followed by <URI>")
    opening = text.find("<")
    if opening >= 0 and (opening == 0 or ";" not in text[:opening]):
        display = display or text[:opening].strip()
        closing = text.find(">", opening)
        if closing < 0:
            raise SipError(400, "name-addr URI has no closing >")
        uri, rest = text[opening + 1 : closing].strip(), text[closing + 1 :]
    else:
        # A bare addr-spec: everything after the first ';' belongs to the header, not the URI (RFC 3261 §20.10).
        uri, _, rest = text.partition(";")
        uri, rest = uri.strip(), ";" + rest if rest else ""
        if "," in uri or "?" in uri:
            raise SipError(400, "bare addr-spec contains a comma or question mark")
    if ":" not in uri or _URI_FORBIDDEN_RE.search(uri):
        raise SipError(400, "name-addr has no URI or an invalid one")
    rest = rest.strip()
    if rest and not rest.startswith(";"):
        raise SipError(400, "unexpected text after name-addr URI")
    return NameAddr(display, uri, parse_params(rest))


@dataclass
class Via:
    """One Via entry; `host` is bare (no brackets around IPv6)."""

    transport: str
    host: str
    port: int | None = None
    params: dict[str, str] = field(default_factory=dict)

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port is not None else ""
        return f"SIP/2.0/{self.transport} {host}{port}{format_params(self.params)}"


def format_via(via: Via) -> str:
    return str(via)


def parse_port(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 5) or not 0 < int(text) < 65536:
        raise SipError(400, "invalid port number")
    return int(text)


def parse_via(value: str) -> Via:
    head, *params = _split(value, ";")
    parts = head.split("/", 2)
    if len(parts) != 3 or parts[0].strip().upper() != "SIP" or parts[1].strip() != "2.0":
        raise SipError(400, "Via does not start with SIP/2.0/transport")
    fields = parts[2].split(None, 1)
    if len(fields) != 2 or not TOKEN_RE.fullmatch(fields[0]):
        raise SipError(400, "Via has no transport or sent-by")
    transport, sent_by = fields
    host, port = _split_host_port(sent_by.strip())
    return Via(transport.upper(), host, port, parse_params(";".join(params)))


def _split_host_port(text: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `[v6]:port`; SWS is allowed around the colon (RFC 3261 §25.1)."""
    if text.startswith("["):
        closing = text.find("]")
        host, rest = text[1:closing], text[closing + 1 :].lstrip()
        if closing < 0 or not _IPV6_RE.fullmatch(host) or rest[:1] not in ("", ":"):
            raise SipError(400, "invalid IPv6 reference in Via")
        return host, parse_port(rest[1:].strip()) if rest else None
    host, colon, port = text.partition(":")
    host = host.rstrip()
    if not _HOST_RE.fullmatch(host):
        raise SipError(400, "invalid host in Via")
    return host, parse_port(port.strip()) if colon else None

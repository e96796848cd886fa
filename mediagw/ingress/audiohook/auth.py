"""Authentication of AudioHook's WebSocket upgrade: its headers, the API key and its HTTP message signature.

Genesys sends `Audiohook-Organization-Id`, `Audiohook-Correlation-Id`, `Audiohook-Session-Id` and `X-API-KEY`, and
with a client secret configured signs the request per the IETF httpbis HTTP Message Signatures draft AudioHook uses
(draft-ietf-httpbis-message-signatures-11: `Signature-Input` and `Signature`, HMAC-SHA256 keyed with the base64-
decoded client secret, keyid = the API key). Everything here is pure: headers and the clock in, `Credentials` or
`AuthError` out. The transport should answer failures after a fixed delay so that timing tells a client nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import hmac
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TypeGuard

SIGNED_COMPONENTS = (
    "@request-target",
    "@authority",
    "audiohook-organization-id",
    "audiohook-session-id",
    "audiohook-correlation-id",
    "x-api-key",
)
ALGORITHM = "hmac-sha256"
MIN_NONCE_CHARS = 22  # 128 bits and more of base64
MAX_CORRELATION_ID_CHARS = 256  # Genesys sends a UUID; it is logged, so it is bounded
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


class _Token(str):
    """A structured-field token: a bare item written without quotes."""


BareItem = str | int | bool | bytes
Params = dict[str, BareItem]
_Lookup = Callable[[str], "str | None"]


class AuthError(Exception):
    """The upgrade is refused with HTTP `status` (400 malformed, 401 missing or bad credentials)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Credentials:
    api_key: str
    organization_id: str
    session_id: str
    correlation_id: str
    signed: bool = False  # whether a signature was verified (False: the key needs none)
    # a verified signature's nonce and until when it counts (a cluster claims it once more): not the identity
    nonce: str = field(default="", compare=False)
    nonce_until: float = field(default=0.0, compare=False)


class ReplayCache:
    """Remembers each (keyid, nonce) until its signature could no longer be accepted; at most `max_entries`.

    It lives in memory, so it knows nothing of nonces seen before `since` (the process's start): a signature
    created before then is refused, or a signed upgrade captured before a restart could be replayed after it.
    """

    def __init__(self, max_entries: int = 100_000, since: float | None = None) -> None:
        self.max_entries = max_entries
        self.since = time.time() if since is None else since
        self._until: dict[tuple[str, str], float] = {}
        self._expiries: list[tuple[float, tuple[str, str]]] = []

    @property
    def size(self) -> int:
        return len(self._until)

    def seen(self, keyid: str, nonce: str, until: float, now: float) -> bool:
        """True if the nonce was used before; otherwise remember it until `until`."""
        while self._expiries and (self._expiries[0][0] < now or len(self._expiries) >= self.max_entries):
            _, key = heapq.heappop(self._expiries)  # expired, or the soonest to expire when full
            self._until.pop(key, None)
        if (keyid, nonce) in self._until:
            return True
        self._until[keyid, nonce] = until
        heapq.heappush(self._expiries, (until, (keyid, nonce)))
        return False


def verify_upgrade(
    method: str,
    path_with_query: str,
    headers: Mapping[str, str],
    *,
    api_keys: Mapping[str, str | None],
    now: float,
    replay: ReplayCache,
    max_skew_s: float = 300,
    authority: str | None = None,
) -> Credentials:
    """Check an upgrade request; `api_keys` maps each accepted key to its base64 client secret, or None if unsigned.

    A key without a secret is accepted unsigned; a signed request is verified all the same, keyed with the empty
    secret as Genesys' reference server does, so a signature is never taken on trust. `authority` overrides the
    Host header for "@authority" (behind a proxy that rewrites it).
    """
    fields = {name.lower(): _canonical(value) for name, value in headers.items()}
    api_key = fields.get("x-api-key", "")
    if not api_key:
        raise AuthError(401, "X-API-KEY header is missing")
    ids = [fields.get(name, "") for name in ("audiohook-organization-id", "audiohook-session-id")]
    if not all(_UUID.fullmatch(value) for value in ids):
        raise AuthError(400, "Audiohook-Organization-Id or Audiohook-Session-Id is missing or not a UUID")
    if not 0 < len(fields.get("audiohook-correlation-id", "")) <= MAX_CORRELATION_ID_CHARS:
        raise AuthError(400, f"Audiohook-Correlation-Id header is missing or over {MAX_CORRELATION_ID_CHARS} chars")
    credentials = Credentials(api_key, ids[0], ids[1], fields["audiohook-correlation-id"])
    if api_key not in api_keys:  # the same answer as a bad signature: a client learns nothing about keys
        raise AuthError(401, "unknown API key")
    secret = api_keys[api_key]
    if "signature-input" not in fields and "signature" not in fields:
        if secret is None:
            return credentials
        raise AuthError(401, "the request is not signed")
    key = b"" if secret is None else _decode_secret(secret)
    derived = _derived(method, path_with_query, (authority or fields.get("host", "")).lower())
    nonce, until = _verify_signature(fields, derived, key, api_key, now, replay, max_skew_s)
    return replace(credentials, signed=True, nonce=nonce, nonce_until=until)


def _verify_signature(
    fields: Mapping[str, str],
    derived: Mapping[str, str],
    key: bytes,
    api_key: str,
    now: float,
    replay: ReplayCache,
    max_skew_s: float,
) -> tuple[str, float]:
    """The request's signature: over the required components, fresh, keyed with `key`, its nonce not seen before
    (the nonce and until when it counts are returned)."""
    components, params, signature = _read_signature(fields)
    keyid, nonce, created, expires = (params.get(name) for name in ("keyid", "nonce", "created", "expires"))
    if keyid != api_key or params.get("alg", ALGORITHM) != ALGORITHM:
        raise AuthError(401, "signature keyid is not the API key, or alg is not hmac-sha256")
    if not isinstance(nonce, str) or len(nonce) < MIN_NONCE_CHARS:
        raise AuthError(401, f"signature nonce is missing or shorter than {MIN_NONCE_CHARS} characters")
    if not _is_int(created) or not (expires is None or _is_int(expires)):
        raise AuthError(401, "signature created is missing, or created or expires is not an integer")
    if abs(now - created) > max_skew_s:
        raise AuthError(401, f"signature created {created} is more than {max_skew_s:g} s from now")
    if expires is not None and expires <= now:
        raise AuthError(401, "signature expired")
    if created < int(replay.since):  # its nonce may have been used with the previous process: cannot tell
        raise AuthError(401, "signature was created before the gateway started")
    base = _signature_base(components, params, lambda name: (derived if name[0] == "@" else fields).get(name) or None)
    # headers undecodable as UTF-8 arrive surrogate-escaped: sign the bytes as received, never raise on them
    expected = hmac.new(key, base.encode("utf-8", "surrogateescape"), hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        raise AuthError(401, "signature does not match")
    until = created + max_skew_s if expires is None else min(expires, created + max_skew_s)
    if replay.seen(api_key, nonce, until, now):
        raise AuthError(401, "signature nonce was used before")
    return nonce, until


def sign_upgrade(
    credentials: Credentials,
    client_secret: str | None,
    *,
    path_with_query: str,
    authority: str,
    now: float,
    nonce: str | None = None,
    expires: int | None = None,
) -> dict[str, str]:
    """The AudioHook headers of an upgrade request as Genesys sends them, signed when there is a client secret."""
    headers = {
        "Audiohook-Organization-Id": credentials.organization_id,
        "Audiohook-Correlation-Id": credentials.correlation_id,
        "Audiohook-Session-Id": credentials.session_id,
        "X-API-KEY": credentials.api_key,
    }
    if client_secret is None:
        return headers
    created = int(now)
    params: Params = {
        "keyid": credentials.api_key,
        "nonce": nonce if nonce is not None else base64.b64encode(secrets.token_bytes(18)).decode(),
        "alg": ALGORITHM,
        "created": created,
        "expires": expires if expires is not None else created + 30,
    }
    values = {name.lower(): _canonical(value) for name, value in headers.items()}
    values |= _derived("GET", path_with_query, authority.lower())
    base = _signature_base(list(SIGNED_COMPONENTS), params, values.get)
    signature = hmac.new(_decode_secret(client_secret), base.encode(), hashlib.sha256).digest()
    headers["Signature-Input"] = f"sig1={_inner_list(list(SIGNED_COMPONENTS), params)}"
    headers["Signature"] = f"sig1=:{base64.b64encode(signature).decode()}:"
    return headers


def _read_signature(fields: Mapping[str, str]) -> tuple[list[str], Params, bytes]:
    """The first signature in Signature-Input that Signature carries: covered components, parameters, signature."""
    try:
        inputs = _parse_dictionary(fields.get("signature-input", ""))
        signatures = _parse_dictionary(fields.get("signature", ""))
    except ValueError as error:
        raise AuthError(400, f"Signature-Input or Signature is malformed: {error}") from None
    label = next((label for label in inputs if label in signatures), None)
    if label is None:
        raise AuthError(400, "Signature-Input and Signature share no label")
    (components, params), (signature, _) = inputs[label], signatures[label]
    if not isinstance(components, list) or not isinstance(signature, bytes):
        raise AuthError(400, "Signature-Input member is not an inner list, or Signature member not a byte sequence")
    names = [item for item, extra in components if isinstance(item, str) and not isinstance(item, _Token) and not extra]
    if len(names) != len(components) or len(set(names)) != len(names):
        raise AuthError(400, "covered components must be distinct strings without parameters")
    if missing := [name for name in SIGNED_COMPONENTS if name not in names]:
        raise AuthError(401, f"signature does not cover {', '.join(missing)}")
    return names, params, signature


def _derived(method: str, path_with_query: str, authority: str) -> dict[str, str]:
    path, _, query = path_with_query.partition("?")
    return {
        "@method": method.upper(),
        "@authority": authority,
        "@request-target": path_with_query,
        "@path": path,
        "@query": f"?{query}",
    }


def _signature_base(components: list[str], params: Params, lookup: _Lookup) -> str:
    lines = []
    for name in components:
        value = lookup(name)
        if value is None or name == "@signature-params":
            raise AuthError(401, f"signed component {name!r} is not in the request")
        lines.append(f"{_bare_item(name)}: {value}")
    lines.append(f'"@signature-params": {_inner_list(components, params)}')
    return "\n".join(lines)


def _decode_secret(secret: str) -> bytes:
    try:
        return base64.b64decode(secret + "=" * (-len(secret) % 4))
    except binascii.Error:
        raise AuthError(500, "the configured client secret is not base64") from None


def _canonical(value: str) -> str:
    return re.sub(r"[ \t]*\r\n[ \t]+", " ", value.strip())


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _bare_item(value: BareItem) -> str:
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return f":{base64.b64encode(value).decode()}:"
    if isinstance(value, _Token):
        return str(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _inner_list(items: list[str], params: Params) -> str:
    encoded = "".join(f";{key}" if value is True else f";{key}={_bare_item(value)}" for key, value in params.items())
    return f"({' '.join(_bare_item(item) for item in items)}){encoded}"


_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_TOKEN = re.compile(r"[A-Za-z*][A-Za-z0-9!#$%&'*+\-.^_`|~:/]*")
_INTEGER = re.compile(r"-?[0-9]{1,15}(?![.0-9])")
_BYTES = re.compile(r":([A-Za-z0-9+/]*={0,2}):")
_STRING = re.compile(r'"((?:[ !#-\[\]-~]|\\["\\])*)"')
_BOOLEAN = re.compile(r"\?[01]")
Member = tuple[BareItem | list[tuple[BareItem, Params]], Params]


def _parse_dictionary(text: str) -> dict[str, Member]:
    """A structured-field Dictionary (RFC 8941) without decimals: what Signature-Input and Signature hold."""
    return _Parser(text).dictionary()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text.strip(" ")
        self.at = 0

    def dictionary(self) -> dict[str, Member]:
        members: dict[str, Member] = {}
        while self.at < len(self.text):
            key = self._match(_KEY, "a key")[0]
            value: BareItem | list[tuple[BareItem, Params]] = True
            if self._take("="):
                value = self._inner_list() if self._take("(") else self._bare()
            members[key] = (value, self._params())
            self._skip(" \t")
            if self.at < len(self.text):
                if not self._take(","):
                    raise ValueError(f"expected ',' at {self.at}")
                self._skip(" \t")
                if self.at == len(self.text):
                    raise ValueError("trailing ','")
        return members

    def _inner_list(self) -> list[tuple[BareItem, Params]]:
        items: list[tuple[BareItem, Params]] = []
        while True:
            self._skip(" ")
            if self._take(")"):
                return items
            items.append((self._bare(), self._params()))
            if not self.text.startswith((" ", ")"), self.at):
                raise ValueError(f"expected ' ' or ')' at {self.at}")

    def _params(self) -> Params:
        params: Params = {}
        while self._take(";"):
            self._skip(" ")
            key = self._match(_KEY, "a parameter key")[0]
            params[key] = self._bare() if self._take("=") else True
        return params

    def _bare(self) -> BareItem:
        head = self.text[self.at : self.at + 1]
        if head == '"':
            return re.sub(r'\\(["\\])', r"\1", self._match(_STRING, "a string")[1])
        if head == ":":
            return base64.b64decode(self._match(_BYTES, "a byte sequence")[1])
        if head == "?":
            return self._match(_BOOLEAN, "a boolean")[0] == "?1"
        if head == "-" or head.isdigit():
            return int(self._match(_INTEGER, "an integer (decimals are not supported)")[0])
        return _Token(self._match(_TOKEN, "an item")[0])

    def _match(self, pattern: re.Pattern[str], what: str) -> re.Match[str]:
        match = pattern.match(self.text, self.at)
        if match is None:
            raise ValueError(f"expected {what} at {self.at}")
        self.at = match.end()
        return match

    def _take(self, char: str) -> bool:
        if self.text.startswith(char, self.at):
            self.at += 1
            return True
        return False

    def _skip(self, chars: str) -> None:
        while self.at < len(self.text) and self.text[self.at] in chars:
            self.at += 1

"""The upgrade request Genesys' AudioHook client sends: its headers and its HTTP message signature (RFC 9421 as the
AudioHook specification profiles it), written from the specification, independently of the gateway's verifier."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

from yarl import URL

USER_AGENT = "GenesysCloud-AudioHook-Client"
SIGNATURE_LIFETIME_S = 30  # expires = created + 30, the reference client's default

# HTTP message signature of the upgrade request (RFC 9421 as the AudioHook specification profiles it)

SIGNED_COMPONENTS = (
    "@request-target",
    "@authority",
    "audiohook-organization-id",
    "audiohook-session-id",
    "audiohook-correlation-id",
    "x-api-key",
)


def _sf_string(value: str) -> str:
    """An RFC 8941 structured-field string."""
    if any(not " " <= c <= "~" for c in value):
        raise ValueError(f"{value!r} is not printable ASCII and cannot go in a structured field")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def signature_params(names: list[str], *, keyid: str, nonce: str, created: int, expires: int) -> str:
    covered = " ".join(_sf_string(name) for name in names)
    return (
        f'({covered});keyid={_sf_string(keyid)};nonce={_sf_string(nonce)};alg="hmac-sha256";'
        f"created={created};expires={expires}"
    )


def signature_base(components: Mapping[str, str], params: str) -> str:
    """One `"name": value` line per covered component in order, then the `"@signature-params"` line; no final LF."""
    lines = [f"{_sf_string(name)}: {value.strip()}" for name, value in components.items()]
    return "\n".join([*lines, f'"@signature-params": {params}'])


@dataclass(frozen=True)
class Signature:
    headers: dict[str, str]  # Signature-Input and Signature
    base: str  # what the HMAC was computed over


def sign(
    components: Mapping[str, str],
    key_id: str,
    client_secret: str,
    *,
    created: int | None = None,
    expires: int | None = None,
    nonce: str | None = None,
) -> Signature:
    """HMAC-SHA256, keyed with the base64-decoded client secret, over the signature base; label sig1."""
    created = int(time.time()) if created is None else created
    expires = created + SIGNATURE_LIFETIME_S if expires is None else expires
    nonce = base64.b64encode(secrets.token_bytes(18)).decode() if nonce is None else nonce
    params = signature_params(list(components), keyid=key_id, nonce=nonce, created=created, expires=expires)
    base = signature_base(components, params)
    digest = hmac.new(base64.b64decode(client_secret, validate=True), base.encode(), hashlib.sha256).digest()
    return Signature(
        {"Signature-Input": f"sig1={params}", "Signature": f"sig1=:{base64.b64encode(digest).decode()}:"}, base
    )


def upgrade_headers(
    url: str, organization_id: str, session_id: str, correlation_id: str, api_key: str, client_secret: str | None
) -> tuple[dict[str, str], str | None]:
    """The headers of Genesys' upgrade request and, when a client secret is given, the signature base signed."""
    headers = {
        "User-Agent": USER_AGENT,
        "Audiohook-Organization-Id": organization_id,
        "Audiohook-Correlation-Id": correlation_id,
        "Audiohook-Session-Id": session_id,
        "X-API-KEY": api_key,
    }
    if client_secret is None:
        return headers, None
    target = URL(url)
    values = [target.raw_path_qs, target.host_port_subcomponent or "", organization_id, session_id, correlation_id]
    signature = sign(dict(zip(SIGNED_COMPONENTS, [*values, api_key], strict=True)), api_key, client_secret)
    return {**headers, **signature.headers}, signature.base

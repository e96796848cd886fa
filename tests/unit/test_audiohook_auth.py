"""AudioHook upgrade authentication: API keys and HTTP message signatures, against the specification's example."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import pytest

from mediagw.ingress.audiohook.auth import (
    AuthError,
    Credentials,
    ReplayCache,
    _signature_base,
    sign_upgrade,
    verify_upgrade,
)

# The example of the AudioHook specification (developer.genesys.cloud/devapps/audiohook, "Establishing connection"),
# which purecloudlabs/audiohook-reference-implementation's signature tests verify too.
API_KEY = "SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh"
SECRET = "TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU="
TARGET = "/api/v1/voicebiometrics/ws"
CREATED = 1641013200
SPEC_HEADERS = {
    "Host": "audiohook.example.com",
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Key": "SSdtIGEgV2ViU29ja2V0IQ==",
    "Sec-WebSocket-Version": "13",
    "User-Agent": "GenesysCloud-AudioHook-Client",
    "Audiohook-Organization-Id": "d7934305-0972-4844-938e-9060eef73d05",
    "Audiohook-Correlation-Id": "e160e428-53e2-487c-977d-96989bf5c99d",
    "Audiohook-Session-Id": "30b0e395-84d3-4570-ac13-9a62d8f514c0",
    "X-API-KEY": API_KEY,
    "Signature": "sig1=:NZBwyBHRRyRoeLqy1IzOa9VYBuI8TgMFt2GRDkDuJh4=:",
    "Signature-Input": 'sig1=("@request-target" "@authority" "audiohook-organization-id" "audiohook-session-id" '
    '"audiohook-correlation-id" "x-api-key");keyid="SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh";'
    'nonce="VGhpc0lzQVVuaXF1ZU5vbmNl";alg="hmac-sha256";created=1641013200;expires=3282026430',
}
IDENTITY = Credentials(
    API_KEY,
    "d7934305-0972-4844-938e-9060eef73d05",
    "30b0e395-84d3-4570-ac13-9a62d8f514c0",
    "e160e428-53e2-487c-977d-96989bf5c99d",
)
NOW = CREATED + 2.0
NONCE = "dGhpcy1ub25jZS1pcy1mb3ItdGVzdHM="


def verify(
    headers: Mapping[str, str],
    *,
    now: float = NOW,
    replay: ReplayCache | None = None,
    api_keys: Mapping[str, str | None] | None = None,
    target: str = TARGET,
) -> Credentials:
    keys = {API_KEY: SECRET} if api_keys is None else api_keys
    return verify_upgrade(
        "GET", target, headers, api_keys=keys, now=now, replay=ReplayCache(since=0) if replay is None else replay
    )


def signed(*, now: float = NOW, nonce: str = NONCE, secret: str = SECRET, target: str = TARGET) -> dict[str, str]:
    headers = sign_upgrade(
        IDENTITY, secret, path_with_query=target, authority="AudioHook.example.com", now=now, nonce=nonce
    )
    return {"host": "audiohook.example.com", **headers}


def refused(headers: Mapping[str, str], **options: Any) -> AuthError:
    with pytest.raises(AuthError) as caught:
        verify(headers, **options)
    return caught.value


def test_the_specifications_example_verifies() -> None:
    assert verify(SPEC_HEADERS) == dataclasses.replace(IDENTITY, signed=True)


def test_signing_reproduces_the_specifications_example() -> None:
    headers = sign_upgrade(
        IDENTITY,
        SECRET,
        path_with_query=TARGET,
        authority="audiohook.example.com",
        now=CREATED,
        nonce="VGhpc0lzQVVuaXF1ZU5vbmNl",
        expires=3282026430,
    )
    assert headers["Signature"] == SPEC_HEADERS["Signature"]
    assert headers["Signature-Input"] == SPEC_HEADERS["Signature-Input"]
    assert {name: SPEC_HEADERS[name] for name in headers} == headers


def test_the_reference_implementations_host_vector() -> None:
    """purecloudlabs' signature-builder test: the same request, covering "host" instead of "@authority"."""
    components = ["@request-target", "host", "audiohook-organization-id", "audiohook-session-id"]
    components += ["audiohook-correlation-id", "x-api-key"]
    params: dict[str, str | int | bool | bytes] = {"keyid": API_KEY, "nonce": "VGhpc0lzQVVuaXF1ZU5vbmNl"}
    params |= {"alg": "hmac-sha256", "created": CREATED, "expires": 3282026430}
    values = {name.lower(): value for name, value in SPEC_HEADERS.items()} | {"@request-target": TARGET}
    base = _signature_base(components, params, values.get)
    digest = hmac.new(base64.b64decode(SECRET), base.encode(), hashlib.sha256).digest()
    assert base64.b64encode(digest).decode() == "zupMJUMfd/kMuvKc5zhRyfJPE3jTROuz1S1hn8SCTpE="


def test_a_signed_upgrade_verifies_with_any_header_case_and_a_query() -> None:
    headers = {name.upper(): value for name, value in signed(target=TARGET + "?region=eu").items()}
    credentials = verify(headers, target=TARGET + "?region=eu")
    assert credentials.signed and credentials.session_id == IDENTITY.session_id


def test_a_wrong_secret_or_a_tampered_header_fails_the_signature() -> None:
    assert refused(signed(secret=base64.b64encode(b"another secret").decode())).status == 401
    tampered = signed() | {"Audiohook-Session-Id": "2c2b7a2e-0cf1-4b4f-a0a5-2c4a8c0f5a1b"}
    assert refused(tampered).reason == "signature does not match"
    assert refused(signed(), target="/elsewhere").reason == "signature does not match"


def test_a_replayed_nonce_is_refused() -> None:
    replay = ReplayCache(since=0)
    assert verify(signed(), replay=replay).signed
    assert refused(signed(), replay=replay).reason == "signature nonce was used before"
    assert verify(signed(nonce=NONCE[::-1]), replay=replay).signed
    assert verify(signed(now=NOW + 400), now=NOW + 400, replay=replay).signed  # remembered no longer than it counts


@pytest.mark.parametrize(
    ("created", "now", "reason"),
    [
        (CREATED, CREATED + 301, "signature created 1641013200 is more than 300 s from now"),
        (CREATED + 301, CREATED, "signature created 1641013501 is more than 300 s from now"),
        (CREATED, CREATED + 31, "signature expired"),
    ],
)
def test_an_expired_or_skewed_signature_is_refused(created: int, now: float, reason: str) -> None:
    error = refused(signed(now=created), now=now)
    assert (error.status, error.reason) == (401, reason)


@pytest.mark.parametrize(
    ("missing", "status"),
    [
        ("Audiohook-Organization-Id", 400),
        ("Audiohook-Correlation-Id", 400),
        ("Audiohook-Session-Id", 400),
        ("X-API-KEY", 401),
    ],
)
def test_a_missing_audiohook_header_is_refused(missing: str, status: int) -> None:
    headers = {name: value for name, value in signed().items() if name != missing}
    assert refused(headers).status == status


def test_an_unknown_key_is_refused() -> None:
    error = refused(signed(), api_keys={"c29tZSBvdGhlciBrZXk=": SECRET})
    assert (error.status, error.reason) == (401, "unknown API key")


def test_a_key_without_a_secret_is_accepted_without_a_signature() -> None:
    unsigned = sign_upgrade(IDENTITY, None, path_with_query=TARGET, authority="audiohook.example.com", now=NOW)
    assert "Signature" not in unsigned
    assert verify(unsigned, api_keys={API_KEY: None}) == IDENTITY
    assert refused(unsigned).reason == "the request is not signed"


@pytest.mark.parametrize(
    ("header", "value", "status"),
    [
        ("Signature-Input", 'sig1=("@request-target" "@authority";keyid="x"', 400),
        ("Signature", "sig1=NZBwyBHRRyRoeLqy1IzOa9VYBuI8TgMFt2GRDkDuJh4=", 400),
        ("Signature", "sig2=:NZBwyBHRRyRoeLqy1IzOa9VYBuI8TgMFt2GRDkDuJh4=:", 400),
        ("Signature-Input", SPEC_HEADERS["Signature-Input"].replace('"x-api-key"', ""), 401),
        ("Signature-Input", SPEC_HEADERS["Signature-Input"].replace('keyid="SGVs', 'keyid="XGVs'), 401),
        ("Signature-Input", SPEC_HEADERS["Signature-Input"].replace("VGhpc0lzQVVuaXF1ZU5vbmNl", "c2hvcnQ="), 401),
        ("Signature-Input", SPEC_HEADERS["Signature-Input"].replace("hmac-sha256", "rsa-pss-sha512"), 401),
    ],
)
def test_a_malformed_or_insufficient_signature_is_refused(header: str, value: str, status: int) -> None:
    assert refused(SPEC_HEADERS | {header: value}).status == status


def test_the_replay_cache_forgets_expired_nonces_and_stays_bounded() -> None:
    replay = ReplayCache(max_entries=3, since=0)
    assert not replay.seen("key", "a", until=10.0, now=0.0)
    assert replay.seen("key", "a", until=10.0, now=5.0)
    assert replay.seen("key", "a", until=10.0, now=10.0)  # still counts at its last moment
    assert not replay.seen("key", "a", until=20.0, now=10.5)
    for nonce in "bcdef":
        assert not replay.seen("key", nonce, until=30.0, now=11.0)
    assert replay.size == 3

"""A key configured without a client secret: unsigned upgrades pass, signed ones are verified, never trusted."""

from __future__ import annotations

from mediagw.ingress.audiohook.auth import ReplayCache, sign_upgrade
from tests.unit.test_audiohook_auth import API_KEY, IDENTITY, NOW, SECRET, TARGET, refused, signed, verify

NO_SECRET = {API_KEY: None}


def test_a_signature_on_a_key_without_a_secret_is_checked_and_a_forged_one_refused() -> None:
    error = refused(signed(secret=SECRET), api_keys=NO_SECRET)  # signed with a secret the gateway does not hold
    assert (error.status, error.reason) == (401, "signature does not match")


def test_a_signature_keyed_with_the_empty_secret_verifies_as_genesys_reference_server_does() -> None:
    credentials = verify(signed(secret=""), api_keys=NO_SECRET)
    assert credentials.signed and credentials.api_key == API_KEY


def test_a_signed_request_for_a_key_without_a_secret_still_needs_a_fresh_unused_nonce() -> None:
    replay = ReplayCache(since=0)
    headers = signed(secret="")
    verify(headers, api_keys=NO_SECRET, replay=replay)
    assert refused(headers, api_keys=NO_SECRET, replay=replay).reason == "signature nonce was used before"
    assert refused(signed(secret=""), api_keys=NO_SECRET, now=NOW + 3600).status == 401


def test_a_malformed_signature_on_a_key_without_a_secret_is_refused() -> None:
    headers = signed(secret="") | {"Signature": "sig1=not-a-byte-sequence"}
    assert refused(headers, api_keys=NO_SECRET).status == 400


def test_an_unsigned_request_for_a_key_without_a_secret_is_accepted() -> None:
    unsigned = sign_upgrade(IDENTITY, None, path_with_query=TARGET, authority="audiohook.example.com", now=NOW)
    assert not verify(unsigned, api_keys=NO_SECRET).signed

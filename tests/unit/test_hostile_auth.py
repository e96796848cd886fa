"""Authentication hardening (issue 15.8): failed logins, replays across a restart, tokens bound to an endpoint."""

from __future__ import annotations

import pytest

from mediagw.api.auth import FailedLogins
from mediagw.ingress.audiohook.auth import AuthError, Credentials, ReplayCache, sign_upgrade, verify_upgrade
from mediagw.tokens import DIRECT_API, TWILIO, InvalidToken, TokenSigner

SECRET = "TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU="
IDENTITY = Credentials(
    "key",
    "d7934305-0972-4844-938e-9060eef73d05",
    "30b0e395-84d3-4570-ac13-9a62d8f514c0",
    "e160e428-53e2-487c-977d-96989bf5c99d",
)


def test_a_source_over_the_failure_limit_is_blocked_for_a_while_and_others_are_not() -> None:
    failures = FailedLogins(limit=3, window_s=60, block_s=300)
    for _ in range(2):
        failures.failed("10.0.0.1", now=0)
    assert not failures.blocked("10.0.0.1", now=1)
    failures.failed("10.0.0.1", now=2)
    assert failures.blocked("10.0.0.1", now=3) and failures.blocked("10.0.0.1", now=301)
    assert not failures.blocked("10.0.0.2", now=3)
    assert not failures.blocked("10.0.0.1", now=303)


def test_failures_outside_the_window_do_not_add_up_and_the_table_is_bounded() -> None:
    failures = FailedLogins(limit=2, window_s=10, block_s=300, max_sources=100)
    failures.failed("a", now=0)
    failures.failed("a", now=11)
    assert not failures.blocked("a", now=12)
    for n in range(1_000):
        failures.failed(f"10.0.{n // 256}.{n % 256}", now=20)
    assert len(failures._sources) == 100


def test_a_signature_created_before_the_process_started_is_refused() -> None:
    """The replay cache lives in memory: a signed upgrade captured before a restart must not work after it."""
    headers = sign_upgrade(IDENTITY, SECRET, path_with_query="/a", authority="h", now=1000)

    def check(since: float) -> Credentials:
        return verify_upgrade(
            "GET", "/a", headers, api_keys={"key": SECRET}, now=1001, replay=ReplayCache(since=since), authority="h"
        )

    assert check(since=999.5).signed  # created in the second the process started: fine
    with pytest.raises(AuthError) as error:
        check(since=1001)
    assert error.value.status == 401 and "before the gateway started" in error.value.reason


def test_a_token_opens_only_the_endpoint_it_was_issued_for() -> None:
    signer = TokenSigner("k", ttl_s=300)
    direct, twilio = signer.issue("app", "c"), signer.issue("app", "", audience=TWILIO)
    assert signer.verify(direct, audience=DIRECT_API).external_id == "c"
    assert signer.verify(twilio, audience=TWILIO).app_id == "app"
    assert signer.verify(twilio, audience=TWILIO).app_id == "app"  # reusable within its TTL
    with pytest.raises(InvalidToken):
        signer.verify(twilio, audience=DIRECT_API)
    with pytest.raises(InvalidToken):
        signer.verify(direct, audience=TWILIO)


@pytest.mark.parametrize("token", ["a.é", "é.a", "a.\udcc3", "\x00.\x00"])
def test_a_token_that_is_not_ascii_is_invalid_not_an_error(token: str) -> None:
    with pytest.raises(InvalidToken):
        TokenSigner("k", ttl_s=300).verify(token)

"""An OAuth2 token endpoint that fails (HTTP 500, refused, bad JSON) is a delivery failure like any other:
recorded, counted, retried when retries are on; the target's sender lives on and its backlog returns to 0."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any

import pytest
from aiohttp import web

from mediagw.outputs.webhooks import TargetPublisher, WebhookAuth, WebhookTarget
from mediagw.simulators.webhook_receiver import Receiver
from tests.gateway import free_port


class TokenServer:
    """A token endpoint on loopback answering `failures` times in `mode`, then a good token."""

    def __init__(self, mode: str, failures: int = 1_000_000) -> None:
        self.mode = mode
        self.failures = failures
        self.calls = 0
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> TokenServer:
        app = web.Application()
        app.router.add_post("/token", self._token)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}/token"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _token(self, request: web.Request) -> web.Response:
        self.calls += 1
        if self.calls > self.failures:
            return web.json_response({"access_token": "good-token", "expires_in": 3600})
        if self.mode == "http-500":
            return web.Response(status=500, text="s3cret leaked in an error page")
        if self.mode == "bad-json":
            return web.Response(text="{not json", content_type="application/json")
        return web.json_response({"token_type": "bearer"})  # no access_token


class Recorded:
    def __init__(self) -> None:
        self.failures: list[tuple[str, str, str, int, str]] = []

    async def __call__(self, utterance_id: str, target: str, outcome: str, attempts: int, detail: str) -> None:
        self.failures.append((utterance_id, target, outcome, attempts, detail))


async def drained(publisher: TargetPublisher, within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while publisher.backlog:
        assert time.monotonic() < deadline, f"backlog still {publisher.backlog}"
        await asyncio.sleep(0.01)


async def recorded_within(recorded: Recorded, count: int, within_s: float = 5.0) -> None:
    """Failures are written by tasks of their own: wait for them."""
    deadline = time.monotonic() + within_s
    while len(recorded.failures) < count:
        assert time.monotonic() < deadline, f"{len(recorded.failures)} failures recorded, expected {count}"
        await asyncio.sleep(0.01)


async def token_url(mode: str, servers: list[TokenServer], failures: int = 1_000_000) -> str:
    if mode == "refused":
        return f"http://127.0.0.1:{free_port()}/token"  # nothing listens there
    server = await TokenServer(mode, failures).start()
    servers.append(server)
    return server.url


@pytest.mark.parametrize(
    ("mode", "detail"),
    [
        ("http-500", "HTTP 500"),
        ("refused", "ClientConnectorError"),
        ("bad-json", "unusable answer (JSONDecodeError)"),
        ("no-token", "unusable answer (KeyError)"),
    ],
)
async def test_a_failing_token_endpoint_fails_the_message_and_the_sender_goes_on(
    mode: str, detail: str, caplog: pytest.LogCaptureFixture
) -> None:
    servers: list[TokenServer] = []
    receiver = await Receiver().start()
    auth = WebhookAuth("oauth2", token_url=await token_url(mode, servers), client_id="mg", client_secret="s3cret")
    recorded = Recorded()
    publisher = TargetPublisher(WebhookTarget("crm", f"{receiver.url}/hook", auth), recorded, lambda s: None)
    for index in range(3):
        publisher.publish(f"u{index}", "a", b"{}")
    await drained(publisher)
    await recorded_within(recorded, 3)
    await publisher.close()
    await receiver.stop()
    for server in servers:
        await server.stop()
    gc.collect()
    assert [(f[0], f[2]) for f in recorded.failures] == [("u0", "token"), ("u1", "token"), ("u2", "token")]
    assert all(detail in f[4] and "s3cret" not in f[4] for f in recorded.failures)
    assert publisher.failed == 3 and publisher.sent == 0 and publisher.backlog == 0
    assert receiver.received == []
    assert "never retrieved" not in caplog.text


async def test_token_failures_are_retried_when_retries_are_on() -> None:
    servers: list[TokenServer] = []
    receiver = await Receiver().start()
    auth = WebhookAuth("oauth2", token_url=await token_url("http-500", servers, 2), client_id="mg", client_secret="x")
    target = WebhookTarget("crm", f"{receiver.url}/hook", auth, retry=True, max_attempts=3, backoff_s=0.01)
    recorded = Recorded()
    publisher = TargetPublisher(target, recorded, lambda s: None)
    publisher.publish("u0", "a", b'{"n": 0}')
    await drained(publisher)
    await publisher.close()
    await receiver.stop()
    await servers[0].stop()
    assert servers[0].calls == 3 and receiver.received == [{"n": 0}]
    assert publisher.sent == 1 and recorded.failures == []


async def test_an_unexpected_fault_fails_the_message_and_never_kills_the_sender(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    receiver = await Receiver().start()
    recorded = Recorded()
    publisher = TargetPublisher(WebhookTarget("crm", f"{receiver.url}/hook"), recorded, lambda s: None)
    real_post = publisher._post
    posts = 0

    async def faulty(item: Any) -> tuple[str, str, bool]:
        nonlocal posts
        posts += 1
        if posts == 1:
            raise AssertionError("a bug")
        return await real_post(item)

    monkeypatch.setattr(publisher, "_post", faulty)
    publisher.publish("u0", "a", b'{"n": 0}')
    publisher.publish("u1", "a", b'{"n": 1}')
    await drained(publisher)
    await recorded_within(recorded, 1)
    await publisher.close()
    await receiver.stop()
    assert [f[2] for f in recorded.failures] == ["error"] and "AssertionError" in recorded.failures[0][4]
    assert receiver.received == [{"n": 1}] and publisher.backlog == 0
    assert "delivery failed unexpectedly" in caplog.text

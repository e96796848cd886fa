"""The console's API over real HTTP: its session cookie, CSRF and origin checks, scopes, the live feed, and the
health history read from the /metrics registry."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import aiohttp
import numpy as np
import pytest

from mediagw.api.auth import hash_secret
from mediagw.config import ApiApp
from mediagw.core.frames import Frame
from mediagw.core.registry import change
from tests.conftest import channel_of, clip
from tests.e2e.api import control
from tests.e2e.console import cookie_jar, events, log_in
from tests.e2e.masking import assert_masked, secret_run
from tests.gateway import API_ID, API_SECRET, GatewayThread
from tests.waits import eventually

pytestmark = pytest.mark.e2e
GUID = "00002542391662063190"
START = {"customerId": "cust-1", "agentId": "agent-1"}
APPS = {
    "apps": (
        ApiApp(API_ID, hash_secret(API_SECRET)),
        ApiApp("reader", hash_secret("reader-secret"), ("messages",)),
        ApiApp("streamer", hash_secret("streamer-secret"), ("streaming",)),
    )
}


async def test_login_sets_a_short_lived_http_only_strict_cookie_and_logout_ends_it(gateway: GatewayThread) -> None:
    base = gateway.base_url
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as session:
        async with session.get(f"{base}/console/api/session") as answer:
            assert (await answer.json()) == {"loggedIn": False}
        async with session.get(f"{base}/console/api/health") as answer:
            assert answer.status == 401 and (await answer.json())["error"]["code"] == "401-01"
        async with session.post(f"{base}/console/api/login", json={"appId": API_ID, "secret": "wrong"}) as answer:
            assert answer.status == 401 and (await answer.json())["error"]["code"] == "401-02"
        async with session.post(f"{base}/console/api/login", data="appId=local-dev") as answer:
            assert answer.status == 415  # a cross-site form cannot log a browser in
        async with session.post(f"{base}/console/api/login", json={"appId": API_ID, "secret": API_SECRET}) as answer:
            assert answer.status == 200
            cookie = answer.headers["Set-Cookie"]
            assert (
                answer.headers["X-Frame-Options"] == "DENY"
                and "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
            )
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console/" in cookie
        assert "Max-Age=900" in cookie and "Secure" not in cookie  # Secure under TLS only
        assert API_SECRET not in cookie
        async with session.get(f"{base}/console/api/session") as answer:
            me = await answer.json()
        assert me["appId"] == API_ID and "control" in me["scopes"] and me["csrfToken"]
        async with session.post(f"{base}/console/api/logout", headers={"X-CSRF-Token": me["csrfToken"]}) as answer:
            assert answer.status == 200
    async with aiohttp.ClientSession() as replay:  # the old cookie, replayed after the logout
        name, _, rest = cookie.partition("=")
        headers = {"Cookie": f"{name.split(':')[-1].strip()}={rest.split(';')[0]}"}
        async with replay.get(f"{base}/console/api/session", headers=headers) as answer:
            assert (await answer.json()) == {"loggedIn": False}
        async with replay.get(f"{base}/console/api/events", headers=headers) as answer:
            assert answer.status == 401


async def test_start_and_stop_need_the_csrf_token_and_answer_as_the_control_api(gateway: GatewayThread) -> None:
    gateway.attach("siprec", GUID)
    url = f"{gateway.base_url}/console/api/calls/siprec/{GUID}"
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as session:
        me = await log_in(session, gateway)
        async with session.post(f"{url}/start", json=START) as answer:
            assert answer.status == 403 and (await answer.json())["error"]["code"] == "403-03"
        token = {"X-CSRF-Token": me["csrfToken"]}
        async with session.post(f"{url}/start", json=START, headers={**token, "Origin": "http://evil.test"}) as answer:
            assert answer.status == 403 and (await answer.json())["error"]["code"] == "403-01"
        async with session.post(f"{url}/start", json={"agentId": "a"}, headers=token) as answer:
            assert answer.status == 400 and (await answer.json())["error"]["code"] == "400-201"
        async with session.post(f"{url}/start", json=START, headers=token) as answer:
            started = await answer.json()
        assert started["isOk"] and started["autotranscribeResponse"]["customer"]["status"]["code"] == 1000
        registry = gateway.services.registry
        gateway.run(change(registry, "siprec", GUID, lambda r: replace(r, ending=True)))
        async with session.post(f"{url}/stop", headers=token) as answer:
            assert answer.status == 409 and (await answer.json())["error"]["code"] == "409-203"
        gateway.run(change(registry, "siprec", GUID, lambda r: replace(r, ending=False)))
        async with session.post(f"{url}/stop", headers=token) as answer:
            stopped = await answer.json()
        assert stopped["isOk"] and "summary" in stopped["autotranscribeResponse"]["agent"]


async def test_the_console_shows_only_what_the_apps_scopes_allow(gateway_factory: Any) -> None:
    gateway = gateway_factory(auth=APPS)
    base = gateway.base_url
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as session:
        async with session.post(
            f"{base}/console/api/login", json={"appId": "streamer", "secret": "streamer-secret"}
        ) as answer:
            assert answer.status == 403 and (await answer.json())["error"]["code"] == "403-02"
        me = await log_in(session, gateway, "reader", "reader-secret")
        assert me["scopes"] == ["messages"]
        async with session.get(f"{base}/console/api/health") as answer:
            assert answer.status == 403
        url = f"{base}/console/api/calls/siprec/{GUID}/start"
        async with session.post(url, json=START, headers={"X-CSRF-Token": me["csrfToken"]}) as answer:
            assert answer.status == 403 and (await answer.json())["error"]["code"] == "403-02"
        async for event, data in events(session, gateway):
            assert event == "snapshot" and data["transcripts"] is True
            break


async def test_the_feed_sends_a_snapshot_then_each_change(gateway: GatewayThread) -> None:
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as session:
        await log_in(session, gateway)
        feed = events(session, gateway)
        event, snapshot = await anext(feed)
        assert event == "snapshot" and snapshot["calls"] == []
        media = gateway.attach("siprec", GUID)
        event, row = await anext(feed)
        while row["roles"][0]["state"] != "connected":  # the record's creation, then its media's owner
            event, row = await anext(feed)
        assert event == "call" and row["key"] == f"siprec/{GUID}" and not row["started"]
        async with aiohttp.ClientSession() as api:
            body = {"namespace": "siprec", "guid": GUID, **START}
            assert (await control(api, gateway, "start", body))["status"] == 200
        while not row["started"]:
            event, row = await anext(feed)
        assert {r["state"] for r in row["roles"]} == {"transcribing"} and row["legs"] == 1
        gateway.run(media.detach())
        while row["roles"][0]["state"] != "no media":
            event, row = await anext(feed)
        assert row["started"]  # still started: the call's media may come back


async def test_health_plots_read_the_metrics_registry(gateway_factory: Any) -> None:
    gateway = gateway_factory(console={"sample_interval_s": 0.2})
    gateway.services.metrics.errors.labels("4080").inc(3)
    gateway.services.metrics.open_streams.labels("twilio").set(2)
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as session:
        await log_in(session, gateway)

        async def history() -> Any:
            async with session.get(f"{gateway.base_url}/console/api/health") as answer:
                return await answer.json()

        found = await eventually(history, lambda h: len(h["t"]) >= 3, what="three samples")
        gateway.services.metrics.errors.labels("4080").inc(5)
        found = await eventually(
            history, lambda h: any((v or 0) > 0 for v in _plot(h, "errors")["4080"][2:]), what="the error rate"
        )
    assert _plot(found, "open_streams")["twilio"][-1] == 2
    assert set(_plot(found, "latency")) == {"p50", "p95"}


def _plot(history: dict[str, Any], name: str) -> dict[str, list[float | None]]:
    lines: dict[str, list[float | None]] = next(p["lines"] for p in history["plots"] if p["name"] == name)
    return lines


async def test_console_enabled_false_serves_nothing(gateway_factory: Any) -> None:
    gateway = gateway_factory(console={"enabled": False})
    async with aiohttp.ClientSession() as session, session.get(f"{gateway.base_url}/console/") as answer:
        assert answer.status == 404


async def test_every_nodes_calls_show_on_every_nodes_console(
    gateway_factory: Any, redis_url: str, call_audio: Any
) -> None:
    """Two nodes sharing the registry: a call whose media node A holds shows on node B's console, its roles'
    state and media as node A sees them; B's console starts it (forwarded to A) and shows its transcripts."""
    auth = {"token_secret": "a-cluster-wide-test-secret"}
    a = gateway_factory(cluster={"redis_url": redis_url, "node_id": "a"}, auth=auth)
    b = gateway_factory(cluster={"redis_url": redis_url, "node_id": "b"}, auth=auth)
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as session:
        await log_in(session, b)
        feed = events(session, b)
        assert (await anext(feed))[0] == "snapshot"
        media = a.attach("siprec", GUID)
        event, row = await anext(feed)
        while not (event == "call" and row["roles"][0]["state"] == "connected"):
            event, row = await anext(feed)
        assert row["key"] == f"siprec/{GUID}" and row["roles"][0]["node"].startswith("a#")
        a.call_soon(lambda: media.feed("customer", Frame.of_pcm(0, np.zeros(16000, dtype=np.int16))))
        while event != "media":
            event, row = await anext(feed)
        assert row[f"siprec/{GUID}"]["customer"] == 2000
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as fresh:  # a console opened later: the snapshot
        me = await log_in(fresh, b)
        event, snapshot = await anext(events(fresh, b))
        (call,) = snapshot["calls"]
        assert call["roles"][0]["node"].startswith("a#") and call["roles"][0]["state"] == "connected"
        # node B's console starts the call: forwarded to node A (its advertised URL), cookie and CSRF token along
        assert a.services.cluster is not None and b.services.cluster is not None
        a.services.cluster.node = replace(a.services.cluster.node, control_url=a.base_url)
        owner = a.services.cluster.node.owner
        await eventually(
            lambda: b.run(b.services.cluster.live_node(owner)), lambda n: n and n.control_url == a.base_url
        )
        url = f"{b.base_url}/console/api/calls/siprec/{GUID}/start"
        async with fresh.post(url, json=START, headers={"X-CSRF-Token": me["csrfToken"]}) as answer:
            assert answer.status == 200, await answer.text()
        assert (await eventually(lambda: a.record("siprec", GUID), lambda r: r is not None and r.started)) is not None
        # what the customer says on node A reaches the call's page on node B, masked
        page = events(fresh, b, f"?call=siprec%2F{GUID}")
        assert (await anext(page))[0] == "snapshot"
        customer, script = channel_of(call_audio["travel"], "customer")
        card = script[3]  # "Yes, the number is 4111 1111 1111 1111."
        audio = clip(customer, card["start"] - 500, card["end"] + 1500)

        def say() -> None:
            for offset in range(0, len(audio), 160):
                media.feed("customer", Frame.of_pcm(media.position("customer"), audio[offset : offset + 160]))

        a.call_soon(say)
        event, data = await anext(page)
        while event != "transcript":
            event, data = await anext(page)
        assert data["role"] == "customer" and set(data["stages"]) >= {"end_wait", "decode", "output"}
        assert_masked(data["text"])


async def test_a_call_page_never_gets_the_unredacted_text(gateway: GatewayThread, call_audio: Any) -> None:
    """redacted_and_unredacted: the webhooks and the store get both texts; the console, live or from the store,
    only the redacted one."""
    media = gateway.attach("siprec", GUID)
    customer, script = channel_of(call_audio["travel"], "customer")
    card = script[3]  # "Yes, the number is 4111 1111 1111 1111."
    audio = clip(customer, card["start"] - 500, card["end"] + 1500)
    url = f"{gateway.base_url}/console/api/calls/siprec/{GUID}"
    async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as session:
        me = await log_in(session, gateway)
        page = events(session, gateway, f"?call=siprec%2F{GUID}")
        assert (await anext(page))[0] == "snapshot" and (await anext(page))[0] == "history"
        body = {**START, "autotranscribeParams": {"redactionOutput": "redacted_and_unredacted"}}
        async with session.post(f"{url}/start", json=body, headers={"X-CSRF-Token": me["csrfToken"]}) as answer:
            assert answer.status == 200

        def say() -> None:
            for offset in range(0, len(audio), 160):
                media.feed("customer", Frame.of_pcm(media.position("customer"), audio[offset : offset + 160]))

        gateway.call_soon(say)
        received: list[Any] = []
        async for event, data in page:
            received.append(data)
            if event == "transcript":
                break
        async with session.post(f"{url}/stop", headers={"X-CSRF-Token": me["csrfToken"]}) as answer:
            assert answer.status == 200
        later = events(session, gateway, f"?call=siprec%2F{GUID}")
        await anext(later)
        received.append((await anext(later))[1])  # the stored transcripts, as a page opened now gets them
    stored = received[-1]["transcripts"]
    assert len(stored) == 1 and "unredactedText" not in stored[0]
    assert_masked(received[-2]["text"])
    assert_masked(stored[0]["text"])
    texts = [d["text"] for d in received if "text" in d] + [t["text"] for t in stored]
    assert all(secret_run(text) <= 4 for text in texts)
    assert "unredacted" not in json.dumps(received).lower()

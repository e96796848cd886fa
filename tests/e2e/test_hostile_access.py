"""Who may do what (issue 15.8) and where streaming URLs point (15.10), over real sockets."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mediagw.api.auth import hash_secret
from mediagw.config import ApiApp
from tests.e2e.hostile import HEADERS, bare_gateways, streaming_url
from tests.gateway import API_ID, API_SECRET, GatewayThread

pytestmark = pytest.mark.e2e
WRONG = {"asapp-api-id": API_ID, "asapp-api-secret": "wrong"}
MESSAGES = "/conversation/v1/conversation/messages?externalId=x"


@pytest.fixture
def bare_gateway(tmp_path: Path) -> Iterator[Any]:
    yield from bare_gateways(tmp_path)


async def status_of(session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> tuple[int, str]:
    async with session.request(method, url, **kwargs) as response:
        body = await response.json()
        return response.status, body["error"]["code"] if "error" in body else ""


async def test_failed_logins_from_one_address_get_429_and_other_addresses_go_on(bare_gateway: Any) -> None:
    gateway: GatewayThread = bare_gateway(auth={"max_failed_logins": 5, "failed_login_block_s": 600.0})
    url = gateway.base_url + MESSAGES
    async with aiohttp.ClientSession() as session:
        seen = [await status_of(session, "GET", url, headers=WRONG) for _ in range(8)]
        assert seen == [(401, "401-02")] * 4 + [(401, "401-02")] + [(429, "429-02")] * 3
        assert await status_of(session, "GET", url, headers=HEADERS) == (429, "429-02")  # right secret, same address
    other = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=other) as session, session.get(url, headers=HEADERS) as response:
        assert response.status == 200


async def test_apps_are_limited_to_their_scopes(bare_gateway: Any) -> None:
    apps = (
        ApiApp(API_ID, hash_secret(API_SECRET)),  # no scopes configured: all of them
        ApiApp("ops", hash_secret("ops-secret"), ("control",)),
        ApiApp("reader", hash_secret("reader-secret"), ("messages",)),
    )
    gateway: GatewayThread = bare_gateway(auth={"apps": apps})
    base = gateway.base_url
    ops = {"asapp-api-id": "ops", "asapp-api-secret": "ops-secret"}
    reader = {"asapp-api-id": "reader", "asapp-api-secret": "reader-secret"}
    entity = base + "/configuration/v1/redaction-entities/PASSWORD"
    stop = {"namespace": "twilio", "guid": "CA" + "0" * 32}
    async with aiohttp.ClientSession() as session:
        assert await status_of(session, "GET", base + MESSAGES, headers=ops) == (403, "403-02")
        assert await status_of(session, "PATCH", entity, headers=ops, json={"active": False}) == (403, "403-02")
        assert await status_of(session, "POST", base + "/autotranscribe/v1/streaming-url", headers=ops) == (
            403,
            "403-02",
        )
        stopping = base + "/mg-autotranscribe/v1/stop-streaming"
        assert await status_of(session, "POST", stopping, headers=ops, json=stop) == (400, "400-203")  # allowed
        assert await status_of(session, "POST", stopping, headers=reader, json=stop) == (403, "403-02")
        assert await status_of(session, "PATCH", entity, headers=reader, json={"active": False}) == (403, "403-02")
        async with session.get(base + MESSAGES, headers=reader) as response:
            assert response.status == 200
        async with session.get(entity, headers=HEADERS) as response:
            assert (await response.json())["active"] is True  # nobody out of scope turned it off


@pytest.mark.parametrize("twilio_token", [False, True])
async def test_a_streaming_token_opens_only_its_own_endpoint(bare_gateway: Any, twilio_token: bool) -> None:
    gateway: GatewayThread = bare_gateway()
    async with aiohttp.ClientSession() as session:
        url = await streaming_url(session, gateway.base_url, twilio=twilio_token)
        token = url.split("?", 1)[1]
        other = gateway.config.websocket_api.path if twilio_token else gateway.config.twilio.path
        async with session.ws_connect(f"{gateway.base_url}{other}?{token}") as ws:
            async for _ in ws:
                pass
            assert ws.close_code == 1008


async def test_a_twilio_token_stays_reusable_on_its_endpoint(bare_gateway: Any) -> None:
    gateway: GatewayThread = bare_gateway()
    async with aiohttp.ClientSession() as session:
        url = await streaming_url(session, gateway.base_url, twilio=True)
        for _ in range(2):
            async with session.ws_connect(url) as ws:
                await ws.close()
                assert ws.close_code == 1000


async def test_only_allowed_hosts_make_streaming_urls(bare_gateway: Any) -> None:
    gateway: GatewayThread = bare_gateway(server={"allowed_hosts": ("mg.example.com",)})
    post = gateway.base_url + "/autotranscribe/v1/streaming-url"
    async with aiohttp.ClientSession(headers=HEADERS) as session:
        assert await status_of(session, "POST", post, headers={"Host": "evil.example"}) == (400, "400-01")
        async with session.post(post, headers={"Host": "MG.example.com:8443"}) as response:
            assert (await response.json())["streamingUrl"].startswith("ws://MG.example.com:8443/")


async def test_an_open_host_setting_is_warned_of_at_start_up(
    bare_gateway: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    bare_gateway()
    assert any("server.allowed_hosts are empty" in r.getMessage() for r in caplog.records)
    caplog.clear()
    bare_gateway(server={"public_url": "wss://mg.example.com"})
    assert not any("allowed_hosts" in r.getMessage() for r in caplog.records)

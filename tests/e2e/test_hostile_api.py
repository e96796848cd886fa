"""Bad input over real sockets is a documented 4xx or close code, never a 500 or a traceback (issue 15.7)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mediagw.config import AudioHookKey
from tests.e2e.hostile import HEADERS, bare_gateways, raw_request, streaming_url
from tests.gateway import API_ID, GatewayThread
from tests.waits import eventually

pytestmark = pytest.mark.e2e
DEEP = b"[" * 1000 + b"]" * 1000
BODY_ENDPOINTS = [
    ("POST", "/autotranscribe/v1/streaming-url", "400-01"),
    ("POST", "/mg-autotranscribe/v1/start-streaming", "400-201"),
    ("POST", "/mg-autotranscribe/v1/stop-streaming", "400-201"),
    ("GET", "/conversation/v1/conversation/messages", "400-01"),
    ("PATCH", "/configuration/v1/redaction-entities/PASSWORD", "400-01"),
    ("POST", "/configuration/v1/custom-vocabularies", "400-01"),
]


@pytest.fixture
def bare_gateway(tmp_path: Path) -> Iterator[Any]:
    yield from bare_gateways(tmp_path)


@pytest.mark.parametrize("body", [DEEP, b'{"a":' * 1000 + b"1" + b"}" * 1000, b"\xff\xfe"])
async def test_a_malformed_body_is_400_in_the_reference_shape_on_every_endpoint(bare_gateway: Any, body: bytes) -> None:
    gateway: GatewayThread = bare_gateway()
    async with aiohttp.ClientSession(headers=HEADERS) as session:
        for method, path, code in BODY_ENDPOINTS:
            headers = {"Content-Type": "application/json"}
            async with session.request(method, gateway.base_url + path, data=body, headers=headers) as response:
                assert response.status == 400, (path, await response.text())
                error = (await response.json())["error"]
                assert error["code"] == code and error["requestId"] and error["message"], path


async def test_a_secret_that_is_not_ascii_is_401(bare_gateway: Any) -> None:
    gateway: GatewayThread = bare_gateway()
    head = (
        b"GET /conversation/v1/conversation/messages?externalId=x HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"asapp-api-id: " + API_ID.encode() + b"\r\nasapp-api-secret: \xc3\xa9\xff\r\nConnection: close\r\n"
    )
    answer = await raw_request(gateway.port, head)
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
    assert b'"401-02"' in answer


@pytest.mark.parametrize("twilio", [False, True])
@pytest.mark.parametrize("token", ["a.%C3%A9", "%FF.%FE", "a.b%00"])
async def test_a_token_that_is_not_ascii_closes_the_socket_with_1008(
    bare_gateway: Any, twilio: bool, token: str
) -> None:
    gateway: GatewayThread = bare_gateway()
    path = gateway.config.twilio.path if twilio else gateway.config.websocket_api.path
    async with aiohttp.ClientSession() as session:
        url = f"ws://127.0.0.1:{gateway.port}{path}?token={token}"
        async with session.ws_connect(url) as ws:
            async for _ in ws:
                pass
            assert ws.close_code == 1008


async def test_a_client_that_disconnects_mid_body_is_a_line_not_an_error(
    bare_gateway: Any, caplog: pytest.LogCaptureFixture
) -> None:
    gateway: GatewayThread = bare_gateway()
    caplog.set_level(logging.INFO)
    head = (
        b"POST /mg-autotranscribe/v1/start-streaming HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n"
        + b"".join(f"{k}: {v}\r\n".encode() for k, v in HEADERS.items())
    )
    await raw_request(gateway.port, head, b'{"namespace": "tw', close_early=True)
    await eventually(lambda: [r for r in caplog.records if "client disconnected" in r.getMessage()])
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [r.getMessage() for r in bad]


async def test_streaming_urls_work_and_a_deep_body_did_not_hurt(bare_gateway: Any) -> None:
    gateway: GatewayThread = bare_gateway()
    async with aiohttp.ClientSession() as session:
        assert (await streaming_url(session, gateway.base_url)).startswith("ws://127.0.0.1:")


@pytest.mark.parametrize(
    "header", [b"Signature: sig1=:\xff\xfe:", b"X-API-KEY: k\xc3\xa9\xff", b"Audiohook-Correlation-Id: \xff"]
)
async def test_an_audiohook_upgrade_with_undecodable_headers_is_refused_not_an_error(
    bare_gateway: Any, header: bytes
) -> None:
    secret = "c2VjcmV0LXNoYXJlZC13aXRoLWdlbmVzeXM="
    gateway: GatewayThread = bare_gateway(audiohook={"api_keys": (AudioHookKey("k", secret),)})
    head = (
        b"GET /mg-genesysaudiohook-autotranscribe/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
        b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: SSdtIGEgV2ViU29ja2V0IQ==\r\n"
        b"Audiohook-Organization-Id: d7934305-0972-4844-938e-9060eef73d05\r\n"
        b"Audiohook-Session-Id: 30b0e395-84d3-4570-ac13-9a62d8f514c0\r\n"
        b"Audiohook-Correlation-Id: e160e428-53e2-487c-977d-96989bf5c99d\r\nX-API-KEY: k\r\n"
        b'Signature-Input: sig1=("@request-target" "@authority" "audiohook-organization-id" "audiohook-session-id" '
        b'"audiohook-correlation-id" "x-api-key");keyid="k";nonce="VGhpc0lzQVVuaXF1ZU5vbmNlMTIzNDU2";created=%d;'
        b"expires=4000000000\r\nSignature: sig1=:AAAA:\r\n" % time.time() + header + b"\r\nConnection: close\r\n"
    )
    answer = await raw_request(gateway.port, head)
    assert answer.split(b"\r\n", 1)[0] in (b"HTTP/1.1 400 Bad Request", b"HTTP/1.1 401 Unauthorized"), answer[:300]

"""The listener speaks TLS from a configured certificate and key; streaming URLs then use wss."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mediagw.simulators.direct_ws import streaming_url
from tests.gateway import API_ID, API_SECRET

pytestmark = pytest.mark.e2e


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_https_and_wss_with_the_configured_certificate(gateway_factory: Any, certificate: Any) -> None:
    cert, key = certificate
    gateway = gateway_factory(server={"tls_cert": str(cert), "tls_key": str(key)})
    trusted = ssl.create_default_context(cafile=str(cert))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=trusted)) as session:
        async with session.get(f"{gateway.base_url}/v1/health") as response:
            assert (await response.json())["healthCheck"] == "SUCCESS"
        url = await streaming_url(session, gateway.base_url, API_ID, API_SECRET, "tls-1")
        assert url.startswith("wss://")
        async with session.ws_connect(url) as ws:
            await ws.send_json({"message": "startStream", "sender": {"role": "agent", "externalId": "a"}})
            assert (await ws.receive_json())["message"] == "startResponse"
    async with aiohttp.ClientSession() as untrusting:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await untrusting.get(f"{gateway.base_url}/v1/health")


async def test_siprec_over_tls_answers_with_a_tls_contact(gateway_factory: Any, certificate: Any) -> None:
    from mediagw.ingress.siprec.sip import StreamFramer, parse_message
    from mediagw.simulators.siprec_call import offer_sdp

    cert, key = certificate
    gateway = gateway_factory(siprec={"tls_port": 0, "tls_cert": str(cert), "tls_key": str(key)})
    port = gateway.siprec.tls_port
    sdp = offer_sdp("127.0.0.1", (40000, 40002)).encode()
    invite = (
        f"INVITE sip:srs@127.0.0.1:{port};transport=tls SIP/2.0\r\n"
        f"Via: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK-tls-1\r\nMax-Forwards: 70\r\n"
        f"From: <sip:src@127.0.0.1>;tag=a1\r\nTo: <sip:srs@127.0.0.1>\r\nCall-ID: tls-call-1\r\n"
        f"CSeq: 1 INVITE\r\nContact: <sip:src@127.0.0.1:5999;transport=tls>;+sip.src\r\nRequire: siprec\r\n"
        f"X-UCID: 00002542391662063159\r\nContent-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n"
    ).encode() + sdp
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ssl.create_default_context(cafile=str(cert)))
    writer.write(invite)
    framer = StreamFramer()
    messages: list[Any] = []
    while not messages:
        messages = [parse_message(raw) for raw in framer.feed(await reader.read(65536)) if isinstance(raw, bytes)]
    writer.close()
    answer = messages[0]
    assert answer.status == 200
    assert f":{port};transport=tls>" in answer.headers.get("Contact")
    assert b"a=recvonly" in answer.body


async def test_the_console_cookie_is_secure_under_tls(gateway_factory: Any, certificate: Any) -> None:
    cert, key = certificate
    gateway = gateway_factory(server={"tls_cert": str(cert), "tls_key": str(key)})
    trusted = ssl.create_default_context(cafile=str(cert))
    login = {"appId": API_ID, "secret": API_SECRET}
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=trusted)) as session,
        session.post(f"{gateway.base_url}/console/api/login", json=login) as response,
    ):
        assert response.status == 200
        cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie

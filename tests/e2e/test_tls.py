"""The listener speaks TLS from a configured certificate and key; streaming URLs then use wss."""

from __future__ import annotations

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
            assert (await response.json()) == {"healthCheck": "SUCCESS"}
        url = await streaming_url(session, gateway.base_url, API_ID, API_SECRET, "tls-1")
        assert url.startswith("wss://")
        async with session.ws_connect(url) as ws:
            await ws.send_json({"message": "startStream", "sender": {"role": "agent", "externalId": "a"}})
            assert (await ws.receive_json())["message"] == "startResponse"
    async with aiohttp.ClientSession() as untrusting:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await untrusting.get(f"{gateway.base_url}/v1/health")

"""What the hostile-client tests share: a gateway without ASR, raw HTTP over a socket, streaming URLs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp

from tests.gateway import API_ID, API_SECRET, GatewayThread, make_config

HEADERS = {"asapp-api-id": API_ID, "asapp-api-secret": API_SECRET}


def bare_gateways(tmp_path: Path) -> Iterator[Any]:
    """For a fixture: start gateways without ASR (no model to load: these tests are about the API's edges)."""
    started: list[GatewayThread] = []

    def start(**sections: dict[str, Any]) -> GatewayThread:
        sections = {"asr": {"enabled": False}, **sections}
        gateway = GatewayThread(make_config(tmp_path / f"data{len(started)}", **sections), None).start()
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()


async def raw_request(port: int, head: bytes, body: bytes = b"", *, close_early: bool = False) -> bytes:
    """Bytes written as they are (headers aiohttp's client would refuse); the answer, or b"" if we hang up."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head + b"\r\n" + body)
    await writer.drain()
    if close_early:
        writer.close()
        await writer.wait_closed()
        return b""
    answer = await reader.read(65536)
    writer.close()
    return answer


async def streaming_url(session: aiohttp.ClientSession, base_url: str, twilio: bool = False) -> str:
    if twilio:
        request = session.get(f"{base_url}/mg-autotranscribe/v1/twilio-media-stream-url", headers=HEADERS)
    else:
        request = session.post(f"{base_url}/autotranscribe/v1/streaming-url", headers=HEADERS, json={})
    async with request as response:
        assert response.status == 200, await response.text()
        return str((await response.json())["streamingUrl"])

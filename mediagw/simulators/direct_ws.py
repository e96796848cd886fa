"""A direct WebSocket API client: gets a streaming URL, sends startStream and L16 audio at real-time pace."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from asr.frame import SAMPLE_RATE, Pcm


@dataclass
class StreamResult:
    start_response: dict[str, Any] | None = None
    transcripts: list[dict[str, Any]] = field(default_factory=list)
    received_at: list[float] = field(default_factory=list)  # loop time each transcript arrived
    other: list[dict[str, Any]] = field(default_factory=list)  # vocabularyResponse and the like
    final_response: dict[str, Any] | None = None
    close_code: int | None = None
    first_audio_at: float = 0.0  # loop time the first chunk was sent

    def sent_at(self, media_ms: int) -> float:
        """Loop time at which audio at `media_ms` was sent (pacing keeps to this schedule)."""
        return self.first_audio_at + media_ms / 1000


async def fetch_streaming_url(
    session: aiohttp.ClientSession, method: str, url: str, api_id: str, api_secret: str, body: Any = None
) -> str:
    """The `streamingUrl` an authenticated API call answers with (direct WebSocket or Twilio)."""
    headers = {"asapp-api-id": api_id, "asapp-api-secret": api_secret}
    async with session.request(method, url, json=body, headers=headers) as response:
        answer = await response.json()
        if response.status != 200:
            raise RuntimeError(f"{url} failed: {response.status} {answer}")
        return str(answer["streamingUrl"])


async def streaming_url(
    session: aiohttp.ClientSession, base_url: str, api_id: str, api_secret: str, external_id: str = ""
) -> str:
    url = f"{base_url}/autotranscribe/v1/streaming-url"
    return await fetch_streaming_url(session, "POST", url, api_id, api_secret, {"externalId": external_id})


async def stream_audio(
    session: aiohttp.ClientSession,
    url: str,
    samples: Pcm,
    *,
    role: str = "customer",
    external_id: str = "sim-participant",
    start_fields: dict[str, Any] | None = None,
    chunk_ms: int = 20,
    realtime: bool = True,
    before_finish: list[dict[str, Any]] | None = None,
) -> StreamResult:
    """Stream `samples` (8 kHz int16) and collect every server message until the socket closes."""
    result = StreamResult()
    start = {"message": "startStream", "sender": {"role": role, "externalId": external_id}, **(start_fields or {})}
    async with session.ws_connect(url, max_msg_size=0) as ws:
        await ws.send_str(json.dumps(start))
        reader = asyncio.create_task(_read(ws, result))
        try:
            await _send_paced(ws, samples, chunk_ms, realtime, result)
            for message in [*(before_finish or []), {"message": "finishStream"}]:
                await ws.send_str(json.dumps(message))
        except ConnectionResetError:
            pass  # the server ended the stream first; its finalResponse says why
        await reader
        result.close_code = ws.close_code
    return result


async def _send_paced(
    ws: aiohttp.ClientWebSocketResponse, samples: Pcm, chunk_ms: int, realtime: bool, result: StreamResult
) -> None:
    loop = asyncio.get_running_loop()
    step = SAMPLE_RATE * chunk_ms // 1000
    result.first_audio_at = loop.time()
    for index, offset in enumerate(range(0, len(samples), step)):
        if realtime:
            delay = result.first_audio_at + index * chunk_ms / 1000 - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        if ws.closed:
            return
        await ws.send_bytes(samples[offset : offset + step].astype("<i2").tobytes())


async def _read(ws: aiohttp.ClientWebSocketResponse, result: StreamResult) -> None:
    loop = asyncio.get_running_loop()
    async for message in ws:
        if message.type is not aiohttp.WSMsgType.TEXT:
            continue
        body = json.loads(message.data)
        kind = body.get("message")
        if kind == "transcript":
            result.transcripts.append(body)
            result.received_at.append(loop.time())
        elif kind == "startResponse":
            result.start_response = body
        elif kind == "finalResponse":
            result.final_response = body
        else:
            result.other.append(body)

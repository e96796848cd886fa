"""Plays call audio to a Twilio Media Streams endpoint as Twilio does: one socket with both tracks, or one per track."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import numpy as np

from asr.frame import Pcm
from mediagw.audio.g711 import pcm_to_ulaw
from mediagw.simulators.direct_ws import fetch_streaming_url

OnStarted = Callable[[], Awaitable[None]]


def call_sid() -> str:
    return "CA" + secrets.token_hex(16)


async def media_stream_url(session: aiohttp.ClientSession, base_url: str, api_id: str, api_secret: str) -> str:
    url = f"{base_url}/mg-autotranscribe/v1/twilio-media-stream-url"
    return await fetch_streaming_url(session, "GET", url, api_id, api_secret)


async def play_call(
    session: aiohttp.ClientSession,
    url: str,
    tracks: dict[str, Pcm],
    sid: str,
    *,
    separate_sockets: bool = False,
    realtime: bool = True,
    chunk_ms: int = 20,
    on_started: OnStarted | None = None,
    started_after_ms: int = 0,
    custom_parameters: dict[str, str] | None = None,
    send_stop: bool = True,
    settle_s: float = 0.0,
    speed: float = 1.0,
) -> None:
    """`tracks` maps inbound/outbound to 8 kHz PCM; `on_started` runs once `started_after_ms` of audio is out.
    `realtime`: paced at `speed` times real time; otherwise as fast as the socket takes it."""
    groups = [[t] for t in tracks] if separate_sockets else [list(tracks)]
    gate = _Gate(on_started, started_after_ms, len(groups), settle_s)
    await asyncio.gather(
        *(
            _one_socket(
                session,
                url,
                {t: tracks[t] for t in g},
                sid,
                realtime,
                speed,
                chunk_ms,
                gate,
                custom_parameters or {},
                send_stop,
            )
            for g in groups
        )
    )


class _Gate:
    """Runs on_started once, when every socket has sent `after_ms` of audio; the others wait for it."""

    def __init__(self, on_started: OnStarted | None, after_ms: int, sockets: int, settle_s: float) -> None:
        self._on_started, self.after_ms, self._settle_s = on_started, after_ms, settle_s
        self._waiting, self._done = sockets, asyncio.Event()
        if on_started is None:
            self._done.set()

    async def reached(self) -> None:
        self._waiting -= 1
        if self._waiting == 0 and not self._done.is_set():
            assert self._on_started is not None
            await asyncio.sleep(self._settle_s)  # faster than real time: let the gateway take in what was sent
            await self._on_started()
            self._done.set()
        await self._done.wait()


async def _one_socket(
    session: aiohttp.ClientSession,
    url: str,
    tracks: dict[str, Pcm],
    sid: str,
    realtime: bool,
    speed: float,
    chunk_ms: int,
    gate: _Gate,
    parameters: dict[str, str],
    send_stop: bool,
) -> None:
    stream_sid = "MZ" + secrets.token_hex(16)
    sequence = 0

    def message(event: str, **body: Any) -> str:
        nonlocal sequence
        sequence += 1
        return json.dumps({"event": event, "sequenceNumber": str(sequence), "streamSid": stream_sid, **body})

    async with session.ws_connect(url) as ws:
        await ws.send_str(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        await ws.send_str(
            message(
                "start",
                start={
                    "accountSid": "AC" + "0" * 32,
                    "streamSid": stream_sid,
                    "callSid": sid,
                    "tracks": list(tracks),
                    "customParameters": parameters,
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                },
            )
        )
        step = 8 * chunk_ms
        length = max(len(samples) for samples in tracks.values())
        loop = asyncio.get_running_loop()
        origin = loop.time()
        gated = gate.after_ms == 0
        if gated:
            await gate.reached()
        for index, offset in enumerate(range(0, length, step)):
            if not gated and offset >= gate.after_ms * 8:
                gated = True
                await gate.reached()
                origin = loop.time() - offset / 8000 / speed
            if realtime:
                delay = origin + offset / 8000 / speed - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            for track, samples in tracks.items():
                if offset < len(samples):
                    payload = base64.b64encode(pcm_to_ulaw(samples[offset : offset + step])).decode()
                    media = {"track": track, "chunk": str(index + 1), "timestamp": str(offset // 8), "payload": payload}
                    await ws.send_str(message("media", media=media))
            if not realtime and index % 50 == 0:
                await asyncio.sleep(0)
        if not gated:
            await gate.reached()
        if send_stop:
            await ws.send_str(message("stop", stop={"accountSid": "AC" + "0" * 32, "callSid": sid}))
            async for _ in ws:
                pass


def stereo_tracks(channels: list[Pcm], roles: list[str]) -> dict[str, Pcm]:
    """inbound = customer channel, outbound = agent channel (Twilio's default view of a contact-center call)."""
    by_role = dict(zip(roles, channels, strict=True))
    return {"inbound": np.ascontiguousarray(by_role["customer"]), "outbound": np.ascontiguousarray(by_role["agent"])}

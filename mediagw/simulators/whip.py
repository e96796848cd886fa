"""A WHIP client on aiortc, as a media server or agent desktop publishes: one or two audio tracks played from
8 kHz PCM (each with its own codec), the offer POSTed with a bearer token, DELETE at the end."""

from __future__ import annotations

import asyncio
import fractions
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import av
import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from yarl import URL

from asr.frame import SAMPLE_RATE, Pcm
from mediagw.ingress.webrtc.ice import configuration, pinned_addresses

FRAME = SAMPLE_RATE // 50  # 20 ms


class PcmTrack(MediaStreamTrack):
    """Plays `samples` (then `tail_ms` of silence) in 20 ms frames at `speed` times real time, then ends."""

    kind = "audio"

    def __init__(self, samples: Pcm, speed: float = 1.0, tail_ms: int = 1000) -> None:
        super().__init__()
        tail = np.zeros(tail_ms * SAMPLE_RATE // 1000, dtype=np.int16)
        self._samples = np.concatenate([samples.astype(np.int16), tail])
        self._speed = speed
        self._sent = 0
        self._began: float | None = None
        self.done = asyncio.Event()

    @property
    def began(self) -> float | None:
        """Loop time of the first frame's schedule (the sender asked for it once connected)."""
        return self._began

    async def recv(self) -> av.AudioFrame:
        loop = asyncio.get_running_loop()
        if self._began is None:
            self._began = loop.time()
        if self._sent >= len(self._samples):
            self.done.set()
            self.stop()
            raise MediaStreamError
        due = self._began + self._sent / SAMPLE_RATE / self._speed
        if due > loop.time():
            await asyncio.sleep(due - loop.time())
        chunk = self._samples[self._sent : self._sent + FRAME]
        if len(chunk) < FRAME:
            chunk = np.pad(chunk, (0, FRAME - len(chunk)))
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = SAMPLE_RATE, self._sent, fractions.Fraction(1, SAMPLE_RATE)
        self._sent += FRAME
        return frame


@dataclass
class Published:
    pc: RTCPeerConnection
    location: str  # the session resource's URL
    token: str
    answer: str


async def whip_url(
    session: aiohttp.ClientSession, base_url: str, api_id: str, api_secret: str, guid: str = ""
) -> dict[str, Any]:
    """POST /mg-webrtc/v1/whip-url with app credentials: {"whipUrl", "token", "guid", "expiresIn"}."""
    headers = {"asapp-api-id": api_id, "asapp-api-secret": api_secret}
    async with session.post(f"{base_url}/mg-webrtc/v1/whip-url", json={"guid": guid}, headers=headers) as response:
        response.raise_for_status()
        return dict(await response.json())


def peer(
    tracks: Sequence[MediaStreamTrack], codecs: Sequence[str] = (), data_channel: bool = False
) -> RTCPeerConnection:
    """A client peer connection sending `tracks`, the i-th with codec `codecs[i]` (opus, PCMU, PCMA) if given."""
    pc = RTCPeerConnection(configuration(()))
    available = RTCRtpSender.getCapabilities("audio").codecs
    for index, track in enumerate(tracks):
        transceiver = pc.addTransceiver(track, direction="sendonly")
        if index < len(codecs):
            transceiver.setCodecPreferences(
                [c for c in available if c.mimeType.lower() == f"audio/{codecs[index]}".lower()]
            )
    if data_channel:
        pc.createDataChannel("transcripts")
    return pc


async def publish(
    session: aiohttp.ClientSession,
    url: str,
    token: str,
    pc: RTCPeerConnection,
    addresses: Sequence[str] = ("127.0.0.1",),
) -> Published:
    """Offer (every candidate gathered on `addresses`), POST it, apply the answer. aiohttp's error on a refusal."""
    with pinned_addresses(addresses):
        await pc.setLocalDescription(await pc.createOffer())
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"}
    async with session.post(url, data=pc.localDescription.sdp, headers=headers) as response:
        if response.status != 201:
            raise aiohttp.ClientResponseError(
                response.request_info, (), status=response.status, message=await response.text()
            )
        answer = await response.text()
        location = str(response.url.join(URL(response.headers["Location"])))
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    return Published(pc, location, token, answer)


async def unpublish(session: aiohttp.ClientSession, published: Published) -> int:
    """DELETE the session resource, then close the peer connection; the DELETE's status."""
    headers = {"Authorization": f"Bearer {published.token}"}
    async with session.delete(published.location, headers=headers) as response:
        status = response.status
    await published.pc.close()
    return status

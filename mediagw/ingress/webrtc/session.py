"""One WHIP session: an aiortc peer connection whose audio tracks feed a call's media, bounded in time (ICE and
DTLS must complete, media must keep coming) and torn down whole (tracks, transports, the peer connection)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable

from aiortc import MediaStreamTrack, RTCDataChannel, RTCIceCandidate, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from mediagw.config import WebrtcConfig
from mediagw.core.frames import Frame
from mediagw.core.node import MediaHandle
from mediagw.core.watch import Transcribed
from mediagw.ingress.idle import IdleWatch
from mediagw.ingress.webrtc.audio import TrackAudio
from mediagw.ingress.webrtc.ice import configuration, pinned_addresses
from mediagw.ingress.webrtc.offer import Offer, SdpRefused
from mediagw.ingress.webrtc.params import DEFAULT_PARAMS, NAMESPACE, WebrtcParams

log = logging.getLogger(__name__)
Ended = Callable[["WhipSession", str], None]


class WhipSession:
    """Made by the WHIP route (`negotiate`, then `run` once the call's media is attached); `close` ends it."""

    def __init__(self, resource_id: str, guid: str, token: str, offer: Offer, config: WebrtcConfig) -> None:
        self.resource_id = resource_id
        self.guid = guid
        self.token = token  # the bearer token that created it: the resource answers only to it
        self.offer = offer
        self._config = config
        self._pc = RTCPeerConnection(configuration(config.stun_servers))
        self._channel: RTCDataChannel | None = None
        self._media: MediaHandle | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._connected = asyncio.Event()
        self._closed = asyncio.Event()
        self._closing: asyncio.Task[None] | None = None
        self._on_ended: Ended | None = None
        self._log: dict[str, object] = {"ingress": NAMESPACE, "call_id": guid}
        self.idle = IdleWatch(config.idle_timeout_s)
        self._pc.on("datachannel", self._datachannel)
        self._pc.on("connectionstatechange", self._state_changed)

    async def negotiate(self, sdp: str) -> str:
        """The answer to the offer, with every candidate gathered (aiortc does not trickle its own); SdpRefused
        when aiortc cannot take the offer."""
        try:
            await self._pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        except Exception as error:  # aiortc's parser and checks raise ValueError and its own errors alike
            raise SdpRefused(400, f"SDP offer not accepted: {str(error)[:200] or type(error).__name__}") from None
        for transceiver in self._pc.getTransceivers():
            transceiver.direction = "recvonly" if transceiver.kind == "audio" else "inactive"  # video: not taken
        answer = await self._pc.createAnswer()
        with pinned_addresses(self._config.ice_addresses):
            await self._pc.setLocalDescription(answer)
        return self._pc.localDescription.sdp

    async def add_candidate(self, candidate: RTCIceCandidate | None) -> None:
        """A trickled candidate of the client's (None: end of candidates)."""
        await self._pc.addIceCandidate(candidate)

    @property
    def track_count(self) -> int:
        return len(self.offer.audio)

    def run(self, media: MediaHandle, on_ended: Ended) -> None:
        """Feed the call's media from the tracks; end after the connect deadline or the idle timeout."""
        self._media, self._on_ended = media, on_ended
        audio = [t for t in self._pc.getTransceivers() if t.kind == "audio"]
        for index, transceiver in enumerate(audio):
            track = transceiver.receiver.track
            if track is not None:
                self._tasks.append(asyncio.create_task(self._read(index, track, media), name=f"whip-read-{index}"))
        self._tasks.append(asyncio.create_task(self._deadlines(), name="whip-deadlines"))
        log.info("whip session %s: %d audio track(s)", self.resource_id[:8], len(audio), extra=self._log)

    async def _deadlines(self) -> None:
        timeout = self._config.connect_timeout_s
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            self.close(f"ICE and DTLS did not complete within {timeout:g} s")
            return
        await self.idle.expired()
        self.close(f"no audio for {self.idle.idle_s:g} s")

    def _params(self) -> WebrtcParams:
        params = self._media.params if self._media is not None else None
        return params if isinstance(params, WebrtcParams) else DEFAULT_PARAMS  # the start's trackRoles, if any

    async def _read(self, index: int, track: MediaStreamTrack, media: MediaHandle) -> None:
        try:
            await self._feed(index, track, media)
        except Exception:  # a bug ends this session only, and tells its client nothing of it
            log.exception("whip session %s: track %d failed", self.resource_id[:8], index, extra=self._log)
            self.close("internal error")

    async def _feed(self, index: int, track: MediaStreamTrack, media: MediaHandle) -> None:
        audio = TrackAudio()
        loop = asyncio.get_running_loop()
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self.idle.touch(loop.time())
            role = self._params().role_of(index)
            if role is None:
                continue
            try:
                converted = audio.convert(frame)  # type: ignore[arg-type]  # an audio track's frames are audio
            except ValueError as error:  # the codec changed its format mid-stream: this track ends
                log.warning("whip track %d: %s", index, error, extra=self._log)
                return
            for each in converted:
                media.feed(role, Frame.of_pcm(each.position, each.samples))

    def _datachannel(self, channel: RTCDataChannel) -> None:
        self._channel = channel

    def transcribed(self, transcript: Transcribed) -> None:
        """A transcript of the call went out (stored, to the webhooks): back to the client on its data channel,
        as the outputs have it (redacted as the stream's settings say)."""
        channel = self._channel
        if channel is None or channel.readyState != "open" or not self._config.data_channel:
            return
        body = {
            "role": transcript.role,
            "start": transcript.start_ms,
            "end": transcript.end_ms,
            "text": transcript.text,
        }
        with contextlib.suppress(Exception):  # a channel closing under us: the transcript is stored all the same
            channel.send(json.dumps(body))

    def _state_changed(self) -> None:
        state = self._pc.connectionState
        if state == "connected":
            self._connected.set()
            log.info("whip session %s connected", self.resource_id[:8], extra=self._log)
        elif state in ("failed", "closed") and self._closing is None:
            self.close(f"peer connection {state}")

    def close(self, reason: str) -> None:
        """End the session (idempotent); `wait_closed` returns once its audio is flushed and aiortc's objects freed."""
        if self._closing is None:
            self._closing = asyncio.create_task(self._close(reason), name="whip-close")

    async def _close(self, reason: str) -> None:
        log.info("whip session %s ended: %s", self.resource_id[:8], reason, extra=self._log)
        if self._on_ended is not None:
            self._on_ended(self, reason)
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        try:
            await self._pc.close()
        except Exception:
            log.exception("whip session %s: closing the peer connection failed", self.resource_id[:8], extra=self._log)
        finally:
            self._channel = None
            await self._detach()

    async def _detach(self) -> None:
        media = self._media
        try:
            if media is not None:
                fed = self._params().roles(self.track_count)  # the start's trackRoles may differ from attach's
                await media.detach(tuple(dict.fromkeys((*media.roles, *fed))))
        finally:
            self._media = None
            self._closed.set()

    def shutdown(self) -> None:
        """Gateway shutdown (`Services.sessions`): WHIP has no message for it; the connection closes."""
        self.close("gateway shutting down")

    async def wait_closed(self) -> None:
        await self._closed.wait()

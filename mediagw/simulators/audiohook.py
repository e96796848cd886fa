"""Plays call audio to an AudioHook server as Genesys Cloud's AudioHook Monitor does (protocol version 2).

Written from Genesys' AudioHook protocol specification and its reference client
(purecloudlabs/audiohook-reference-implementation), independently of the gateway's AudioHook ingress, so that
each checks the other. `python -m mediagw.simulators.audiohook --help` plays a file from the command line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np

from asr.frame import SAMPLE_RATE, Pcm
from mediagw.audio.g711 import pcm_to_ulaw
from mediagw.simulators.audiohook_client import ClientProtocol, duration
from mediagw.simulators.audiohook_signing import upgrade_headers

__all__ = ["EXAMPLE_ORGANIZATION_ID", "connection_probe", "duration", "play_session", "upgrade_headers"]

Json = dict[str, Any]
OnOpened = Callable[[], Awaitable[None]]
OnMessage = Callable[[Json], None]

PROBE_ID = "00000000-0000-0000-0000-000000000000"  # conversation and participant id of a connection probe
EXAMPLE_ORGANIZATION_ID = "d7934305-0972-4844-938e-9060eef73d05"  # the specification's example organization
OPEN_TIMEOUT_S = 5.0  # the reference client's open and close transaction timeouts
CLOSE_TIMEOUT_S = 10.0
FAST_SPEED = 10.0  # realtime=False plays this many times faster than real time
CHANNEL_COLUMN = {"external": 0, "internal": 1}  # column of the (n, 2) audio: customer, agent


def media_offers(stereo: bool) -> list[Json]:
    """The media Genesys offers: stereo external+internal first, then each channel alone."""
    layouts = [["external", "internal"], ["external"], ["internal"]] if stereo else [["external"], ["internal"]]
    return [{"type": "audio", "format": "PCMU", "channels": c, "rate": SAMPLE_RATE} for c in layouts]


# The session


@dataclass
class SessionResult:
    session_id: str
    request_headers: dict[str, str] = field(default_factory=dict)  # what the upgrade request added
    signature_base: str | None = None
    opened: Json | None = None
    pongs: int = 0
    closed: Json | None = None
    disconnect: Json | None = None
    messages: list[Json] = field(default_factory=list)  # every server message, in order
    sent: list[Json] = field(default_factory=list)  # every client text message, in order
    frames_sent: int = 0
    first_frame_bytes: int = 0
    close_code: int | None = None  # WebSocket close code
    rtts: list[float] = field(default_factory=list)  # each ping's round trip to its pong, in s
    problems: list[str] = field(default_factory=list)  # what the server did against the protocol

    @property
    def disconnect_reason(self) -> str | None:
        return None if self.disconnect is None else str(self.disconnect["parameters"].get("reason"))

    def of_type(self, kind: str) -> list[Json]:
        return [m for m in self.messages if m["type"] == kind]


@dataclass(frozen=True)
class _Plan:
    open_parameters: Json
    realtime: bool
    frame_ms: int
    pause: tuple[int, int] | None  # client pause from, to (stream samples)
    ping_every_s: float
    on_opened: OnOpened | None
    on_message: OnMessage | None
    close: bool
    updates: tuple[tuple[int, str], ...] = ()  # (stream sample, language): an `update` sent when the audio gets there
    discard: tuple[int, int] | None = None  # audio dropped from, to (stream samples), then reported as `discarded`


async def _first(within_s: float, *events: asyncio.Event) -> bool:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    done, pending = await asyncio.wait(waiters, timeout=within_s, return_when=asyncio.FIRST_COMPLETED)
    for waiter in pending:
        waiter.cancel()
    return bool(done)


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class _Connection:
    """One session's socket: a receiving task, a pinging task and the audio, each message sent under one lock."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, result: SessionResult, plan: _Plan) -> None:
        self.ws, self.result, self.plan = ws, result, plan
        self.protocol = ClientProtocol(result.session_id)
        self.protocol.problems = result.problems
        self.lock = asyncio.Lock()
        self.opened, self.closed, self.stop, self.gone = (asyncio.Event() for _ in range(4))
        self.media: list[str] = []  # channels the server selected
        self.discard_to = 0  # opened.discardTo, in samples
        self.server_paused = self.client_paused = False
        self.paused_since: int | None = None  # stream position the current pause began at
        self.pending_ping: tuple[int, float] | None = None  # seq, loop time
        self.rtt: float | None = None

    async def send(self, kind: str, parameters: Json | None = None) -> None:
        async with self.lock:
            message = self.protocol.message(kind, parameters or {})
            if kind == "ping":
                self.pending_ping = (message["seq"], asyncio.get_running_loop().time())
            self.result.sent.append(message)
            await self.ws.send_str(json.dumps(message))

    async def receive(self) -> None:
        try:
            async for frame in self.ws:
                if frame.type == aiohttp.WSMsgType.TEXT:
                    await self._on_text(frame.data)
                elif frame.type == aiohttp.WSMsgType.BINARY:
                    self.result.problems.append(f"binary message from the server ({len(frame.data)} bytes)")
        except (aiohttp.ClientError, ConnectionError) as error:  # an answer to a socket that went meanwhile
            self.result.problems.append(f"socket failed: {error!r}")
        finally:
            self.result.close_code = self.ws.close_code
            self.gone.set()

    async def _on_text(self, text: str) -> None:
        message = self.protocol.receive(text)
        if message is None:
            return
        self.result.messages.append(message)
        if self.plan.on_message is not None:
            self.plan.on_message(message)
        kind, parameters = message["type"], message["parameters"]
        if kind == "opened" and self.result.opened is None:
            self.result.opened = message
            self._take_opened(parameters)
            self.opened.set()
        elif kind == "pong":
            self._take_pong(message)
        elif kind == "pause":
            self.server_paused = True
            if self.paused_since is not None:  # already paused: say so again
                await self.send("paused")
        elif kind == "resume":
            self.server_paused = False
            if self.client_paused:  # our own pause goes on
                await self.send("paused")
        elif kind == "disconnect":
            self.result.disconnect = message
            self.stop.set()
        elif kind == "closed":
            self.result.closed = message
            self.closed.set()
        # event, updated, reconnect: recorded only, as AudioHook Monitor ignores what the server sends

    def _take_opened(self, parameters: Json) -> None:
        media = parameters.get("media")
        if not isinstance(media, list) or len(media) > 1:
            self.result.problems.append(f"opened: media must be a list of at most one offer, got {media!r}")
            return
        offers = self.plan.open_parameters["media"]
        if media and media[0] not in offers:
            self.result.problems.append(f"opened: selected media {media[0]!r} was not offered")
        elif media:
            self.media = list(media[0]["channels"])
        self.server_paused = parameters.get("startPaused") is True
        discard_to = parameters.get("discardTo")
        if discard_to is not None:
            seconds = re.fullmatch(r"PT(\d+(?:\.\d*)?|\.\d+)S", discard_to) if isinstance(discard_to, str) else None
            if seconds is None:
                self.result.problems.append(f"opened: discardTo {discard_to!r} is not a duration")
                return
            step = SAMPLE_RATE * self.plan.frame_ms // 1000
            self.discard_to = int(float(seconds[1]) * SAMPLE_RATE) // step * step  # whole frames, as Genesys

    def _take_pong(self, message: Json) -> None:
        self.result.pongs += 1
        if self.pending_ping is None:
            self.result.problems.append(f"pong seq {message.get('seq')} without an outstanding ping")
        elif message.get("clientseq") != self.pending_ping[0]:
            self.result.problems.append(
                f"pong clientseq {message.get('clientseq')} for ping seq {self.pending_ping[0]}"
            )
        else:
            self.rtt = asyncio.get_running_loop().time() - self.pending_ping[1]
            self.result.rtts.append(self.rtt)
            self.pending_ping = None

    async def ping(self) -> None:
        every = self.plan.ping_every_s
        await asyncio.sleep(min(1.0, every))  # the reference client's first ping comes a second after opened
        while True:
            if self.pending_ping is not None:
                self.result.problems.append(f"no pong to ping seq {self.pending_ping[0]} within {every} s")
            else:
                await self.send("ping", {} if self.rtt is None else {"rtt": duration(self.rtt)})
            await asyncio.sleep(every)

    async def stream(self, audio: Pcm) -> None:
        step = SAMPLE_RATE * self.plan.frame_ms // 1000
        speed = 1.0 if self.plan.realtime else FAST_SPEED
        first = min(self.discard_to, len(audio))
        if first:
            await self.send("discarded", {"start": duration(0), "discarded": duration(first / SAMPLE_RATE)})
            self.protocol.samples = first
        loop = asyncio.get_running_loop()
        origin = loop.time() - first / SAMPLE_RATE / speed
        for offset in range(first, len(audio), step):
            end = min(offset + step, len(audio))  # a frame goes out once it has been spoken, as from a live call
            delay = origin + end / SAMPLE_RATE / speed - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.stop.is_set() or self.gone.is_set():
                return
            pause = self.plan.pause
            self.client_paused = pause is not None and pause[0] <= offset < pause[1]
            await self._pause_or_resume(offset)
            for at, language in self.plan.updates:
                if offset <= at < end:  # the conversation's language changed (Genesys sends `update`)
                    await self.send("update", {"language": language})
            chunk = audio[offset:end]
            if await self._discarding(offset):
                pass
            elif self.paused_since is None and self.media:
                await self._send_audio(pcm_to_ulaw(chunk[:, [CHANNEL_COLUMN[c] for c in self.media]].reshape(-1)))
            self.protocol.samples = end

    async def _discarding(self, offset: int) -> bool:
        """Whether the frame at `offset` is dropped; the first one after the stretch reports it (`discarded`)."""
        if self.plan.discard is None:
            return False
        start, end = self.plan.discard
        if offset == end:
            await self.send(
                "discarded",
                {"start": duration(start / SAMPLE_RATE), "discarded": duration((end - start) / SAMPLE_RATE)},
            )
        return start <= offset < end

    async def _pause_or_resume(self, offset: int) -> None:
        """`paused` when a pause begins; `resumed` with where it began and how much audio it dropped when it ends."""
        paused = self.client_paused or self.server_paused
        if paused and self.paused_since is None:
            self.paused_since = offset
            await self.send("paused")
        elif not paused and self.paused_since is not None:
            start, self.paused_since = self.paused_since, None
            gap = (offset - start) / SAMPLE_RATE
            await self.send("resumed", {"start": duration(start / SAMPLE_RATE), "discarded": duration(gap)})

    async def _send_audio(self, payload: bytes) -> None:
        async with self.lock:
            await self.ws.send_bytes(payload)
        self.result.frames_sent += 1
        self.result.first_frame_bytes = self.result.first_frame_bytes or len(payload)

    async def close(self, reason: str) -> None:
        """The close transaction: `close`, then wait for `closed` (or the socket to go)."""
        await self.send("close", {"reason": reason})
        if not await _first(CLOSE_TIMEOUT_S, self.closed, self.gone):
            self.result.problems.append(f"no closed within {CLOSE_TIMEOUT_S} s of close")


async def _run(
    session: aiohttp.ClientSession, url: str, audio: Pcm, headers: dict[str, str], result: SessionResult, plan: _Plan
) -> SessionResult:
    async with session.ws_connect(url, headers=headers, autoping=True) as ws:
        connection = _Connection(ws, result, plan)
        receiver = asyncio.create_task(connection.receive())
        pinger: asyncio.Task[None] | None = None
        try:
            await connection.send("open", plan.open_parameters)
            await _first(OPEN_TIMEOUT_S, connection.opened, connection.stop, connection.gone)
            if connection.opened.is_set() and not connection.stop.is_set():
                pinger = asyncio.create_task(connection.ping())
                if plan.on_opened is not None:
                    await plan.on_opened()
                await connection.stream(audio)
            elif not connection.stop.is_set() and not connection.gone.is_set():
                result.problems.append(f"no opened within {OPEN_TIMEOUT_S} s of open")
                await connection.send("error", {"code": 408, "message": "Open transaction timeout"})
                await connection.close("error")
            await _cancel(pinger)
            if connection.gone.is_set() and result.closed is None:
                result.problems.append(f"the server closed the socket ({ws.close_code}) without disconnect or closed")
            elif connection.gone.is_set() or result.closed is not None:
                pass
            elif connection.stop.is_set():
                await connection.close("disconnect")  # the server asked: Genesys closes the session
            elif plan.close:
                await connection.close("end")
        finally:
            await _cancel(pinger)
            await ws.close()
            await receiver
    result.close_code = ws.close_code
    return result


async def play_session(
    session: aiohttp.ClientSession,
    url: str,
    audio: Pcm,
    *,
    conversation_id: str,
    api_key: str,
    client_secret: str | None,
    organization_id: str = EXAMPLE_ORGANIZATION_ID,
    realtime: bool = True,
    frame_ms: int = 100,
    stereo: bool = True,
    pause_at_s: float | None = None,
    pause_for_s: float = 2.0,
    ping_every_s: float = 5.0,
    on_opened: OnOpened | None = None,
    close: bool = True,
    language: str = "en-US",
    on_message: OnMessage | None = None,
    language_updates: tuple[tuple[float, str], ...] = (),
    discard_at_s: float | None = None,
    discard_for_s: float = 0.5,
) -> SessionResult:
    """One AudioHook session for `audio` ((n, 2) int16 8 kHz: customer = external, agent = internal).

    `on_opened` runs between `opened` and the first audio. A pause (`pause_at_s`, `pause_for_s`, as Genesys does for
    hold and secure pause) sends `paused`, drops that stretch of audio and ends with `resumed`; the `position` of
    each client message counts audio sent and audio dropped. `close=False` drops the socket without the close
    transaction. `language_updates`: (seconds into the audio, language) sent as `update` messages. `discard_at_s`:
    that stretch (whole frames) is dropped and reported with `discarded`, as Genesys does on a glitch. A refused
    upgrade raises aiohttp.WSServerHandshakeError.
    """
    if audio.ndim != 2 or audio.shape[1] != 2 or audio.dtype != np.int16:
        raise ValueError("audio must be (n, 2) int16: customer (external), agent (internal)")
    participant = {"id": str(uuid.uuid4()), "ani": "+1-555-555-1234", "aniName": "Simulated", "dnis": "+1-800-555-6789"}
    parameters = _open_parameters(organization_id, conversation_id, participant, stereo, language)
    pause = (
        None if pause_at_s is None else (int(pause_at_s * SAMPLE_RATE), int((pause_at_s + pause_for_s) * SAMPLE_RATE))
    )
    updates = tuple((int(at_s * SAMPLE_RATE), tag) for at_s, tag in language_updates)
    step = SAMPLE_RATE * frame_ms // 1000
    discard = None
    if discard_at_s is not None:
        at = round(discard_at_s * SAMPLE_RATE / step) * step
        discard = (at, at + max(1, round(discard_for_s * SAMPLE_RATE / step)) * step)
    plan = _Plan(parameters, realtime, frame_ms, pause, ping_every_s, on_opened, on_message, close, updates, discard)
    return await _start(session, url, audio, api_key, client_secret, plan)


async def connection_probe(
    session: aiohttp.ClientSession,
    url: str,
    *,
    api_key: str,
    client_secret: str | None,
    organization_id: str = EXAMPLE_ORGANIZATION_ID,
) -> SessionResult:
    """What Genesys does when an integration is activated: open with the all-zero conversation id, then close."""
    participant = {"id": PROBE_ID, "ani": "", "aniName": "", "dnis": ""}
    parameters = _open_parameters(organization_id, PROBE_ID, participant, True, "en-US")
    plan = _Plan(parameters, True, 100, None, 5.0, None, None, True)
    return await _start(session, url, np.zeros((0, 2), dtype=np.int16), api_key, client_secret, plan)


def _open_parameters(
    organization_id: str, conversation_id: str, participant: Json, stereo: bool, language: str
) -> Json:
    return {
        "organizationId": organization_id,
        "conversationId": conversation_id,
        "participant": participant,
        "media": media_offers(stereo),
        "language": language,
    }


async def _start(
    session: aiohttp.ClientSession, url: str, audio: Pcm, api_key: str, client_secret: str | None, plan: _Plan
) -> SessionResult:
    session_id, organization_id = str(uuid.uuid4()), plan.open_parameters["organizationId"]
    headers, base = upgrade_headers(url, organization_id, session_id, str(uuid.uuid4()), api_key, client_secret)
    result = SessionResult(session_id, headers, base)
    return await _run(session, url, audio, headers, result, plan)


if __name__ == "__main__":  # the command line lives beside, in audiohook_cli.py
    from mediagw.simulators.audiohook_cli import main

    main()

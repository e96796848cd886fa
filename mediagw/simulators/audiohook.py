"""Plays call audio to an AudioHook server as Genesys Cloud's AudioHook Monitor does (protocol version 2).

Written from Genesys' AudioHook protocol specification and its reference client
(purecloudlabs/audiohook-reference-implementation), independently of the gateway's AudioHook ingress, so that
each checks the other. `python -m mediagw.simulators.audiohook --help` plays a file from the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import re
import secrets
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np
import soundfile as sf
from yarl import URL

from asr.frame import SAMPLE_RATE, Pcm
from mediagw.audio.g711 import pcm_to_ulaw

Json = dict[str, Any]
OnOpened = Callable[[], Awaitable[None]]
OnMessage = Callable[[Json], None]

PROBE_ID = "00000000-0000-0000-0000-000000000000"  # conversation and participant id of a connection probe
EXAMPLE_ORGANIZATION_ID = "d7934305-0972-4844-938e-9060eef73d05"  # the specification's example organization
USER_AGENT = "GenesysCloud-AudioHook-Client"
SIGNATURE_LIFETIME_S = 30  # expires = created + 30, the reference client's default
OPEN_TIMEOUT_S = 5.0  # the reference client's open and close transaction timeouts
CLOSE_TIMEOUT_S = 10.0
FAST_SPEED = 10.0  # realtime=False plays this many times faster than real time
CHANNEL_COLUMN = {"external": 0, "internal": 1}  # column of the (n, 2) audio: customer, agent


def duration(seconds: float) -> str:
    """An ISO 8601 duration as AudioHook writes them: PT0S, PT0.1S, PT12.34S."""
    return f"PT{f'{seconds:.6f}'.rstrip('0').rstrip('.')}S"


def media_offers(stereo: bool) -> list[Json]:
    """The media Genesys offers: stereo external+internal first, then each channel alone."""
    layouts = [["external", "internal"], ["external"], ["internal"]] if stereo else [["external"], ["internal"]]
    return [{"type": "audio", "format": "PCMU", "channels": c, "rate": SAMPLE_RATE} for c in layouts]


# HTTP message signature of the upgrade request (RFC 9421 as the AudioHook specification profiles it)

SIGNED_COMPONENTS = (
    "@request-target",
    "@authority",
    "audiohook-organization-id",
    "audiohook-session-id",
    "audiohook-correlation-id",
    "x-api-key",
)


def _sf_string(value: str) -> str:
    """An RFC 8941 structured-field string."""
    if any(not " " <= c <= "~" for c in value):
        raise ValueError(f"{value!r} is not printable ASCII and cannot go in a structured field")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def signature_params(names: list[str], *, keyid: str, nonce: str, created: int, expires: int) -> str:
    covered = " ".join(_sf_string(name) for name in names)
    return (
        f'({covered});keyid={_sf_string(keyid)};nonce={_sf_string(nonce)};alg="hmac-sha256";'
        f"created={created};expires={expires}"
    )


def signature_base(components: Mapping[str, str], params: str) -> str:
    """One `"name": value` line per covered component in order, then the `"@signature-params"` line; no final LF."""
    lines = [f"{_sf_string(name)}: {value.strip()}" for name, value in components.items()]
    return "\n".join([*lines, f'"@signature-params": {params}'])


@dataclass(frozen=True)
class Signature:
    headers: dict[str, str]  # Signature-Input and Signature
    base: str  # what the HMAC was computed over


def sign(
    components: Mapping[str, str],
    key_id: str,
    client_secret: str,
    *,
    created: int | None = None,
    expires: int | None = None,
    nonce: str | None = None,
) -> Signature:
    """HMAC-SHA256, keyed with the base64-decoded client secret, over the signature base; label sig1."""
    created = int(time.time()) if created is None else created
    expires = created + SIGNATURE_LIFETIME_S if expires is None else expires
    nonce = base64.b64encode(secrets.token_bytes(18)).decode() if nonce is None else nonce
    params = signature_params(list(components), keyid=key_id, nonce=nonce, created=created, expires=expires)
    base = signature_base(components, params)
    digest = hmac.new(base64.b64decode(client_secret, validate=True), base.encode(), hashlib.sha256).digest()
    return Signature(
        {"Signature-Input": f"sig1={params}", "Signature": f"sig1=:{base64.b64encode(digest).decode()}:"}, base
    )


def upgrade_headers(
    url: str, organization_id: str, session_id: str, correlation_id: str, api_key: str, client_secret: str | None
) -> tuple[dict[str, str], str | None]:
    """The headers of Genesys' upgrade request and, when a client secret is given, the signature base signed."""
    headers = {
        "User-Agent": USER_AGENT,
        "Audiohook-Organization-Id": organization_id,
        "Audiohook-Correlation-Id": correlation_id,
        "Audiohook-Session-Id": session_id,
        "X-API-KEY": api_key,
    }
    if client_secret is None:
        return headers, None
    target = URL(url)
    values = [target.raw_path_qs, target.host_port_subcomponent or "", organization_id, session_id, correlation_id]
    signature = sign(dict(zip(SIGNED_COMPONENTS, [*values, api_key], strict=True)), api_key, client_secret)
    return {**headers, **signature.headers}, signature.base


# The session


class ClientProtocol:
    """Sans-I/O client side of one session: numbers client messages, checks the server's, keeps the position."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.seq = 0  # of the last client message
        self.serverseq = 0  # of the last server message
        self.samples = 0  # stream position: audio sent plus audio discarded, in 8 kHz samples
        self.problems: list[str] = []

    @property
    def position(self) -> str:
        return duration(self.samples / SAMPLE_RATE)

    def message(self, kind: str, parameters: Json) -> Json:
        self.seq += 1
        return {
            "version": "2",
            "type": kind,
            "seq": self.seq,
            "serverseq": self.serverseq,
            "id": self.session_id,
            "position": self.position,
            "parameters": parameters,
        }

    def receive(self, text: str) -> Json | None:
        """The server message in `text`; None, with a problem noted, if it is not one."""
        try:
            message = json.loads(text)
        except ValueError:
            self.problems.append(f"server text is not JSON: {text[:200]!r}")
            return None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            self.problems.append(f"server message has no type: {text[:200]!r}")
            return None
        kind, seq, clientseq = message["type"], message.get("seq"), message.get("clientseq")
        if seq != self.serverseq + 1:
            self.problems.append(f"{kind}: seq {seq!r} after server seq {self.serverseq}")
        if isinstance(seq, int):
            self.serverseq = seq
        if not isinstance(clientseq, int) or not 0 <= clientseq <= self.seq:
            self.problems.append(f"{kind}: clientseq {clientseq!r} but the client has sent seq {self.seq}")
        if message.get("version") != "2" or message.get("id") != self.session_id:
            self.problems.append(f"{kind}: version {message.get('version')!r}, id {message.get('id')!r}")
        if not isinstance(message.get("parameters"), dict):
            self.problems.append(f"{kind}: parameters is not an object")
            message["parameters"] = {}
        return message


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
            if self.paused_since is None and self.media:
                await self._send_audio(pcm_to_ulaw(chunk[:, [CHANNEL_COLUMN[c] for c in self.media]].reshape(-1)))
            self.protocol.samples = end

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
) -> SessionResult:
    """One AudioHook session for `audio` ((n, 2) int16 8 kHz: customer = external, agent = internal).

    `on_opened` runs between `opened` and the first audio. A pause (`pause_at_s`, `pause_for_s`, as Genesys does for
    hold and secure pause) sends `paused`, drops that stretch of audio and ends with `resumed`; the `position` of
    each client message counts audio sent and audio dropped. `close=False` drops the socket without the close
    transaction. `language_updates`: (seconds into the audio, language) sent as `update` messages. A refused
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
    plan = _Plan(parameters, realtime, frame_ms, pause, ping_every_s, on_opened, on_message, close, updates)
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


# Command line


async def _main(args: argparse.Namespace) -> int:
    async with aiohttp.ClientSession() as session:
        if args.probe:
            result = await connection_probe(session, args.url, api_key=args.api_key, client_secret=args.client_secret)
            for message in result.messages:
                print(json.dumps(message), flush=True)
        else:
            audio, rate = sf.read(args.file, dtype="int16", always_2d=True)
            if rate != SAMPLE_RATE or audio.shape[1] != 2:
                raise SystemExit(f"{args.file}: need 2 channels at {SAMPLE_RATE} Hz, got {audio.shape[1]} at {rate}")
            print(f"conversationId {args.conversation_id}", file=sys.stderr)
            result = await play_session(
                session,
                args.url,
                np.ascontiguousarray(audio),
                conversation_id=args.conversation_id,
                api_key=args.api_key,
                client_secret=args.client_secret,
                organization_id=args.organization_id,
                realtime=not args.fast,
                frame_ms=args.frame_ms,
                stereo=not args.mono,
                pause_at_s=args.pause_at,
                pause_for_s=args.pause_for,
                on_message=lambda message: print(json.dumps(message), flush=True),
            )
    for problem in result.problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if result.problems else 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Play a 2-channel 8 kHz file as a Genesys AudioHook Monitor session")
    parser.add_argument("file", nargs="?", help="channel 0 customer (external), channel 1 agent (internal)")
    parser.add_argument("--url", default="ws://127.0.0.1:8080/mg-genesysaudiohook-autotranscribe/")
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--client-secret", default=None, help="base64, as shown in Genesys; omit for no signature")
    parser.add_argument("--organization-id", default=EXAMPLE_ORGANIZATION_ID)
    parser.add_argument("--conversation-id", default=str(uuid.uuid4()), help="the start-streaming guid")
    parser.add_argument("--fast", action="store_true", help=f"{FAST_SPEED:g} times real time")
    parser.add_argument("--frame-ms", type=int, default=100)
    parser.add_argument("--mono", action="store_true", help="offer only the mono channels")
    parser.add_argument("--pause-at", type=float, default=None, help="seconds into the call to pause (hold)")
    parser.add_argument("--pause-for", type=float, default=2.0)
    parser.add_argument("--probe", action="store_true", help="a connection probe instead of a call")
    args = parser.parse_args(argv)
    if not args.probe and not args.file:
        parser.error("a sound file is needed unless --probe")
    try:
        sys.exit(asyncio.run(_main(args)))
    except aiohttp.WSServerHandshakeError as refused:
        sys.exit(f"upgrade refused: {refused.status} {refused.message}")


if __name__ == "__main__":
    main()

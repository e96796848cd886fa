"""Sans-I/O core of Twilio Media Streams: JSON messages in, events out, with a media clock per track.

Twilio's `media.timestamp` is ms since the stream began. Each track's audio is laid on that clock: a gap is
filled with silence, a chunk that repeats or goes back in time is dropped, so utterance times stay true.
"""

from __future__ import annotations

import binascii
import logging
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import orjson

from asr.frame import SAMPLE_RATE, Pcm
from mediagw.audio.g711 import ulaw_to_pcm

TRACKS = ("inbound", "outbound")
MAX_GAP_MS = 10_000  # a longer jump is not filled: the stream is taken to have been interrupted
MAX_PAYLOAD_BYTES = 16_000  # 2 s of mu-law; Twilio sends 20 ms (160 bytes)
RATE_PER_MS = SAMPLE_RATE // 1000
log = logging.getLogger(__name__)
SUPPORTED_FORMAT = {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
# Twilio's identifiers: a prefix and 32 hex digits. start-streaming checks its guid with CALL_SID too.
CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")
STREAM_SID = re.compile(r"MZ[0-9a-fA-F]{32}")
ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
MAX_CUSTOM_PARAMETERS = 64  # <Parameter> names in one start; more closes the socket (1003)
MAX_CUSTOM_PARAMETER_CHARS = 4096  # their names and values together


class CloseCode(int, Enum):
    NORMAL = 1000
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    POLICY = 1008
    INTERNAL = 1011


@dataclass(frozen=True)
class StreamStarted:
    call_sid: str
    stream_sid: str
    account_sid: str
    tracks: tuple[str, ...]
    custom_parameters: dict[str, str]


@dataclass(slots=True)
class AudioReceived:
    """mu-law as received; decoded only when a transcription wants it (most audio is just counted)."""

    track: str
    ulaw: bytes
    position_ms: int  # where the audio starts on the track's clock, silence included (ms since the stream began)
    filled: int  # samples of silence before `ulaw`, filling a gap

    @property
    def sample_count(self) -> int:
        return self.filled + len(self.ulaw)

    def pcm(self) -> Pcm:
        samples = ulaw_to_pcm(self.ulaw)
        if self.filled:
            samples = np.concatenate((np.zeros(self.filled, dtype=np.int16), samples))
        return samples


@dataclass(frozen=True)
class DtmfReceived:
    track: str
    digit: str


@dataclass(frozen=True)
class MarkReceived:
    name: str


@dataclass(frozen=True)
class StreamStopped:
    pass


@dataclass(frozen=True)
class Dropped:
    """A chunk that repeats or arrives behind the clock: counted, not played."""

    track: str
    reason: str


@dataclass(frozen=True)
class ProtocolFailed:
    code: CloseCode
    reason: str


Event = StreamStarted | AudioReceived | DtmfReceived | MarkReceived | StreamStopped | Dropped | ProtocolFailed


class _TrackClock:
    def __init__(self) -> None:
        self.next_sample = 0  # where the next sample belongs, in samples since the stream began
        self.last_chunk = 0


class TwilioStream:
    """One Media Streams WebSocket: `connected`, `start`, then `media`/`dtmf`/`mark`, then `stop`."""

    def __init__(self) -> None:
        self.started: StreamStarted | None = None
        self.stopped = False
        self._clocks: dict[str, _TrackClock] = {}

    def receive(self, text: str) -> list[Event]:
        """Never raises: a malformed message fails with its close code, a bug with 1011 and no details."""
        try:
            return self._receive(text)
        except ValueError as error:
            return [ProtocolFailed(CloseCode.UNSUPPORTED_DATA, str(error))]
        except Exception:  # a bug here must not reach the event loop, nor its details the client
            log.exception("twilio message could not be handled")
            return [ProtocolFailed(CloseCode.INTERNAL, "internal error")]

    def _receive(self, text: str) -> list[Event]:
        try:
            message = orjson.loads(text)  # a quarter of json.loads' cost, on 100 messages per call-second
        except orjson.JSONDecodeError:
            return [ProtocolFailed(CloseCode.UNSUPPORTED_DATA, "message is not JSON")]
        if not isinstance(message, dict):
            return [ProtocolFailed(CloseCode.UNSUPPORTED_DATA, "message is not a JSON object")]
        event = message.get("event")
        if event == "connected":
            return []
        if event == "start":
            return self._start(message)
        if self.started is None:
            return [ProtocolFailed(CloseCode.PROTOCOL_ERROR, f"{str(event)[:20]!r} before start")]
        if event == "media":
            return self._media(message)
        if event == "dtmf":
            dtmf = _object(message, "dtmf")
            return [DtmfReceived(str(dtmf.get("track", "inbound_track")), str(dtmf.get("digit", ""))[:1])]
        if event == "mark":
            return [MarkReceived(str(_object(message, "mark").get("name", ""))[:100])]
        if event == "stop":
            self.stopped = True
            return [StreamStopped()]
        return [ProtocolFailed(CloseCode.UNSUPPORTED_DATA, f"unknown event {str(event)[:20]!r}")]

    def _start(self, message: dict[str, Any]) -> list[Event]:
        if self.started is not None:
            return [ProtocolFailed(CloseCode.PROTOCOL_ERROR, "start sent twice")]
        start = _object(message, "start")
        call_sid, stream_sid = start.get("callSid"), start.get("streamSid") or message.get("streamSid")
        if not isinstance(call_sid, str) or not isinstance(stream_sid, str):
            raise ValueError("start needs callSid and streamSid")
        if not valid_call_sid(call_sid) or not STREAM_SID.fullmatch(stream_sid):
            raise ValueError("start.callSid must be CA and start.streamSid MZ, each with 32 hex digits")
        account_sid = start.get("accountSid", "")
        if account_sid and (not isinstance(account_sid, str) or not ACCOUNT_SID.fullmatch(account_sid)):
            raise ValueError("start.accountSid must be AC with 32 hex digits")
        media_format = start.get("mediaFormat", SUPPORTED_FORMAT)
        if not isinstance(media_format, dict) or any(
            str(media_format.get(k)) != str(v) for k, v in SUPPORTED_FORMAT.items()
        ):
            return [ProtocolFailed(CloseCode.UNSUPPORTED_DATA, f"unsupported mediaFormat {media_format!r}"[:120])]
        tracks = start.get("tracks", ["inbound"])
        if not isinstance(tracks, list) or not tracks or not all(track in TRACKS for track in tracks):
            raise ValueError("start.tracks must be inbound and/or outbound")
        self.started = StreamStarted(
            call_sid, stream_sid, account_sid or "", tuple(tracks), _custom_parameters(start.get("customParameters"))
        )
        self._clocks = {track: _TrackClock() for track in tracks}
        return [self.started]

    def _media(self, message: dict[str, Any]) -> list[Event]:
        media = _object(message, "media")
        track = media.get("track", "inbound")
        clock = self._clocks.get(track) if isinstance(track, str) else None
        if clock is None:
            return [ProtocolFailed(CloseCode.PROTOCOL_ERROR, f"media for track {str(track)[:20]!r} not in start")]
        payload = media.get("payload")
        if not isinstance(payload, str) or len(payload) > MAX_PAYLOAD_BYTES * 4 // 3 + 4:
            raise ValueError("media.payload must be base64 of at most 2 s of audio")
        try:
            audio = binascii.a2b_base64(payload, strict_mode=True)
        except binascii.Error as error:
            raise ValueError("media.payload is not valid base64") from error
        chunk, timestamp = _number(media.get("chunk", clock.last_chunk + 1)), _number(media.get("timestamp"))
        if chunk <= clock.last_chunk:
            return [Dropped(track, "repeated chunk")]
        clock.last_chunk = chunk
        return [self._place(track, clock, timestamp * RATE_PER_MS, audio)]

    @staticmethod
    def _place(track: str, clock: _TrackClock, at: int, ulaw: bytes) -> Event:
        """Lay mu-law (one byte a sample) on the track's clock: fill a gap with silence, trim an overlap."""
        if at + len(ulaw) <= clock.next_sample:
            return Dropped(track, "late chunk")
        if at < clock.next_sample:  # overlaps what was already played: keep the new part
            ulaw, at = ulaw[clock.next_sample - at :], clock.next_sample
        gap = at - clock.next_sample
        filled = gap if gap <= MAX_GAP_MS * RATE_PER_MS else 0
        clock.next_sample = at + len(ulaw)
        return AudioReceived(track, ulaw, (at - filled) // RATE_PER_MS, filled)


def valid_call_sid(text: str) -> bool:
    return CALL_SID.fullmatch(text) is not None


def _custom_parameters(raw: Any) -> dict[str, str]:
    """<Parameter>s as strings, bounded: what a client sends us to keep is never unbounded."""
    if not raw:
        return {}
    if not isinstance(raw, dict):
        raise ValueError("start.customParameters must be an object")
    parameters = {str(k): str(v) for k, v in list(raw.items())[: MAX_CUSTOM_PARAMETERS + 1]}
    if len(parameters) > MAX_CUSTOM_PARAMETERS or sum(len(k) + len(v) for k, v in parameters.items()) > (
        MAX_CUSTOM_PARAMETER_CHARS
    ):
        raise ValueError(
            f"start.customParameters: at most {MAX_CUSTOM_PARAMETERS} of {MAX_CUSTOM_PARAMETER_CHARS} characters"
        )
    return parameters


def _object(message: dict[str, Any], name: str) -> dict[str, Any]:
    value = message.get(name)
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be an object")
    return value


def _number(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError) as error:
        raise ValueError("chunk and timestamp must be numbers") from error
    if number < 0:
        raise ValueError("chunk and timestamp must not be negative")
    return number

"""Sans-I/O core of the AudioHook protocol (version 2), server side: client text and audio frames in, events out.

Follows Genesys' AudioHook protocol specification and purecloudlabs/audiohook-reference-implementation. Server
messages leave as `Send` events, in order. A violation is answered once with `disconnect` (reason "error"); the
client's `close` that follows is still answered `closed`. The media clock counts samples per channel at 8 kHz, as
the client's `position` does: it advances with audio received and with audio reported `discarded`, and stands
still while the client is paused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum, IntEnum
from typing import Any, TypeGuard

VERSION = "2"
RATE = 8000
NULL_UUID = "00000000-0000-0000-0000-000000000000"  # the conversationId of a connection probe
MAX_TEXT_CHARS = 65_535
DISCONNECT_REASONS = ("completed", "unauthorized", "error")
PREFERRED_CHANNELS = (("external", "internal"), ("internal", "external"), ("external",), ("internal",))
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_DURATION = re.compile(r"PT(\d{1,10}(?:\.\d{0,9})?|\.\d{1,9})S")


class ErrorCode(IntEnum):
    """The protocol's HTTP-style codes (as in its `error` message), carried by `ProtocolFailed`."""

    BAD_REQUEST = 400
    UNAUTHORIZED = 401
    CONFLICT = 409
    TOO_LARGE = 413
    UNSUPPORTED_MEDIA = 415
    INTERNAL = 500


@dataclass(frozen=True)
class Send:
    text: str  # a server message, to send as one WebSocket text frame


@dataclass(frozen=True)
class Participant:
    id: str
    ani: str
    ani_name: str
    dnis: str


@dataclass(frozen=True)
class SessionOpened:
    session_id: str
    organization_id: str
    conversation_id: str
    participant: Participant
    channels: tuple[str, ...]  # the accepted media's channels, in the order their bytes are interleaved
    language: str | None
    position: int  # where the audio starts, in samples (0 unless the client continues an earlier session)
    custom_config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProbeOpened:
    """Genesys' connection probe (null conversationId) was answered; the client closes next and sends no audio."""

    session_id: str
    organization_id: str


@dataclass(slots=True)
class AudioReceived:
    """mu-law bytes as received, one channel each (external = customer, internal = agent); None if not streamed."""

    external: bytes | None
    internal: bytes | None
    position: int  # samples since the session start where this audio begins


@dataclass(frozen=True)
class Paused:
    position: int


@dataclass(frozen=True)
class Resumed:
    position: int  # unchanged by the pause
    paused_samples: int  # audio the pause left out, as the client reports it


@dataclass(frozen=True)
class Discarded:
    """The client dropped audio: the clock skips `samples` from `position`, which a consumer fills with silence."""

    position: int
    samples: int


@dataclass(frozen=True)
class LanguageUpdated:
    language: str


@dataclass(frozen=True)
class RttReported:
    rtt_s: float  # the round-trip time the client measured on its previous ping


@dataclass(frozen=True)
class ClientError:
    code: int
    message: str
    retry_after_s: float | None = None


@dataclass(frozen=True)
class SessionClosed:
    reason: str  # the client's close reason: "end", "error", "disconnect" or "reconnect"


@dataclass(frozen=True)
class ProtocolFailed:
    """A violation was answered with `disconnect`; expect the client's `close`, or close the socket after a while."""

    reason: str
    code: int


_SessionEvent = Send | SessionOpened | ProbeOpened | SessionClosed | ProtocolFailed | ClientError
Event = _SessionEvent | AudioReceived | Paused | Resumed | Discarded | LanguageUpdated | RttReported


class State(Enum):
    CONNECTED = "connected"  # waiting for `open`
    OPEN = "open"
    DISCONNECTING = "disconnecting"  # we asked the client to close; its audio and messages still count
    FAILED = "failed"  # we signalled a violation; only `close` is answered
    CLOSED = "closed"


class _Invalid(Exception):
    def __init__(self, reason: str, code: int = ErrorCode.BAD_REQUEST) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


CLIENT_MESSAGES = frozenset({"open", "ping", "paused", "resumed", "discarded", "update", "error", "close"})
_BEFORE_OPEN = frozenset({"open", "close", "error", "ping"})


class AudioHookSession:
    """One AudioHook WebSocket. `session_id`/`organization_id`, when given, are the upgrade's headers to match."""

    def __init__(
        self,
        now: float,
        *,
        session_id: str | None = None,
        organization_id: str | None = None,
        supported_languages: tuple[str, ...] = (),
    ) -> None:
        self.session_id = session_id
        self.state = State.CONNECTED
        self.paused = False
        self.probe = False
        self.channels: tuple[str, ...] = ()
        self.position = 0
        self.seq = 0  # of the last message we sent
        self.clientseq = 0  # of the last client message accepted
        self.last_received = now
        self._organization_id = organization_id
        self._supported_languages = supported_languages

    def receive_text(self, text: str, now: float) -> list[Event]:
        self.last_received = now
        if self.state is State.CLOSED:
            return []
        if self.state is State.FAILED:
            return self._close_after_failure(text)
        try:
            if len(text) > MAX_TEXT_CHARS:
                raise _Invalid(f"text message of {len(text)} characters is too large", ErrorCode.TOO_LARGE)
            message = _parse(text)
            self._check_header(message)
            handler: Callable[[dict[str, Any], dict[str, Any]], list[Event]] = getattr(self, "_on_" + message["type"])
            return handler(message["parameters"], message)
        except _Invalid as error:
            return self._fail(error.reason, error.code)
        except Exception:  # a bug here must not reach the event loop, nor its details the client
            return self._fail("internal error", ErrorCode.INTERNAL)

    def receive_binary(self, data: bytes, now: float) -> list[Event]:
        self.last_received = now
        if self.state in (State.FAILED, State.CLOSED):
            return []
        if not self.channels:
            return self._fail("audio before the session is open", ErrorCode.CONFLICT)
        if self.paused:
            return self._fail("audio while the stream is paused", ErrorCode.CONFLICT)
        width = len(self.channels)
        if len(data) % width:
            return self._fail(f"audio frame of {len(data)} bytes does not hold whole {width}-channel samples")
        if not data:
            return []
        position = self.position
        self.position += len(data) // width
        if width == 1:
            mono = bytes(data)
            external = self.channels[0] == "external"
            return [AudioReceived(mono if external else None, None if external else mono, position)]
        first, second = bytes(data[0::2]), bytes(data[1::2])
        if self.channels[0] == "external":
            return [AudioReceived(first, second, position)]
        return [AudioReceived(second, first, position)]

    def disconnect(self, reason: str, info: str = "") -> str:
        """The `disconnect` message asking the client to close; its `close` is answered as usual."""
        if reason not in DISCONNECT_REASONS:
            raise ValueError(f"disconnect reason must be one of {DISCONNECT_REASONS}, not {reason!r}")
        if self.state in (State.DISCONNECTING, State.FAILED, State.CLOSED):
            raise RuntimeError(f"cannot disconnect a session that is {self.state.value}")
        self.state = State.DISCONNECTING
        return self._message("disconnect", {"reason": reason, "info": info} if info else {"reason": reason})

    def pause(self) -> str:
        """The `pause` message asking the client to stop streaming; it answers `paused`."""
        return self._message("pause", {})

    def resume(self) -> str:
        """The `resume` message ending a pause we asked for; the client answers `resumed` (or `paused`)."""
        return self._message("resume", {})

    def _check_header(self, message: dict[str, Any]) -> None:
        if message.get("version") != VERSION:
            raise _Invalid(f"protocol version {str(message.get('version'))[:8]!r} is not {VERSION!r}")
        seq = message.get("seq")
        if not _is_int(seq) or seq != self.clientseq + 1:
            raise _Invalid(f"seq {str(seq)[:12]} does not follow {self.clientseq}")
        serverseq = message.get("serverseq")
        if not _is_int(serverseq) or not 0 <= serverseq <= self.seq:
            raise _Invalid(f"serverseq {str(serverseq)[:12]} is not one we sent (last {self.seq})")
        _samples(message.get("position"), "position")
        if not isinstance(message.get("parameters"), dict):
            raise _Invalid("parameters is not an object")
        session_id = _uuid(message.get("id"), "id")
        if self.session_id is None:
            self.session_id = session_id
        elif session_id.lower() != self.session_id.lower():
            raise _Invalid("id is not this session's id")
        self.clientseq = seq
        kind = message.get("type")
        if kind not in CLIENT_MESSAGES:
            raise _Invalid(f"unknown message type {str(kind)[:32]!r}")
        if self.state is State.CONNECTED and kind not in _BEFORE_OPEN:
            raise _Invalid(f"{kind!r} before open", ErrorCode.CONFLICT)

    def _on_open(self, params: dict[str, Any], message: dict[str, Any]) -> list[Event]:
        if self.state is State.DISCONNECTING and not self.channels:  # we refused the session before it opened
            return []
        if self.state is not State.CONNECTED:
            raise _Invalid("open sent twice", ErrorCode.CONFLICT)
        organization_id = _uuid(params.get("organizationId"), "organizationId")
        conversation_id = _uuid(params.get("conversationId"), "conversationId")
        participant = _participant(params.get("participant"))
        language, custom_config = params.get("language"), params.get("customConfig", {})
        if (language is not None and not isinstance(language, str)) or not isinstance(custom_config, dict):
            raise _Invalid("language or customConfig is malformed")
        if self._organization_id and organization_id.lower() != self._organization_id.lower():
            return self._fail("organizationId does not match the connection's", ErrorCode.UNAUTHORIZED, "unauthorized")
        self.channels = _choose_channels(params.get("media"))
        self.position = _samples(message["position"], "position")
        self.probe = conversation_id == NULL_UUID
        self.state = State.OPEN
        opened: dict[str, Any] = {
            "startPaused": False,
            "media": [{"type": "audio", "format": "PCMU", "channels": list(self.channels), "rate": RATE}],
        }
        if params.get("supportedLanguages") is True:
            opened["supportedLanguages"] = list(self._supported_languages)
        session_id = str(self.session_id)
        if self.probe:
            return [Send(self._message("opened", opened)), ProbeOpened(session_id, organization_id)]
        details = (conversation_id, participant, self.channels, language, self.position, custom_config)
        return [Send(self._message("opened", opened)), SessionOpened(session_id, organization_id, *details)]

    def _on_ping(self, params: dict[str, Any], message: dict[str, Any]) -> list[Event]:
        rtt = params.get("rtt")
        events: list[Event] = [Send(self._message("pong", {}))]
        if rtt is not None:
            events.append(RttReported(_samples(rtt, "rtt") / RATE))
        return events

    def _on_paused(self, params: dict[str, Any], message: dict[str, Any]) -> list[Event]:
        if self.paused:  # a repeat answers our `pause` while the client had paused already
            return []
        self.paused = True
        return [Paused(self.position)]

    def _on_resumed(self, params: dict[str, Any], message: dict[str, Any]) -> list[Event]:
        _samples(params.get("start"), "start")
        left_out = _samples(params.get("discarded"), "discarded")
        if not self.paused:  # an answer to a `resume` while not paused
            return []
        self.paused = False
        return [Resumed(self.position, left_out)]

    def _on_discarded(self, params: dict[str, Any], message: dict[str, Any]) -> list[Event]:
        start = _samples(params.get("start"), "start")
        end = start + _samples(params.get("discarded"), "discarded")
        if end <= self.position:
            return []
        position, self.position = self.position, end
        return [Discarded(position, end - position)]

    def _on_update(self, params: dict[str, Any], message: dict[str, Any]) -> list[Event]:
        language = params.get("language")
        if not isinstance(language, str) or not language:
            raise _Invalid("update has no language")
        return [LanguageUpdated(language)]

    def _on_error(self, params: dict[str, Any], message: dict[str, Any]) -> list[Event]:
        code, text, retry_after = params.get("code"), params.get("message"), params.get("retryAfter")
        if not _is_int(code) or not isinstance(text, str):
            raise _Invalid("error needs an integer code and a message")
        retry_after_s = None if retry_after is None else _samples(retry_after, "retryAfter") / RATE
        return [ClientError(code, text[:1000], retry_after_s)]

    def _on_close(self, params: dict[str, Any], message: dict[str, Any]) -> list[Event]:
        reason = params.get("reason")
        self.state = State.CLOSED
        return [Send(self._message("closed", {})), SessionClosed(reason if isinstance(reason, str) else "")]

    def _close_after_failure(self, text: str) -> list[Event]:
        try:
            message = json.loads(text) if len(text) <= MAX_TEXT_CHARS else None
        except ValueError:
            return []
        if not isinstance(message, dict) or message.get("type") != "close":
            return []
        if _is_int(message.get("seq")):
            self.clientseq = message["seq"]
        params = message.get("parameters")
        return self._on_close(params if isinstance(params, dict) else {}, message)

    def _fail(self, reason: str, code: int = ErrorCode.BAD_REQUEST, kind: str = "error") -> list[Event]:
        if self.state in (State.FAILED, State.CLOSED):
            return []
        self.state = State.FAILED
        text = self._message("disconnect", {"reason": kind, "info": reason})
        return [Send(text), ProtocolFailed(reason, int(code))]

    def _message(self, kind: str, parameters: dict[str, Any]) -> str:
        self.seq += 1
        header = {"version": VERSION, "id": self.session_id or NULL_UUID, "type": kind, "seq": self.seq}
        return json.dumps({**header, "clientseq": self.clientseq, "parameters": parameters}, separators=(",", ":"))


def _parse(text: str) -> dict[str, Any]:
    try:
        message = json.loads(text)
    except ValueError:
        raise _Invalid("message is not JSON") from None
    if not isinstance(message, dict):
        raise _Invalid("message is not a JSON object")
    return message


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _uuid(value: object, name: str) -> str:
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise _Invalid(f"{name} is not a UUID")
    return value


def _samples(value: object, name: str) -> int:
    """An ISO 8601 duration of seconds ("PT1.25S") as samples at 8 kHz."""
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise _Invalid(f"{name} is not a duration like 'PT1.5S'")
    return round(Decimal(match.group(1)) * RATE)


def _participant(value: object) -> Participant:
    if not isinstance(value, dict):
        raise _Invalid("participant is not an object")
    fields = [value.get(key) for key in ("id", "ani", "aniName", "dnis")]
    if not all(isinstance(item, str) for item in fields):
        raise _Invalid("participant needs id, ani, aniName and dnis")
    return Participant(*(str(item) for item in fields))


def _choose_channels(offers: object) -> tuple[str, ...]:
    """PCMU at 8 kHz, both channels preferred, then external alone, then internal alone; other offers are skipped."""
    if not isinstance(offers, list):
        raise _Invalid("media is not a list")
    usable = {_pcmu_channels(offer) for offer in offers}
    for channels in PREFERRED_CHANNELS:
        if channels in usable:
            return channels
    raise _Invalid("no media offer this server accepts (PCMU at 8000 Hz)", ErrorCode.UNSUPPORTED_MEDIA)


def _pcmu_channels(offer: object) -> tuple[str, ...]:
    """The channels of an offer of PCMU audio at 8 kHz; () for any other offer."""
    if not isinstance(offer, dict) or [offer.get(key) for key in ("type", "format", "rate")] != ["audio", "PCMU", RATE]:
        return ()
    channels = offer.get("channels")
    if not isinstance(channels, list) or not all(isinstance(channel, str) for channel in channels):
        return ()
    return tuple(channels)

"""Sans-I/O core of the AudioHook protocol (version 2), server side: client text and audio frames in, events out.

Follows Genesys' AudioHook protocol specification and purecloudlabs/audiohook-reference-implementation. Server
messages leave as `Send` events, in order. A violation is answered once with `disconnect` (reason "error"); the
client's `close` that follows is still answered `closed`. The media clock counts samples per channel at 8 kHz, as
the client's `position` does: it advances with audio received and with the audio the client left out, which keeps
its place on the call's clock. `resumed` reports how much audio the pause left out and `discarded` how much the
client dropped otherwise; each moves the clock on by exactly that duration (their `start` is where, on the client's
clock, the stretch began: it should be our position, and a difference is reported, never filled).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from mediagw.ingress.audiohook.fields import (
    RATE,
    ErrorCode,
    Invalid,
    Participant,
    bounded_config,
    bounded_language,
    choose_channels,
    duration_samples,
    is_int,
    parse_message,
    parse_participant,
    parse_uuid,
)
from mediagw.languages import model_language, supported

VERSION = "2"
NULL_UUID = "00000000-0000-0000-0000-000000000000"  # the conversationId of a connection probe
MAX_TEXT_CHARS = 65_535
DISCONNECT_REASONS = ("completed", "unauthorized", "error")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Send:
    text: str  # a server message, to send as one WebSocket text frame


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
    """The pause ended: the clock moves on by `paused_samples` from `position`, which a consumer fills with silence."""

    position: int  # where the pause began
    paused_samples: int  # audio the pause left out, as the client reports it
    skew: int = 0  # the client's `start` minus `position` (0 when the two clocks agree)


@dataclass(frozen=True)
class Discarded:
    """The client dropped audio: the clock skips `samples` from `position`, which a consumer fills with silence."""

    position: int
    samples: int
    skew: int = 0  # the client's `start` minus `position` (0 when the two clocks agree)


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
    answered: bool = True  # False (a connector): send the last events, then `closed()`


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
    CLOSING = "closing"  # a connector's client closed: its last events go out before `closed`
    CLOSED = "closed"


CLIENT_MESSAGES = frozenset({"open", "ping", "paused", "resumed", "discarded", "update", "error", "close"})
SERVER_MESSAGES = frozenset({"opened", "pong", "pause", "resume", "event", "updated", "disconnect", "closed"})
_BEFORE_OPEN = frozenset({"open", "close", "error", "ping"})


class AudioHookSession:
    """One AudioHook WebSocket. `session_id`/`organization_id`, when given, are the upgrade's headers to match.
    `connector`: a Transcription Connector session, which is answered with `event` messages and whose `language`
    (open, update) must be one of `supported_languages` (else `disconnect`, reason "error")."""

    def __init__(
        self,
        now: float,
        *,
        session_id: str | None = None,
        organization_id: str | None = None,
        supported_languages: tuple[str, ...] = (),
        connector: bool = False,
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
        self.connector = connector
        self._language_codes = {model_language(tag) for tag in supported_languages}

    def receive_text(self, text: str, now: float) -> list[Event]:
        self.last_received = now
        if self.state in (State.CLOSED, State.CLOSING):
            return []
        if self.state is State.FAILED:
            return self._close_after_failure(text)
        try:
            if len(text) > MAX_TEXT_CHARS:
                raise Invalid(f"text message of {len(text)} characters is too large", ErrorCode.TOO_LARGE)
            message = parse_message(text)
            self._check_header(message)
            handler: Callable[[dict[str, Any], dict[str, Any]], list[Event]] = getattr(self, "_on_" + message["type"])
            return handler(message["parameters"], message)
        except Invalid as error:
            return self._fail(error.reason, error.code)
        except Exception:  # a bug here must not reach the event loop, nor its details the client
            log.exception("audiohook message could not be handled")
            return self._fail("internal error", ErrorCode.INTERNAL)

    def receive_binary(self, data: bytes, now: float) -> list[Event]:
        self.last_received = now
        if self.state in (State.FAILED, State.CLOSED, State.CLOSING):
            return []
        try:
            return self._audio(data)
        except Exception:  # as for text: closed with the protocol's internal error, details only in the log
            log.exception("audiohook audio could not be handled")
            return self._fail("internal error", ErrorCode.INTERNAL)

    def _audio(self, data: bytes) -> list[Event]:
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
        if self.state in (State.DISCONNECTING, State.FAILED, State.CLOSING, State.CLOSED):
            raise RuntimeError(f"cannot disconnect a session that is {self.state.value}")
        self.state = State.DISCONNECTING
        return self._message("disconnect", {"reason": reason, "info": info} if info else {"reason": reason})

    def event(self, entities: list[dict[str, Any]]) -> str | None:
        """The `event` message carrying `entities`; None once the session can no longer take one."""
        if self.state not in (State.OPEN, State.DISCONNECTING, State.CLOSING):
            return None
        return self._message("event", {"entities": entities})

    def closed(self) -> str:
        """`closed`, answering a connector's `close` once its last events are out."""
        self.state = State.CLOSED
        return self._message("closed", {})

    def pause(self) -> str:
        """The `pause` message asking the client to stop streaming; it answers `paused`."""
        return self._message("pause", {})

    def resume(self) -> str:
        """The `resume` message ending a pause we asked for; the client answers `resumed` (or `paused`)."""
        return self._message("resume", {})

    def _check_header(self, message: dict[str, Any]) -> None:
        if message.get("version") != VERSION:
            raise Invalid(f"protocol version {str(message.get('version'))[:8]!r} is not {VERSION!r}")
        seq = message.get("seq")
        if not is_int(seq) or seq != self.clientseq + 1:
            raise Invalid(f"seq {str(seq)[:12]} does not follow {self.clientseq}")
        serverseq = message.get("serverseq")
        if not is_int(serverseq) or not 0 <= serverseq <= self.seq:
            raise Invalid(f"serverseq {str(serverseq)[:12]} is not one we sent (last {self.seq})")
        duration_samples(message.get("position"), "position")
        if not isinstance(message.get("parameters"), dict):
            raise Invalid("parameters is not an object")
        session_id = parse_uuid(message.get("id"), "id")
        if self.session_id is None:
            self.session_id = session_id
        elif session_id.lower() != self.session_id.lower():
            raise Invalid("id is not this session's id")
        self.clientseq = seq
        kind = message.get("type")
        if kind in SERVER_MESSAGES:
            raise Invalid(f"{kind!r} is a server message")
        if kind not in CLIENT_MESSAGES:
            raise Invalid(f"unknown message type {str(kind)[:32]!r}")
        if self.state is State.CONNECTED and kind not in _BEFORE_OPEN:
            raise Invalid(f"{kind!r} before open", ErrorCode.CONFLICT)

    def _on_open(self, params: dict[str, Any], message: dict[str, Any]) -> list[Event]:
        if self.state is State.DISCONNECTING and not self.channels:  # we refused the session before it opened
            return []
        if self.state is not State.CONNECTED:
            raise Invalid("open sent twice", ErrorCode.CONFLICT)
        organization_id = parse_uuid(params.get("organizationId"), "organizationId")
        conversation_id = parse_uuid(params.get("conversationId"), "conversationId")
        participant = parse_participant(params.get("participant"))
        language = bounded_language(params.get("language"), required=False)
        custom_config = bounded_config(params.get("customConfig", {}))
        if self._organization_id and organization_id.lower() != self._organization_id.lower():
            return self._fail("organizationId does not match the connection's", ErrorCode.UNAUTHORIZED, "unauthorized")
        self.channels = choose_channels(params.get("media"))
        self.position = duration_samples(message["position"], "position")
        self.probe = conversation_id == NULL_UUID
        if not self.probe:  # a probe asks which languages there are: it is answered whatever its own
            self._check_language(language)
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
            events.append(RttReported(duration_samples(rtt, "rtt") / RATE))
        return events

    def _on_paused(self, params: dict[str, Any], message: dict[str, Any]) -> list[Event]:
        if self.paused:  # a repeat answers our `pause` while the client had paused already
            return []
        self.paused = True
        return [Paused(self.position)]

    def _on_resumed(self, params: dict[str, Any], message: dict[str, Any]) -> list[Event]:
        start, left_out = _stretch(params)
        if not self.paused:  # an answer to a `resume` while not paused
            return []
        self.paused = False
        position, self.position = self.position, self.position + left_out
        return [Resumed(position, left_out, start - position)]

    def _on_discarded(self, params: dict[str, Any], message: dict[str, Any]) -> list[Event]:
        start, samples = _stretch(params)
        if not samples:
            return []
        position, self.position = self.position, self.position + samples
        return [Discarded(position, samples, start - position)]

    def _on_update(self, params: dict[str, Any], message: dict[str, Any]) -> list[Event]:
        language = bounded_language(params.get("language"), required=True)
        assert language is not None
        self._check_language(language)
        return [LanguageUpdated(language)]

    def _check_language(self, language: str | None) -> None:
        """A connector transcribes in the language Genesys names: one the model lacks is refused, not guessed."""
        if self.connector and language is not None and not supported(language, self._language_codes):
            raise Invalid(f"language {language!r} is not supported ({', '.join(self._supported_languages)})")

    def _on_error(self, params: dict[str, Any], message: dict[str, Any]) -> list[Event]:
        code, text, retry_after = params.get("code"), params.get("message"), params.get("retryAfter")
        if not is_int(code) or not isinstance(text, str):
            raise Invalid("error needs an integer code and a message")
        retry_after_s = None if retry_after is None else duration_samples(retry_after, "retryAfter") / RATE
        return [ClientError(code, text[:1000], retry_after_s)]

    def _on_close(self, params: dict[str, Any], message: dict[str, Any]) -> list[Event]:
        reason = params.get("reason")
        reason = reason if isinstance(reason, str) else ""
        if self.connector and self.state in (State.OPEN, State.DISCONNECTING):
            self.state = State.CLOSING
            return [SessionClosed(reason, answered=False)]
        self.state = State.CLOSED
        return [Send(self._message("closed", {})), SessionClosed(reason)]

    def _close_after_failure(self, text: str) -> list[Event]:
        try:
            message = json.loads(text) if len(text) <= MAX_TEXT_CHARS else None
        except (ValueError, RecursionError):
            return []
        if not isinstance(message, dict) or message.get("type") != "close":
            return []
        if is_int(message.get("seq")):
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


def _stretch(params: dict[str, Any]) -> tuple[int, int]:
    """`start` and `discarded` of `resumed` and `discarded`, in samples."""
    return duration_samples(params.get("start"), "start"), duration_samples(params.get("discarded"), "discarded")

"""Sans-I/O core of the direct WebSocket API: client messages in, events out; no sockets, no asyncio."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection
from dataclasses import dataclass
from enum import Enum
from typing import Any

from mediagw.core.record import REDACTION_OUTPUTS
from mediagw.ingress.websocket_api.status import Status
from mediagw.languages import supported
from mediagw.vocabulary import VocabularyPhrase

ROLES = ("customer", "agent")
MAX_EXTERNAL_ID_CHARS = 256  # sender.externalId, as streaming-url's externalId and start-streaming's ids
VOCABULARY_CATEGORIES = ("address", "name", "number", "company", "currency")
_SOUNDS_LIKE = re.compile(r"^[a-z0-9áéíóúüñ' .-]+$")  # lower case English/Spanish letters, digits spelled or not
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StartStreamParams:
    role: str
    external_id: str
    language: str = "en-US"
    sampling_rate: int = 8000
    encoding: str = "L16"
    smart_formatting: bool = True
    detailed_token: bool = False
    audio_recording_allowed: bool = False
    redaction_output: str = "redacted"


@dataclass(frozen=True)
class VocabularyLimits:
    max_phrases: int = 200
    max_phrase_chars: int = 64
    max_sounds_like: int = 10


@dataclass(frozen=True)
class StreamStarted:
    params: StartStreamParams


@dataclass(frozen=True)
class AudioReceived:
    data: bytes


@dataclass(frozen=True)
class AudioDropped:
    """Audio after finishStream: dropped and not counted, as the reference says."""

    size: int


@dataclass(frozen=True)
class VocabularyAccepted:
    phrases: tuple[VocabularyPhrase, ...]


@dataclass(frozen=True)
class VocabularyRejected:
    status: Status
    detail: str


@dataclass(frozen=True)
class FinishRequested:
    pass


@dataclass(frozen=True)
class StreamFailed:
    """End the stream with a finalResponse carrying `status`; `detail` is for the log only."""

    status: Status
    detail: str


Event = (
    StreamStarted
    | AudioReceived
    | AudioDropped
    | VocabularyAccepted
    | VocabularyRejected
    | FinishRequested
    | StreamFailed
)


class State(Enum):
    AWAITING_START = "awaiting_start"
    STREAMING = "streaming"
    FINISHING = "finishing"
    CLOSED = "closed"


class ProtocolError(Exception):
    def __init__(self, status: Status, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class DirectStreamProtocol:
    """The message order of the reference: startStream, audio and updateVocabulary, finishStream."""

    def __init__(self, languages: Collection[str], limits: VocabularyLimits, always_redact: bool = False) -> None:
        self.state = State.AWAITING_START
        self._languages = {code.lower() for code in languages}
        self._limits = limits
        self._always_redact = always_redact
        self._phrase_count = 0

    def receive_text(self, text: str) -> list[Event]:
        if self.state is State.CLOSED:
            return []
        if self.state is State.FINISHING:
            return self._fail(Status.WRONG_MESSAGE_ORDER, "message after finishStream")
        try:
            message = _parse_object(text)
            kind = message.get("message")
            if kind == "startStream":
                return self._start(message)
            if kind == "updateVocabulary":
                return [self._vocabulary(message)]
            if kind == "finishStream":
                return self._finish()
            raise ProtocolError(Status.MESSAGE_FORMAT, f"unknown message type {str(kind)[:40]!r}")
        except ProtocolError as error:
            return self._fail(error.status, error.detail)
        except Exception:  # a bug here must not reach the event loop, nor its details the client
            log.exception("direct stream message could not be handled")
            return self._fail(Status.INTERNAL_ERROR, "internal error")

    def receive_binary(self, data: bytes) -> list[Event]:
        if self.state is State.STREAMING:
            return [AudioReceived(data)]
        if self.state is State.FINISHING:
            return [AudioDropped(len(data))]
        if self.state is State.AWAITING_START:
            return self._fail(Status.WRONG_MESSAGE_ORDER, "audio before startStream")
        return []

    def fail(self, status: Status, detail: str) -> list[Event]:
        """A condition the transport detected (idle, duration, shutdown, internal error)."""
        return self._fail(status, detail) if self.state is not State.CLOSED else []

    def close(self) -> None:
        self.state = State.CLOSED

    def _start(self, message: dict[str, Any]) -> list[Event]:
        if self.state is not State.AWAITING_START:
            raise ProtocolError(Status.WRONG_MESSAGE_ORDER, "startStream sent twice")
        params = parse_start_stream(message, self._languages, self._always_redact)
        self.state = State.STREAMING
        return [StreamStarted(params)]

    def _finish(self) -> list[Event]:
        if self.state is not State.STREAMING:
            raise ProtocolError(Status.WRONG_MESSAGE_ORDER, "finishStream before startStream")
        self.state = State.FINISHING
        return [FinishRequested()]

    def _vocabulary(self, message: dict[str, Any]) -> Event:
        try:
            phrases = parse_vocabulary(message, self._limits)
        except ProtocolError as error:
            return VocabularyRejected(error.status, error.detail)
        if self._phrase_count + len(phrases) > self._limits.max_phrases:
            return VocabularyRejected(Status.VOCABULARY_LIMIT, f"more than {self._limits.max_phrases} phrases")
        self._phrase_count += len(phrases)
        return VocabularyAccepted(phrases)

    def _fail(self, status: Status, detail: str) -> list[Event]:
        self.state = State.CLOSED
        return [StreamFailed(status, detail)]


def _parse_object(text: str) -> dict[str, Any]:
    try:
        message = json.loads(text)
    except json.JSONDecodeError as error:
        raise ProtocolError(Status.MESSAGE_FORMAT, f"message is not JSON: {error.msg}") from error
    except RecursionError:
        raise ProtocolError(Status.MESSAGE_FORMAT, "message is not JSON: nested too deeply") from None
    if not isinstance(message, dict):
        raise ProtocolError(Status.MESSAGE_FORMAT, "message is not a JSON object")
    return message


def parse_start_stream(
    message: dict[str, Any], languages: Collection[str], always_redact: bool = False
) -> StartStreamParams:
    sender = message.get("sender")
    if not isinstance(sender, dict):
        raise ProtocolError(Status.MESSAGE_FORMAT, "sender is required")
    role, external_id = sender.get("role"), sender.get("externalId")
    if role not in ROLES:
        raise ProtocolError(Status.MESSAGE_FORMAT, "sender.role must be 'customer' or 'agent'")
    if not isinstance(external_id, str) or not external_id.strip() or len(external_id) > MAX_EXTERNAL_ID_CHARS:
        raise ProtocolError(Status.MESSAGE_FORMAT, f"sender.externalId is required (at most {MAX_EXTERNAL_ID_CHARS})")
    params = StartStreamParams(
        role=role,
        external_id=external_id,
        language=_field(message, "language", str, "en-US"),
        sampling_rate=_field(message, "samplingRate", int, 8000),
        encoding=_field(message, "encoding", str, "L16"),
        smart_formatting=_field(message, "smartFormatting", bool, True),
        detailed_token=_field(message, "detailedToken", bool, False),
        audio_recording_allowed=_field(message, "audioRecordingAllowed", bool, False),
        redaction_output=_field(message, "redactionOutput", str, "redacted"),
    )
    if params.redaction_output not in REDACTION_OUTPUTS:
        raise ProtocolError(Status.MESSAGE_FORMAT, f"redactionOutput must be one of {', '.join(REDACTION_OUTPUTS)}")
    if params.encoding != "L16":
        raise ProtocolError(Status.ENCODING_NOT_SUPPORTED, f"encoding {params.encoding[:20]!r} is not supported")
    if params.sampling_rate != 8000:
        raise ProtocolError(Status.SAMPLE_RATE_NOT_SUPPORTED, f"samplingRate {params.sampling_rate} is not supported")
    if not supported(params.language, languages):
        raise ProtocolError(Status.LANGUAGE_NOT_SUPPORTED, f"language {params.language[:20]!r} is not supported")
    check_redaction_request(params, always_redact)
    return params


def check_redaction_request(params: StartStreamParams, always_redact: bool) -> None:
    """The reference's rules: redaction works on smart-formatted text, without detailed tokens."""
    redacting = params.redaction_output != "unredacted"
    if redacting and not params.smart_formatting:
        raise ProtocolError(Status.REDACTION_NEEDS_FORMATTING, "redaction needs smartFormatting")
    if redacting and params.detailed_token:
        raise ProtocolError(Status.REDACTION_WITH_DETAILED_TOKENS, "redaction is not offered with detailedToken")
    if always_redact and params.redaction_output != "redacted":
        raise ProtocolError(Status.ALWAYS_REDACT, "this gateway always redacts")


def _field(message: dict[str, Any], name: str, kind: type, default: Any) -> Any:
    value = message.get(name, default)
    if value is None:
        return default
    if kind is int and isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)  # "8000" is as good as 8000
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ProtocolError(Status.MESSAGE_FORMAT, f"{name} must be {kind.__name__}")
    return value


def parse_vocabulary(message: dict[str, Any], limits: VocabularyLimits) -> tuple[VocabularyPhrase, ...]:
    entries = message.get("phrases")
    if not isinstance(entries, list) or not entries:
        raise ProtocolError(Status.VOCABULARY_FORMAT, "phrases must be a non-empty list")
    return tuple(_phrase(entry, limits) for entry in entries)


def _phrase(entry: Any, limits: VocabularyLimits) -> VocabularyPhrase:
    if not isinstance(entry, dict) or not isinstance(entry.get("phrase"), str) or not entry["phrase"].strip():
        raise ProtocolError(Status.VOCABULARY_FORMAT, "each entry needs a non-empty phrase")
    sounds_like = entry.get("soundsLike", [])
    category = entry.get("category")
    if not isinstance(sounds_like, list) or not all(isinstance(s, str) and s.strip() for s in sounds_like):
        raise ProtocolError(Status.VOCABULARY_FORMAT, "soundsLike must be a list of strings")
    if category is not None and category not in VOCABULARY_CATEGORIES:
        raise ProtocolError(Status.VOCABULARY_FORMAT, f"category must be one of {', '.join(VOCABULARY_CATEGORIES)}")
    if not all(_SOUNDS_LIKE.match(s.lower()) for s in sounds_like):
        raise ProtocolError(Status.VOCABULARY_FORMAT, "soundsLike may hold only English and Spanish letters")
    phrase = entry["phrase"].strip()
    too_long = [text for text in [phrase, *sounds_like] if len(text) > limits.max_phrase_chars]
    if too_long or len(sounds_like) > limits.max_sounds_like:
        raise ProtocolError(Status.VOCABULARY_LIMIT, "phrase or soundsLike exceeds the limit")
    return VocabularyPhrase(phrase, tuple(s.strip().lower() for s in sounds_like), category)

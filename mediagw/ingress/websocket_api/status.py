"""Application status codes of the direct WebSocket API, with the reference's descriptions."""

from __future__ import annotations

from enum import IntEnum


class Status(IntEnum):
    OK = 1000
    INVALID_TOKEN = 1008
    MESSAGE_FORMAT = 4040
    LANGUAGE_NOT_SUPPORTED = 4050
    ENCODING_NOT_SUPPORTED = 4051
    SAMPLE_RATE_NOT_SUPPORTED = 4053
    WRONG_MESSAGE_ORDER = 4056
    UNABLE_TO_TRANSCRIBE = 4080
    AUDIO_DECODE_FAILURE = 4082
    IDLE_TIMEOUT = 4083
    VOCABULARY_LIMIT = 4084
    DURATION_LIMIT = 4090
    VOCABULARY_FORMAT = 4091
    REDACTION_NEEDS_FORMATTING = 4092
    REDACTION_WITH_DETAILED_TOKENS = 4093
    ALWAYS_REDACT = 4094
    INTERNAL_ERROR = 5000
    SHUTTING_DOWN = 5001
    NO_INSTANCES = 5002

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    Status.OK: "OK",
    Status.INVALID_TOKEN: "Invalid or expired access token",
    Status.MESSAGE_FORMAT: "Message format incorrect",
    Status.LANGUAGE_NOT_SUPPORTED: "Language not supported",
    Status.ENCODING_NOT_SUPPORTED: "Encoding not supported",
    Status.SAMPLE_RATE_NOT_SUPPORTED: "Sample rate not supported",
    Status.WRONG_MESSAGE_ORDER: "Wrong message order or missing required message",
    Status.UNABLE_TO_TRANSCRIBE: "Unable to transcribe the audio",
    Status.AUDIO_DECODE_FAILURE: "Audio decode failure",
    Status.IDLE_TIMEOUT: "Connection idle timeout. Try streaming audio in real-time",
    Status.VOCABULARY_LIMIT: "Custom vocabulary phrase exceeds limit",
    Status.DURATION_LIMIT: "Streaming duration over limit",
    Status.VOCABULARY_FORMAT: "Invalid vocabulary format",
    Status.REDACTION_NEEDS_FORMATTING: "Redact only smart formatted text",
    Status.REDACTION_WITH_DETAILED_TOKENS: "Redaction only supported if detailedTokens in True",
    Status.ALWAYS_REDACT: "RedactionOutput cannot be unredacted or redacted_and_unredacted because of global config "
    "being to always redact",
    Status.INTERNAL_ERROR: "Internal service error",
    Status.SHUTTING_DOWN: "Service shutting down",
    Status.NO_INSTANCES: "No instances available",
}

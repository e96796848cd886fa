"""Server messages of the direct WebSocket API, in the reference's exact JSON shape (camelCase lives here)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mediagw.ingress.websocket_api.status import Status
from mediagw.transcripts import Token, Transcript


@dataclass(frozen=True)
class StreamSummary:
    total_audio_bytes: int
    audio_duration_ms: int
    streaming_seconds: int
    transcripts: int


def _status(status: Status) -> dict[str, str]:
    return {"code": str(int(status)), "description": status.description}


def dump(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def start_response(stream_id: str) -> str:
    return dump({"message": "startResponse", "streamID": stream_id, "status": _status(Status.OK)})


def vocabulary_response(status: Status) -> str:
    return dump({"message": "vocabularyResponse", "status": _status(status)})


def final_response(stream_id: str | None, status: Status, summary: StreamSummary) -> str:
    message: dict[str, Any] = {"message": "finalResponse"}
    if stream_id is not None:
        message["streamId"] = stream_id
    message["status"] = _status(status)
    message["summary"] = {
        "totalAudioBytes": summary.total_audio_bytes,
        "audioDurationMs": summary.audio_duration_ms,
        "streamingSeconds": summary.streaming_seconds,
        "transcripts": summary.transcripts,
    }
    return dump(message)


def transcript_message(transcript: Transcript) -> dict[str, Any]:
    utterance: dict[str, Any] = {"text": transcript.text}
    if transcript.unredacted_text is not None:
        utterance["unredactedText"] = transcript.unredacted_text  # redactionOutput redacted_and_unredacted
    if transcript.tokens is not None:
        utterance["tokens"] = [_token(token) for token in transcript.tokens]
    return {"message": "transcript", "start": transcript.start_ms, "end": transcript.end_ms, "utterance": [utterance]}


def transcript(transcript: Transcript) -> str:
    return dump(transcript_message(transcript))


def _token(token: Token) -> dict[str, Any]:
    out: dict[str, Any] = {"content": token.content, "start": token.start_ms, "end": token.end_ms}
    if token.punctuation_after:
        out["punctuationAfter"] = token.punctuation_after
    if token.punctuation_before:
        out["punctuationBefore"] = token.punctuation_before
    return out


def webhook_message(conversation_id: str, stream_id: str, sender: dict[str, str], transcript: dict[str, Any]) -> bytes:
    """The reference's webhook body: the transcript message wrapped with conversation, stream and sender."""
    message = {
        "type": "transcript",
        "externalConversationId": conversation_id,
        "streamId": stream_id,
        "sender": sender,
        "autotranscribeResponse": transcript,
    }
    return dump(message).encode()

"""The transcript message of the reference, shared by every output: the socket, the store and the webhooks."""

from __future__ import annotations

import json
from typing import Any

from mediagw.transcripts import Token, Transcript


def dump(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def transcript_message(transcript: Transcript) -> dict[str, Any]:
    utterance: dict[str, Any] = {"text": transcript.text}
    if transcript.unredacted_text is not None:
        utterance["unredactedText"] = transcript.unredacted_text  # redactionOutput redacted_and_unredacted
    if transcript.tokens is not None:
        utterance["tokens"] = [_token(token) for token in transcript.tokens]
    return {"message": "transcript", "start": transcript.start_ms, "end": transcript.end_ms, "utterance": [utterance]}


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

"""Server messages of the direct WebSocket API, in the reference's exact JSON shape (camelCase lives here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mediagw.ingress.websocket_api.status import Status
from mediagw.outputs.messages import dump, transcript_message
from mediagw.pipeline import UtteranceFailed
from mediagw.transcripts import Transcript


@dataclass(frozen=True)
class StreamSummary:
    total_audio_bytes: int
    audio_duration_ms: int
    streaming_seconds: int
    transcripts: int
    untranscribed: tuple[int, int] | None = None  # (utterances, their speech in ms) the shutdown deadline left


def _status(status: Status) -> dict[str, str]:
    return {"code": str(int(status)), "description": status.description}


def start_response(stream_id: str | None, status: Status = Status.OK) -> str:
    """A granted start carries its streamID; a refused one (5002) only its status, and a finalResponse follows."""
    message: dict[str, Any] = {"message": "startResponse"}
    if stream_id is not None:
        message["streamID"] = stream_id
    message["status"] = _status(status)
    return dump(message)


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
    if summary.untranscribed is not None:  # not in the reference: how much audio a 5001 left untranscribed
        count, ms = summary.untranscribed
        message["summary"]["untranscribedUtterances"] = count
        message["summary"]["untranscribedAudioMs"] = ms
    return dump(message)


def transcript(transcript: Transcript) -> str:
    return dump(transcript_message(transcript))


def transcript_failed(failure: UtteranceFailed) -> str:
    """An utterance that could not be transcribed: the transcript message's shape, no text, and the status object
    of the reference's other server messages (4080 "Unable to transcribe the audio"). The stream goes on."""
    return dump(
        {
            "message": "transcript",
            "start": failure.start_ms,
            "end": failure.end_ms,
            "utterance": [],
            "status": _status(Status.UNABLE_TO_TRANSCRIBE),
        }
    )

"""The AudioHook `event` message's transcript entity (Transcription Connector), built from a finished utterance.

Sans-I/O: a Transcript in, the entity's JSON out, as Genesys' schema (EventEntityDataTranscript) has it: the channel
by its index in the session's media, offset and duration on the session's position clock, one alternative with the
model's confidence, one `display` interpretation whose tokens are the words shown (redacted where redaction is on),
timed from the model's words.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from mediagw.transcripts import Token, Transcript


@dataclass(frozen=True)
class WordTiming:
    """A word shown, on the session clock."""

    value: str
    offset_ms: int
    duration_ms: int
    confidence: float


def duration(ms: int) -> str:
    """Milliseconds as the protocol's ISO 8601 duration ("PT1.25S")."""
    seconds = f"{max(ms, 0) / 1000:.3f}".rstrip("0").rstrip(".")
    return f"PT{seconds}S"


def transcript_entity(
    transcript: Transcript, *, channel_id: int, shift_ms: int, language: str, words: bool
) -> dict[str, Any]:
    """`shift_ms`: where the stream's clock 0 sits on the session's position clock."""
    confidence = 0.0 if transcript.confidence is None else transcript.confidence
    interpretation: dict[str, Any] = {"type": "display", "transcript": transcript.text}
    if words:
        interpretation["tokens"] = [
            {
                "type": "word",
                "value": word.value,
                "confidence": word.confidence,
                "offset": duration(word.offset_ms),
                "duration": duration(word.duration_ms),
                "language": language,
            }
            for word in shown_words(transcript, shift_ms, confidence)
        ]
    data = {
        "id": str(uuid.uuid4()),
        "channelId": channel_id,
        "isFinal": True,
        "offset": duration(transcript.start_ms + shift_ms),
        "duration": duration(transcript.end_ms - transcript.start_ms),
        "alternatives": [{"confidence": confidence, "languages": [language], "interpretations": [interpretation]}],
    }
    return {"type": "transcript", "data": data}


def shown_words(transcript: Transcript, shift_ms: int, confidence: float) -> list[WordTiming]:
    """The displayed text's words with times and confidences from the model's words: one to one where formatting
    kept their number, else each displayed word takes the model words under the same share of the text (a card
    number written as one run of digits spans the spoken digits; its confidence is the least of theirs). Offsets
    rise strictly, as the protocol's consumers key tokens by offset."""
    shown = transcript.text.split()
    timed = [t for t in transcript.timings if t.content] or [_whole(transcript, confidence)]
    spans = [[t] for t in timed] if len(shown) == len(timed) else _by_share(shown, timed)
    out: list[WordTiming] = []
    last = -1
    for value, under in zip(shown, spans, strict=True):
        start = max(min(t.start_ms for t in under) + shift_ms, last + 1)
        end = max(max(t.end_ms for t in under) + shift_ms, start)
        probability = min((t.confidence for t in under if t.confidence is not None), default=confidence)
        out.append(WordTiming(value, start, end - start, round(probability, 4)))
        last = start
    return out


def _whole(transcript: Transcript, confidence: float) -> Token:
    return Token("", transcript.start_ms, transcript.end_ms, confidence=confidence)


def _by_share(shown: list[str], timed: list[Token]) -> list[list[Token]]:
    """Each shown word -> the timed words whose share of the model's text overlaps its share of the shown text."""
    shown_total = sum(len(w) + 1 for w in shown)
    timed_total = sum(len(t.content) + 1 for t in timed)
    edges, at = [], 0
    for token in timed:
        edges.append((at / timed_total, (at + len(token.content) + 1) / timed_total))
        at += len(token.content) + 1
    spans, at = [], 0
    for word in shown:
        low, high = at / shown_total, (at + len(word) + 1) / shown_total
        at += len(word) + 1
        under = [t for t, (a, b) in zip(timed, edges, strict=True) if a < high and b > low]
        spans.append(under or [timed[min(int(low * len(timed)), len(timed) - 1)]])
    return spans

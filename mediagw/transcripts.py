"""What the pipeline hands to outputs: one finished utterance of one stream."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from asr.recognizer import Word
from redaction.languages import ENGLISH, spoken_form

_LEADING = re.compile(r"^[\"'(\[¿¡]+")
_TRAILING = re.compile(r"[\"')\].,!?;:…]+$")


@dataclass(frozen=True)
class Token:
    content: str
    start_ms: int  # relative to the stream's first audio
    end_ms: int
    punctuation_before: str = ""
    punctuation_after: str = ""
    confidence: float | None = None  # the model's probability for the word (the mean of its tokens')


@dataclass(frozen=True)
class Transcript:
    stream_id: str
    sequence: int  # 0, 1, 2... in the order utterances were spoken
    start_ms: int
    end_ms: int
    text: str
    tokens: tuple[Token, ...] | None  # present when detailed tokens were asked for
    closed_at: float  # loop time when the segmenter closed the utterance
    decode_ms: float
    unredacted_text: str | None = None  # only for redactionOutput redacted_and_unredacted
    confidence: float | None = None  # exp(mean token log probability): the model's own, never a constant
    timings: tuple[Token, ...] = ()  # the model's words, timed (word timings asked for): never serialised as is


def tokens_from_words(
    words: Iterable[Word], offset_ms: int, bounds: tuple[int, int], smart_formatting: bool, language: str = ENGLISH
) -> tuple[Token, ...]:
    """Model words (' Hi,') to tokens with punctuation split off and stream-relative times kept within `bounds`.

    Whisper tends to start the first word at the very beginning of the audio, inside the pre-roll; clamping
    keeps every token within the utterance's speech.
    """
    low, high = bounds
    tokens: list[Token] = []
    carried_before = ""
    for word in words:
        text = word.text.strip()
        before = _LEADING.match(text)
        after = _TRAILING.search(text)
        content = text[before.end() if before else 0 : after.start() if after else len(text)]
        if not smart_formatting:
            content, before, after = spoken_form(content, language), None, None
        if not content:  # the aligner gives punctuation as words of its own: attach it to a neighbour
            if smart_formatting and tokens and not _LEADING.fullmatch(text):
                last = tokens[-1]
                tokens[-1] = replace(last, punctuation_after=last.punctuation_after + text)
            elif smart_formatting:
                carried_before += text
            continue
        tokens.append(
            Token(
                content,
                min(max(offset_ms + word.start_ms, low), high),
                min(max(offset_ms + word.end_ms, low), high),
                carried_before + (before.group(0) if before else ""),
                after.group(0) if after else "",
                word.probability,
            )
        )
        carried_before = ""
    return tuple(tokens)

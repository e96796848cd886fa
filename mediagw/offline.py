"""Transcribe an audio file through the same segmenter and recognizer as live streams, without a server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from tqdm import tqdm

from asr.frame import FRAME_SAMPLES, SAMPLE_RATE, FrameAssembler, Pcm
from asr.recognizer import RecognitionRequest, Recognizer
from asr.segmenter import Segment, Segmenter, SegmenterOptions


@dataclass(frozen=True)
class FileUtterance:
    channel: int
    start_ms: int
    end_ms: int
    text: str


def read_channels(path: Path) -> list[Pcm]:
    """Every channel of a sound file as 8 kHz int16 PCM."""
    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    if rate != SAMPLE_RATE:
        audio = soxr.resample(audio, rate, SAMPLE_RATE, "HQ")
    return [(np.clip(audio[:, c], -1, 1) * 32767).astype(np.int16) for c in range(audio.shape[1])]


def segments(samples: Pcm, options: SegmenterOptions) -> Iterator[Segment]:
    return (segment for _, segment in _segmented(samples, options))


def asr_segments(samples: Pcm, options: SegmenterOptions) -> Iterator[tuple[Segment, Pcm]]:
    """Each utterance, with the audio ASR decodes of it (the line's noise taken out: segmenter.denoise)."""
    return ((segment, segmenter.asr_samples(segment)) for segmenter, segment in _segmented(samples, options))


def _segmented(samples: Pcm, options: SegmenterOptions) -> Iterator[tuple[Segmenter, Segment]]:
    segmenter, assembler = Segmenter(options), FrameAssembler()
    for frame in [*assembler.push(samples), *assembler.flush()]:
        for segment in segmenter.push(frame):
            yield segmenter, segment
    for segment in segmenter.flush():
        yield segmenter, segment


def transcribe_file(
    path: Path, recognizer: Recognizer, options: SegmenterOptions, show_progress: bool = True, language: str = "en"
) -> list[FileUtterance]:
    """Every channel's utterances decoded in `language` (ISO 639-1)."""
    channels = read_channels(path)
    total_frames = sum(len(c) for c in channels) // FRAME_SAMPLES
    out: list[FileUtterance] = []
    with tqdm(total=total_frames, unit="frame", disable=not show_progress, desc=path.name) as progress:
        for index, samples in enumerate(channels):
            done = 0
            for segment, audio in asr_segments(samples, options):
                result = recognizer.recognize(RecognitionRequest(audio, language=language))
                if result.text:
                    out.append(FileUtterance(index, segment.start_ms, segment.end_ms, result.text))
                reached = segment.closed_at_ms * SAMPLE_RATE // 1000 // FRAME_SAMPLES
                progress.update(max(0, min(reached, len(samples) // FRAME_SAMPLES) - done))
                done = max(done, min(reached, len(samples) // FRAME_SAMPLES))
            progress.update(len(samples) // FRAME_SAMPLES - done)
    return sorted(out, key=lambda u: (u.start_ms, u.channel))

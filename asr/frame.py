"""The one media unit after ingress: 8 kHz mono signed 16-bit PCM, tagged with its place in the stream."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000  # 160
FRAME_BYTES = FRAME_SAMPLES * 2

Pcm = npt.NDArray[np.int16]


@dataclass(frozen=True, slots=True)
class Frame:
    """`samples` of audio starting `position_ms` after the stream's first audio."""

    position_ms: int
    samples: Pcm

    @property
    def duration_ms(self) -> int:
        return len(self.samples) * 1000 // SAMPLE_RATE

    @property
    def end_ms(self) -> int:
        return self.position_ms + self.duration_ms


class FrameAssembler:
    """Cuts PCM arriving in chunks of any size into whole 20 ms frames with a running media clock."""

    def __init__(self, start_ms: int = 0) -> None:
        """`start_ms`: where this audio sits on the stream's clock (transcription resumed after a stop)."""
        self._pending = np.zeros(0, dtype=np.int16)
        self._start_ms = start_ms
        self._samples_emitted = 0

    @property
    def position_ms(self) -> int:
        return self._start_ms + self._samples_emitted * 1000 // SAMPLE_RATE

    def push(self, samples: Pcm) -> list[Frame]:
        buffered = np.concatenate((self._pending, samples)) if len(self._pending) else samples
        whole = len(buffered) // FRAME_SAMPLES * FRAME_SAMPLES
        frames = [self._frame(buffered[i : i + FRAME_SAMPLES]) for i in range(0, whole, FRAME_SAMPLES)]
        self._pending = buffered[whole:].copy()
        return frames

    def flush(self) -> list[Frame]:
        """The tail shorter than a frame, padded with silence so nothing is dropped."""
        if not len(self._pending):
            return []
        tail = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        tail[: len(self._pending)] = self._pending
        self._pending = np.zeros(0, dtype=np.int16)
        return [self._frame(tail)]

    def _frame(self, samples: Pcm) -> Frame:
        frame = Frame(self.position_ms, samples)
        self._samples_emitted += len(samples)
        return frame

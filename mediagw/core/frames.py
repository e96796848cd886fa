"""The one frame type adapters feed the core, and the one place a gap in the media is filled."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from asr.frame import Pcm

Decode = Callable[[bytes], Pcm]


@dataclass(slots=True)
class Frame:
    """`sample_count` samples of one role's audio at `position` (samples since the attachment's first audio, on
    the adapter's own clock). The audio stays as received (`payload`, decoded by `decode`) until the core knows
    it is transcribed: most audio is only counted. `payload` None is silence (audio paused or discarded).
    Not frozen, for the cost of making one per packet; nothing changes a frame once made."""

    position: int
    sample_count: int
    payload: bytes | Pcm | None = None
    decode: Decode | None = None

    @classmethod
    def of_pcm(cls, position: int, samples: Pcm) -> Frame:
        return cls(position, len(samples), samples)

    @classmethod
    def encoded(cls, position: int, payload: bytes, decode: Decode, sample_count: int | None = None) -> Frame:
        """`sample_count` defaults to one sample a byte (G.711)."""
        return cls(position, len(payload) if sample_count is None else sample_count, payload, decode)

    @classmethod
    def silence(cls, position: int, sample_count: int) -> Frame:
        return cls(position, sample_count)

    def pcm(self) -> Pcm:
        payload = self.payload
        if payload is None:
            return np.zeros(self.sample_count, dtype=np.int16)
        if isinstance(payload, bytes):
            assert self.decode is not None
            return self.decode(payload)
        return payload


def fill_gap(sample_count: int) -> Pcm:
    """Audio for `sample_count` samples that never arrived (lost packets, a skipped timestamp): silence today.
    The one place where concealment (repeating or fading the last audio) would go."""
    return np.zeros(sample_count, dtype=np.int16)

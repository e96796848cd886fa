"""Telephone-band PCM to the 16 kHz float signal the Whisper feature extractor expects (soxr, not interpolation)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import soxr

from asr.frame import SAMPLE_RATE, Pcm

MODEL_RATE = 16000


def to_model_rate(samples: Pcm, quality: str = "HQ") -> npt.NDArray[np.float32]:
    """Upsample int16 8 kHz PCM to float32 16 kHz in [-1, 1]."""
    signal = samples.astype(np.float32) / 32768.0
    if not len(signal):
        return signal
    out: npt.NDArray[np.float32] = soxr.resample(signal, SAMPLE_RATE, MODEL_RATE, quality)
    return out

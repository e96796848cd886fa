"""A stream's line noise taken out of each utterance before ASR: spectral subtraction with the noise spectrum the
stream itself shows between utterances.

Hiss at 12 dB SNR cost tiny.en about 6 WER points that offline `transcribe()` of the same channel does not lose
(bench.replay --line-seeds). Stationary line noise (hiss, hum) has a steady power spectrum: learnt from the
unvoiced frames between utterances near the noise floor (asr/segmenter.py), three times that spectrum is
subtracted from each short-time spectrum of an utterance, down to a floor gain that keeps some of the noise.
Subtracting all of it leaves "musical noise" that costs Whisper words; WebRTC's noise suppressor, tried the same
way, lost more words than it saved (bench/README.md). A clean line's noise is its codec's quantisation, below
QUIET_RMS: its utterances pass unchanged.

Pure numpy, sans-I/O: frames in, samples out.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from asr.frame import Pcm

FFT = 256  # 32 ms at 8 kHz: the analysis block
HOP = FFT // 2
RATE = 0.05  # the spectrum follows each non-speech frame (20 ms) by this much: a time constant of ~0.4 s
QUIET_RMS = 8.0  # line noise below this (int16 RMS, about -72 dBFS: a clean line's codec quantisation) is left be
_FOLD_AT = 25  # observed blocks are transformed together, once this many wait
_WINDOW = np.sqrt(np.hanning(FFT + 1)[:-1])  # sqrt-Hann in and out: at 50 % overlap the two sum to one


class LineNoise:
    """One stream's noise spectrum and its suppressor. `observe` non-speech frames; `suppress` an utterance."""

    def __init__(self, strength: float = 3.0, floor: float = 0.3) -> None:
        self._strength = strength  # how many times the noise spectrum is subtracted
        self._floor_power = floor * floor  # the least gain (of amplitude), squared
        self._spectrum: npt.NDArray[np.float64] | None = None  # the noise's power per FFT bin
        self._recent = np.zeros(0, dtype=np.float64)  # the last observed samples: each block is FFT long
        self._blocks: list[npt.NDArray[np.float64]] = []

    @property
    def learnt(self) -> bool:
        self._fold()
        return self._spectrum is not None

    @property
    def noise_rms(self) -> float:
        """The learnt noise's level (int16 RMS; 0 until some was observed), from its spectrum (Parseval)."""
        self._fold()
        if self._spectrum is None:
            return 0.0
        power = self._spectrum[0] + 2 * self._spectrum[1:-1].sum() + self._spectrum[-1]
        return float(np.sqrt(power / FFT / float(_WINDOW @ _WINDOW)))

    def observe(self, samples: Pcm) -> None:
        """A frame with no speech in it. Digital silence (a lost packet filled with zeros) is not line noise."""
        if not samples.any():
            return
        self._recent = np.concatenate((self._recent, samples.astype(np.float64)))[-FFT:]
        if len(self._recent) == FFT:
            self._blocks.append(self._recent)
            if len(self._blocks) >= _FOLD_AT:
                self._fold()

    def suppress(self, samples: Pcm) -> Pcm:
        """`samples` with the learnt noise subtracted; unchanged until some noise has been observed, and on a
        quiet line (below QUIET_RMS), where any change would be to the speech alone."""
        if self.noise_rms < QUIET_RMS or len(samples) == 0 or self._spectrum is None:
            return samples
        signal = np.concatenate((np.zeros(FFT), samples.astype(np.float64), np.zeros(FFT)))
        spectra = np.fft.rfft(sliding_window_view(signal, FFT)[::HOP] * _WINDOW, axis=1)
        power = np.maximum(np.abs(spectra) ** 2, 1e-12)
        gain = np.sqrt(np.maximum(1.0 - self._strength * self._spectrum / power, self._floor_power))
        blocks = np.fft.irfft(spectra * gain, n=FFT, axis=1) * _WINDOW
        out = np.zeros(len(blocks) * HOP + HOP)
        out[: len(blocks) * HOP] += blocks[:, :HOP].ravel()
        out[HOP:] += blocks[:, HOP:].ravel()
        return np.clip(np.rint(out[FFT : FFT + len(samples)]), -32768, 32767).astype(np.int16)

    def _fold(self) -> None:
        """The waiting blocks into the running spectrum: an exponential average, in one transform."""
        if not self._blocks:
            return
        power = np.abs(np.fft.rfft(np.stack(self._blocks) * _WINDOW, axis=1)) ** 2
        self._blocks = []
        if self._spectrum is None:
            self._spectrum, power = power[0], power[1:]
        n = len(power)
        if n:
            weights = RATE * (1.0 - RATE) ** np.arange(n - 1, -1, -1)
            self._spectrum = (1.0 - RATE) ** n * self._spectrum + weights @ power

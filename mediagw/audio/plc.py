"""Packet-loss concealment for 8 kHz PCM, sans-I/O, in the manner of G.711 Appendix I.

A lost stretch is filled with the last pitch period before it, repeated, fading out (full level for 10 ms, then
-20 % per 10 ms, silence after 60 ms); the first good audio after a loss is cross-faded from the concealment, so
neither edge clicks. The number of samples never changes: the media clock stays exact.
"""

from __future__ import annotations

import numpy as np

from asr.frame import FRAME_SAMPLES, Pcm

HISTORY = 390  # 48.75 ms: enough for three periods of the lowest pitch searched
MIN_PERIOD, MAX_PERIOD = 20, 120  # 400 Hz .. 66 Hz at 8 kHz
FULL_LEVEL = 80  # samples (10 ms) at full level
STEP = 80  # then the gain falls by DECAY every 10 ms
DECAY = 0.2
CROSSFADE = 32  # 4 ms


class Concealer:
    """One stream's concealment: feed it every good chunk (`good`) and ask it for each loss (`lost`)."""

    def __init__(self) -> None:
        self._history = np.zeros(HISTORY, dtype=np.float32)
        self._seen = 0
        self._period = 0
        self._phase = 0  # where in the repeated period the next concealed sample comes from
        self._concealed = 0  # samples concealed since the last good audio
        self._pending_fade = False

    def good(self, samples: Pcm) -> Pcm:
        """Good audio, returned as is but for a cross-fade when it follows a loss."""
        out = samples
        if self._pending_fade and len(samples):
            n = min(CROSSFADE, len(samples))
            tail = self._next(n).astype(np.float32)
            ramp = np.linspace(0.0, 1.0, n + 2, dtype=np.float32)[1:-1]
            head = samples[:n].astype(np.float32) * ramp + tail * (1 - ramp)
            out = samples.copy()
            out[:n] = np.clip(np.round(head), -32768, 32767).astype(np.int16)
        self._pending_fade = False
        self._concealed = 0
        self._remember(samples)
        return out

    def lost(self, count: int) -> Pcm:
        """`count` samples to stand in for lost audio."""
        if count <= 0:
            return np.zeros(0, dtype=np.int16)
        if self._seen < HISTORY:
            return np.zeros(count, dtype=np.int16)
        if self._concealed == 0:
            self._period = _pitch_period(self._history)
            self._phase = 0
        out = self._next(count)
        self._pending_fade = self._concealed < FULL_LEVEL + STEP * int(1 / DECAY)
        return out

    def _next(self, count: int) -> Pcm:
        period = self._history[-self._period :]
        index = (self._phase + np.arange(count)) % self._period
        gain = _gain(self._concealed + np.arange(count))
        self._phase = (self._phase + count) % self._period
        self._concealed += count
        out: Pcm = np.clip(np.round(period[index] * gain), -32768, 32767).astype(np.int16)
        return out

    def _remember(self, samples: Pcm) -> None:
        chunk = samples[-HISTORY:].astype(np.float32)
        self._history = np.concatenate((self._history[len(chunk) :], chunk))
        self._seen += len(samples)


def _gain(offsets: np.ndarray) -> np.ndarray:
    steps = np.maximum(0, (offsets - FULL_LEVEL) // STEP + 1)
    gain: np.ndarray = np.clip(1.0 - DECAY * steps, 0.0, 1.0).astype(np.float32)
    return gain


def _pitch_period(history: np.ndarray) -> int:
    """The lag in MIN_PERIOD..MAX_PERIOD whose normalised autocorrelation over the last 20 ms is highest."""
    target = history[-160:]
    best, best_score = MAX_PERIOD, -np.inf
    energy_t = float(np.dot(target, target)) + 1e-6
    for lag in range(MIN_PERIOD, MAX_PERIOD + 1):
        ref = history[-160 - lag : -lag]
        score = float(np.dot(target, ref)) / np.sqrt(energy_t * (float(np.dot(ref, ref)) + 1e-6))
        if score > best_score:
            best, best_score = lag, score
    return best


def conceal_losses(samples: Pcm, lost_frames: tuple[int, ...] | list[int], frame: int = FRAME_SAMPLES) -> Pcm:
    """`samples` whose 20 ms frames at `lost_frames` were lost (any content), concealed: for offline use."""
    lost = set(lost_frames)
    concealer = Concealer()
    out = np.empty_like(samples)
    for start in range(0, len(samples), frame):
        chunk = samples[start : start + frame]
        out[start : start + len(chunk)] = (
            concealer.lost(len(chunk)) if start // frame in lost else concealer.good(chunk)
        )
    return out

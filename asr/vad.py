"""Frame-level voice activity: webrtcvad or Silero VAD, one object per stream, 20 ms frames of 8 kHz PCM in,
one bool per frame out (`label`, for any number of frames at once).

Silero (the ONNX model faster-whisper ships, on onnxruntime) works at 16 kHz on 32 ms windows carrying an LSTM
state: each stream keeps its own resampler, state and unprocessed tail; the session is shared. The frames given
to one `label` call go through the model in one run (its input is a sequence of windows of one stream; the v6
model's state has a batch of one, so streams cannot share a run). A frame is voiced by the newest window's
probability, with hysteresis (on at `threshold`, off below `end_threshold`; Silero's own
`get_speech_timestamps` ends 0.15 below the start). Silero costs ~0.1 ms of CPU a window, too much for the
event loop at scale: `off_loop` tells the pipeline to label in asr/vad_thread.py instead.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import soxr
import webrtcvad

from asr.frame import FRAME_MS, SAMPLE_RATE, Pcm
from asr.resample import MODEL_RATE

VADS = ("combined", "silero", "webrtc")
SILERO_WINDOW = 512  # samples at 16 kHz (32 ms)
SILERO_CONTEXT = 64
NOISE_RATE = 0.02  # per non-speech frame: the line's noise is learnt over ~50 of them (1 s)
NOISY_SHARE = 0.5  # webrtcvad calling this share of a line's non-speech voiced tells speech from it no better than all


@dataclass(frozen=True)
class VadOptions:
    kind: str = "combined"
    aggressiveness: int = 2  # webrtcvad mode 0..3
    threshold: float = 0.5  # Silero speech probability that starts speech...
    end_threshold: float = 0.35  # ...and below which it ends (hysteresis)
    hold_ms: int = 300  # combined: webrtcvad's frames count this long after Silero's speech ends...
    hold_noisy_ms: int = 100  # ...or this long on a line whose noise webrtcvad hears as speech


class Vad(Protocol):
    off_loop: bool  # too costly for the event loop: label in asr/vad_thread.py

    def label(self, frames: Sequence[Pcm]) -> list[bool]:
        """Whether each of a stream's next frames is voiced (called in stream order, never concurrently)."""
        ...

    def close(self) -> None:
        """The stream is over: let go of native state now (a soxr stream left to a reference cycle is reported as
        leaked at exit)."""
        ...


class WebrtcVad:
    off_loop = False  # ~5 us a frame

    def __init__(self, aggressiveness: int) -> None:
        self._vad = webrtcvad.Vad(aggressiveness)

    def label(self, frames: Sequence[Pcm]) -> list[bool]:
        return [bool(self._vad.is_speech(samples.tobytes(), SAMPLE_RATE)) for samples in frames]

    def close(self) -> None:
        pass


@functools.cache
def _silero_session() -> Any:
    import faster_whisper
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    options.log_severity_level = 4
    path = Path(faster_whisper.__file__).parent / "assets" / "silero_vad_v6.onnx"
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"], sess_options=options)


class SileroVad:
    off_loop = True

    def __init__(self, threshold: float, end_threshold: float) -> None:
        self._session = _silero_session()
        self._on, self._off = threshold, min(threshold, end_threshold)
        self._resampler: soxr.ResampleStream | None = soxr.ResampleStream(
            SAMPLE_RATE, MODEL_RATE, 1, dtype="float32", quality="QQ"
        )
        self._pending = np.zeros(0, dtype=np.float32)
        self._context = np.zeros(SILERO_CONTEXT, dtype=np.float32)
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._voiced = False
        self.scored_windows = 0  # windows the model has run on (CombinedVad skips some)

    def label(self, frames: Sequence[Pcm]) -> list[bool]:
        windows, ends = self._windows(frames)
        probabilities = self._run(np.stack(windows)) if windows else np.zeros(0, dtype=np.float32)
        voiced, labels, done = self._voiced, [], 0
        for end in ends:
            for probability in probabilities[done:end]:
                voiced = bool(probability >= (self._off if voiced else self._on))
            labels.append(voiced)
            done = end
        self._voiced = voiced
        return labels

    def skip(self, frames: Sequence[Pcm]) -> None:
        """Audio heard but not scored: the stream's windows move on, the model's state waits (CombinedVad's
        silences, where the label is unvoiced whatever Silero would say)."""
        windows, _ = self._windows(frames)
        if windows:
            self._context = windows[-1][-SILERO_CONTEXT:].copy()
        self._voiced = False

    def _windows(self, frames: Sequence[Pcm]) -> tuple[list[np.ndarray], list[int]]:
        """The windows `frames` complete (at 16 kHz, resampled frame by frame) and, per frame, how many were
        complete once it was in."""
        if self._resampler is None:
            raise RuntimeError("this stream's VAD is closed")
        windows: list[np.ndarray] = []
        ends: list[int] = []
        for samples in frames:
            up = self._resampler.resample_chunk(samples.astype(np.float32) / 32768.0)
            self._pending = np.concatenate((self._pending, up))
            whole = len(self._pending) // SILERO_WINDOW
            windows += [self._pending[i * SILERO_WINDOW : (i + 1) * SILERO_WINDOW] for i in range(whole)]
            self._pending = self._pending[whole * SILERO_WINDOW :]
            ends.append(len(windows))
        return windows, ends

    def close(self) -> None:
        self._resampler = None

    def _run(self, windows: np.ndarray) -> np.ndarray:
        """One model run over consecutive windows; each row carries the 64 samples before it."""
        previous = np.concatenate((self._context[None, :], windows[:-1, -SILERO_CONTEXT:]))
        self._context = windows[-1, -SILERO_CONTEXT:].copy()
        batch = np.concatenate((previous, windows), axis=1)
        self.scored_windows += len(windows)
        out, self._h, self._c = self._session.run(None, {"input": batch, "h": self._h, "c": self._c})
        return np.asarray(out, dtype=np.float32).reshape(-1)


# CombinedVad: a silence webrtcvad has heard this long (200 ms; a lost packet's hole is shorter) spares Silero
SKIP_AFTER_FRAMES = 10


class CombinedVad:
    """webrtcvad's frames inside Silero's speech (and a hold after it): Silero keeps line noise and lost packets
    from opening utterances, webrtcvad's hangover keeps a sentence's pauses inside it (Silero ends speech ~100 ms
    sooner, so a comma's pause would end it).

    The hold adapts to the line: where webrtcvad calls the stream's non-speech voiced (hiss, babble), its frames
    after Silero's end are the noise, not a sentence going on, and holding them only delays every end. The share
    of frames well outside speech that webrtcvad calls voiced (a running mean over ~1 s of them; lost packets,
    digital silence, not counted) moves the hold from `hold_ms` (a clean line) to `hold_noisy_ms` (half or
    more)."""

    off_loop = True

    def __init__(self, options: VadOptions) -> None:
        self._silero = SileroVad(options.threshold, options.end_threshold)
        self._webrtc = WebrtcVad(options.aggressiveness)
        self._hold = options.hold_ms // FRAME_MS
        self._hold_noisy = min(options.hold_noisy_ms, options.hold_ms) // FRAME_MS
        self._since_speech = self._hold + 1  # frames since Silero last heard speech
        self._unvoiced_run = 0  # frames in a row webrtcvad called unvoiced
        self.noise_voiced = 0.0  # how often webrtcvad calls this line's non-speech voiced (0..1)

    def label(self, frames: Sequence[Pcm]) -> list[bool]:
        """Silero is not run on a frame in a silence webrtcvad has heard for SKIP_AFTER_FRAMES once Silero's speech
        and hold are over: the label is unvoiced there whatever it says. A clean line's silences (the other
        party's turns) are half its audio, and Silero is the combined VAD's main cost at scale. A lost packet's
        hole is too short to be skipped, so a bad line's Silero state is as before. Which frames are skipped
        depends on the frames alone, never on how they were grouped into calls."""
        webrtcs = self._webrtc.label(frames)
        quiet = []  # per frame: in a long enough webrtcvad silence to be skipped
        for webrtc in webrtcs:
            self._unvoiced_run = 0 if webrtc else self._unvoiced_run + 1
            quiet.append(self._unvoiced_run >= SKIP_AFTER_FRAMES)
        labels: list[bool] = []
        start = 0
        while start < len(frames):
            end = start + 1
            if quiet[start] and self._since_speech > self._hold:
                while end < len(frames) and quiet[end]:
                    end += 1
                self._silero.skip(frames[start:end])
                silero = [False] * (end - start)
            else:  # up to the next frame that may be skipped: that depends on these frames' verdicts
                while end < len(frames) and not quiet[end]:
                    end += 1
                silero = self._silero.label(frames[start:end])
            for samples, speech, webrtc in zip(frames[start:end], silero, webrtcs[start:end], strict=True):
                labels.append(self._combine(samples, speech, webrtc))
            start = end
        return labels

    def _combine(self, samples: Pcm, silero: bool, webrtc: bool) -> bool:
        self._since_speech = 0 if silero else self._since_speech + 1
        if self._since_speech > self._hold and samples.any():
            self.noise_voiced += NOISE_RATE * (float(webrtc) - self.noise_voiced)
        return webrtc and self._since_speech <= self.hold_frames

    @property
    def hold_frames(self) -> int:
        noisy = min(1.0, self.noise_voiced / NOISY_SHARE)
        return round(self._hold - (self._hold - self._hold_noisy) * noisy)

    def close(self) -> None:
        self._silero.close()


def make_vad(options: VadOptions) -> Vad:
    if options.kind == "combined":
        return CombinedVad(options)
    if options.kind == "silero":
        return SileroVad(options.threshold, options.end_threshold)
    if options.kind == "webrtc":
        return WebrtcVad(options.aggressiveness)
    raise ValueError(f"segmenter.vad must be one of {', '.join(VADS)}, not {options.kind!r}")

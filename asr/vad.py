"""Frame-level voice activity: webrtcvad or Silero VAD, one object per stream, 20 ms of 8 kHz PCM in, a bool out.

Silero (the ONNX model faster-whisper ships, on onnxruntime) works at 16 kHz on 32 ms windows carrying an LSTM
state: each stream keeps its own resampler, state and unprocessed tail; the session is shared. A frame is voiced
by the newest window's probability, with hysteresis (on at `threshold`, off below `threshold - 0.15`, as Silero's
own `get_speech_timestamps` does).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import soxr
import webrtcvad

from asr.frame import SAMPLE_RATE, Pcm
from asr.resample import MODEL_RATE

VADS = ("webrtc", "silero")
SILERO_WINDOW = 512  # samples at 16 kHz (32 ms)
SILERO_CONTEXT = 64


@dataclass(frozen=True)
class VadOptions:
    kind: str = "webrtc"
    aggressiveness: int = 2  # webrtcvad mode 0..3
    threshold: float = 0.5  # Silero speech probability


class Vad(Protocol):
    def is_speech(self, samples: Pcm) -> bool: ...


class WebrtcVad:
    def __init__(self, aggressiveness: int) -> None:
        self._vad = webrtcvad.Vad(aggressiveness)

    def is_speech(self, samples: Pcm) -> bool:
        return bool(self._vad.is_speech(samples.tobytes(), SAMPLE_RATE))


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
    def __init__(self, threshold: float) -> None:
        self._session = _silero_session()
        self._on, self._off = threshold, max(0.01, threshold - 0.15)
        self._resampler = soxr.ResampleStream(SAMPLE_RATE, MODEL_RATE, 1, dtype="float32", quality="QQ")
        self._pending = np.zeros(0, dtype=np.float32)
        self._context = np.zeros(SILERO_CONTEXT, dtype=np.float32)
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._voiced = False

    def is_speech(self, samples: Pcm) -> bool:
        up = self._resampler.resample_chunk(samples.astype(np.float32) / 32768.0)
        self._pending = np.concatenate((self._pending, up))
        while len(self._pending) >= SILERO_WINDOW:
            window, self._pending = self._pending[:SILERO_WINDOW], self._pending[SILERO_WINDOW:]
            probability = self._run(window)
            self._voiced = probability >= (self._off if self._voiced else self._on)
        return self._voiced

    def _run(self, window: np.ndarray) -> float:
        batch = np.concatenate((self._context, window))[None, :]
        self._context = window[-SILERO_CONTEXT:]
        out, self._h, self._c = self._session.run(None, {"input": batch, "h": self._h, "c": self._c})
        return float(np.asarray(out).reshape(-1)[0])


def make_vad(options: VadOptions) -> Vad:
    if options.kind == "silero":
        return SileroVad(options.threshold)
    if options.kind == "webrtc":
        return WebrtcVad(options.aggressiveness)
    raise ValueError(f"segmenter.vad must be one of {', '.join(VADS)}, not {options.kind!r}")

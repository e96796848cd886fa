"""One WebRTC track's decoded audio (aiortc's frames: Opus at 48 kHz stereo, G.711 at 8 kHz mono) to the core's
8 kHz mono 16-bit PCM with PyAV's resampler (libswresample: ~2 ms of delay, where soxr's streaming resampler
holds back 60 to 140 ms), placed on the track's own clock: a jump in RTP time (lost packets, DTX) is a gap."""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np

from asr.frame import SAMPLE_RATE, Pcm


@dataclass(frozen=True, slots=True)
class Converted:
    position: int  # where the samples start on the track's 8 kHz clock
    samples: Pcm


class TrackAudio:
    """One per track, fed in order (aiortc hands a track's frames in RTP order, pts from 0)."""

    __slots__ = ("_position", "_resampler")

    def __init__(self) -> None:
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        self._position = 0  # where the next output starts when a frame carries no time

    def convert(self, frame: av.AudioFrame) -> list[Converted]:
        """The frame's audio at 8 kHz; the resampler carries its output's time from the input's (gaps kept).
        ValueError when the frame's format changes mid-stream (a new codec after renegotiation)."""
        out = []
        for resampled in self._resampler.resample(frame):
            samples: Pcm = np.ascontiguousarray(resampled.to_ndarray().reshape(-1))
            position = self._position if resampled.pts is None else int(resampled.pts)
            out.append(Converted(position, samples))
            self._position = position + len(samples)
        return out

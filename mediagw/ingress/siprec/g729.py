"""Optional G.729 (Annex A, Annex B SID) through libbcg729 by ctypes; without the library, G.729 is not offered.

Uses the bcg729 >= 1.0.2 API (decoder.h/encoder.h): the decoder takes the frame length and the
SID and RFC 3389 flags. The library is loaded on first use, so importing this module never fails.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import Self

import numpy as np

from asr.frame import Pcm

FRAME_BYTES = 10  # one 10 ms voice frame
SID_BYTES = 2  # one Annex B comfort-noise (SID) frame
FRAME_SAMPLES = 80
MAX_CONCEAL_FRAMES = 12  # past 120 ms the decoder's concealment has faded out: the rest is silence
_LIBRARY_NAMES = ("libbcg729.so.0", "libbcg729.so")
_FRAME_BYTES_OUT = FRAME_SAMPLES * 2


def _declare(library: ctypes.CDLL) -> None:
    """Signatures from bcg729's headers; AttributeError when a symbol is missing."""
    # Only the new API exports bcg729GetRFC3389Payload: the old 4-argument bcg729Decoder must not be called so.
    library.bcg729GetRFC3389Payload.restype = None
    library.initBcg729DecoderChannel.argtypes = []
    library.initBcg729DecoderChannel.restype = ctypes.c_void_p
    library.closeBcg729DecoderChannel.argtypes = [ctypes.c_void_p]
    library.closeBcg729DecoderChannel.restype = None
    uint8 = ctypes.c_uint8
    library.bcg729Decoder.argtypes = [ctypes.c_void_p, ctypes.c_char_p, uint8, uint8, uint8, uint8, ctypes.c_void_p]
    library.bcg729Decoder.restype = None
    library.initBcg729EncoderChannel.argtypes = [ctypes.c_uint8]
    library.initBcg729EncoderChannel.restype = ctypes.c_void_p
    library.closeBcg729EncoderChannel.argtypes = [ctypes.c_void_p]
    library.closeBcg729EncoderChannel.restype = None
    out_bytes = ctypes.POINTER(ctypes.c_uint8)
    library.bcg729Encoder.argtypes = [ctypes.c_void_p, ctypes.c_void_p, out_bytes, out_bytes]
    library.bcg729Encoder.restype = None


@functools.cache
def _library() -> ctypes.CDLL | None:
    found = ctypes.util.find_library("bcg729")
    for name in (*_LIBRARY_NAMES, *([found] if found else [])):
        try:
            library = ctypes.CDLL(name)
            _declare(library)
        except (OSError, AttributeError):
            continue
        return library
    return None


def g729_available() -> bool:
    return _library() is not None


def _require() -> ctypes.CDLL:
    library = _library()
    if library is None:
        raise RuntimeError("G.729 needs libbcg729 (>= 1.0.2), which is not installed")
    return library


class _Channel:
    """A bcg729 context freed by close(), by `with`, or when garbage-collected."""

    def __init__(self, library: ctypes.CDLL, context: int | None, close: Callable[[int], object]) -> None:
        if not context:
            raise MemoryError("bcg729 could not allocate a channel context")
        self._library = library
        self._context: int | None = context
        self._finalizer = weakref.finalize(self, close, context)

    def close(self) -> None:
        self._context = None
        self._finalizer()

    def _live_context(self) -> int:
        if self._context is None:
            raise ValueError(f"{type(self).__name__} is closed")
        return self._context

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class G729Decoder(_Channel):
    """One stream's decoder: state carries across packets, so one instance per RTP stream."""

    def __init__(self) -> None:
        library = _require()
        super().__init__(library, library.initBcg729DecoderChannel(), library.closeBcg729DecoderChannel)

    def decode(self, payload: bytes) -> Pcm:
        """80 samples per 10-byte frame; a trailing 2-byte SID frame (RFC 3551 §4.5.6) gives comfort noise."""
        voice_frames, rest = divmod(len(payload), FRAME_BYTES)
        if rest not in (0, SID_BYTES):
            raise ValueError(f"G.729 payload is {len(payload)} bytes, not 10-byte frames plus at most one 2-byte SID")
        context = self._live_context()
        decoder = self._library.bcg729Decoder
        out = np.empty((voice_frames + (rest > 0)) * FRAME_SAMPLES, dtype=np.int16)
        address = out.ctypes.data
        for index in range(voice_frames):
            start = index * FRAME_BYTES
            frame = payload[start : start + FRAME_BYTES]
            decoder(context, frame, FRAME_BYTES, 0, 0, 0, address + index * _FRAME_BYTES_OUT)
        if rest:
            decoder(context, payload[-SID_BYTES:], SID_BYTES, 0, 1, 0, address + voice_frames * _FRAME_BYTES_OUT)
        return out

    def conceal(self, samples: int) -> Pcm:
        """`samples` of frame-erasure concealment (G.729 §4.4) for lost packets, silence past 120 ms."""
        if samples < 0:
            raise ValueError(f"cannot conceal {samples} samples")
        context = self._live_context()
        frames = -(-samples // FRAME_SAMPLES)
        out = np.zeros(frames * FRAME_SAMPLES, dtype=np.int16)
        address = out.ctypes.data
        for index in range(min(frames, MAX_CONCEAL_FRAMES)):
            self._library.bcg729Decoder(context, None, 0, 1, 0, 0, address + index * _FRAME_BYTES_OUT)
        return out[:samples]


class G729Encoder(_Channel):
    """Encoder for tests and simulators. With VAD on, silent frames become 2-byte SID or nothing."""

    def __init__(self, enable_vad: bool = False) -> None:
        library = _require()
        super().__init__(library, library.initBcg729EncoderChannel(int(enable_vad)), library.closeBcg729EncoderChannel)
        self._buffer = (ctypes.c_uint8 * FRAME_BYTES)()
        self._length = ctypes.c_uint8()

    def encode_frames(self, pcm: Pcm) -> list[bytes]:
        """One bitstream per 80 samples (10, 2 or 0 bytes); `pcm` must hold whole frames."""
        if len(pcm) % FRAME_SAMPLES:
            raise ValueError(f"G.729 encodes whole 80-sample frames, got {len(pcm)} samples")
        context = self._live_context()
        samples = np.ascontiguousarray(pcm, dtype=np.int16)
        address = samples.ctypes.data
        frames = []
        for index in range(len(samples) // FRAME_SAMPLES):
            self._library.bcg729Encoder(
                context, address + index * _FRAME_BYTES_OUT, self._buffer, ctypes.byref(self._length)
            )
            frames.append(bytes(self._buffer[: self._length.value]))
        return frames

    def encode(self, pcm: Pcm) -> bytes:
        """The frames back to back, as one RTP payload carries them (VAD off: 10 bytes per 80 samples)."""
        return b"".join(self.encode_frames(pcm))

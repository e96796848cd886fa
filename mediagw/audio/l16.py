"""L16: linear 16-bit PCM. Byte-stream framing keeps a trailing odd byte for the next chunk, so nothing is lost."""

from __future__ import annotations

import numpy as np

from asr.frame import Pcm


class L16Decoder:
    """Turns binary chunks of any length into samples; `little_endian` False is network order (RFC 3551)."""

    def __init__(self, little_endian: bool = True) -> None:
        self._dtype = np.dtype("<i2" if little_endian else ">i2")
        self._carry = b""

    @property
    def pending_bytes(self) -> int:
        return len(self._carry)

    def decode(self, chunk: bytes) -> Pcm:
        data = self._carry + chunk if self._carry else chunk
        whole = len(data) & ~1
        self._carry = data[whole:]
        return np.frombuffer(data, dtype=self._dtype, count=whole // 2).astype(np.int16)

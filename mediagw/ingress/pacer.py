"""Holds one stream's media to real time plus a bounded burst: its transport stops reading until wall time catches up.

Real-time media cannot arrive faster than real time for long; a client that does (a flood, a replay) would take
ASR and CPU from every other stream. Each WebSocket media transport (direct API, Twilio, AudioHook) counts what a
stream sends and, when it is more than `limits.realtime_burst_s` ahead, waits before reading the next message:
the socket's buffers fill and TCP slows the sender down, with no error and no audio lost. SIPREC RTP and KVS
GetMedia are paced by their sources (an SBC sends RTP as it is spoken; GetMedia serves a live stream).
"""

from __future__ import annotations

import asyncio

from asr.frame import SAMPLE_RATE


class MediaPacer:
    """A bucket of media seconds: it holds `burst_s`, refills one second per second of wall time, and each sample
    received takes its share. Empty, the stream is `burst_s` ahead of real time, and reading waits until it refills.

    A stream that fell behind (a stall) may catch up by at most `burst_s`: credit never grows past the bucket, so
    a client cannot sit idle for an hour and then send the hour at once.
    """

    def __init__(self, burst_s: float, now: float, sample_rate: int = SAMPLE_RATE) -> None:
        self._burst_s = burst_s
        self._credit_s = burst_s
        self._at = now
        self._rate = sample_rate

    def take(self, samples: int, now: float) -> float:
        """Count `samples` received at `now`; return how many seconds to wait before reading more (0: go on)."""
        self._credit_s = min(self._burst_s, self._credit_s + max(0.0, now - self._at)) - samples / self._rate
        self._at = now
        return max(0.0, -self._credit_s)

    async def pace(self, samples: int) -> None:
        """Count `samples` received now, and hold the caller (its socket reading) while the stream is too far ahead."""
        delay = self.take(samples, asyncio.get_running_loop().time())
        if delay > 0:
            await asyncio.sleep(delay)

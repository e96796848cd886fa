"""Spike arrest per app (auth.requests_per_second): a token bucket, in this process or shared in Redis.

In Redis the bucket is one hash per app refilled by a Lua script on Redis' own clock, so nodes with skewed clocks
agree; it expires once it would be full again. Without Redis each node falls back to its own bucket: a node's
clients keep the documented limit, the cluster's total is at most nodes x limit meanwhile."""

from __future__ import annotations

import math
import time
from typing import Protocol

from mediagw.shared.link import PREFIX, SharedRedis, SharedUnavailable

# KEYS[1] the app's bucket; ARGV[1] the rate (tokens per second, also the burst). Answers 1 (allowed) or 0.
TOKEN_BUCKET = """
local rate = tonumber(ARGV[1])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or rate
local at = tonumber(bucket[2]) or now
tokens = math.min(rate, tokens + math.max(0, now - at) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return allowed
"""


class SpikeArrest:
    """A token bucket per app: `rate` requests per second, bursts up to `rate` (the reference's spike arrest)."""

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._buckets: dict[str, tuple[float, float]] = {}  # app id -> (tokens, last refill)

    def allow(self, app_id: str, now: float | None = None) -> bool:
        if self._rate <= 0:
            return True
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(app_id, (self._rate, now))
        tokens = min(self._rate, tokens + (now - last) * self._rate)
        allowed = tokens >= 1
        self._buckets[app_id] = (tokens - 1 if allowed else tokens, now)
        return allowed


class Arrest(Protocol):
    async def allow(self, app_id: str) -> bool:
        """Whether one more request of `app_id` is within its rate (taking a token if so)."""


class LocalArrest:
    """This process's buckets (the single-node default)."""

    def __init__(self, rate: float) -> None:
        self._buckets = SpikeArrest(rate)

    async def allow(self, app_id: str) -> bool:
        return self._buckets.allow(app_id)


class RedisArrest:
    """One bucket per app for the whole cluster; this node's own bucket while Redis cannot answer."""

    def __init__(self, shared: SharedRedis, rate: float) -> None:
        self._shared = shared
        self._rate = rate
        self._script = shared.redis.register_script(TOKEN_BUCKET)
        self._fallback = SpikeArrest(rate)
        self._expiry_ms = math.ceil(2000 * max(1.0, 1 / rate)) if rate > 0 else 0  # full again by then

    async def allow(self, app_id: str) -> bool:
        if self._rate <= 0:
            return True
        try:
            key = f"{PREFIX}arrest:{app_id}"
            answer = await self._shared.run(self._script(keys=[key], args=[self._rate, self._expiry_ms]))
        except SharedUnavailable:
            return self._fallback.allow(app_id)
        return bool(answer)

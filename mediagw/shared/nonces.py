"""AudioHook's signature replay cache: each (API key, nonce) accepted once, in this process or cluster-wide.

Every node checks its own `ReplayCache` inside `verify_upgrade` (pure, synchronous); with Redis a nonce that
passed it is then claimed cluster-wide with SET NX, expiring when its signature could no longer be accepted
(at most max_clock_skew_s). The key holds a SHA-256 of key id and nonce, so no client-chosen string lands in
Redis. While Redis cannot answer, a replay to the same node is still refused, one to another node is not
(health is FAILED meanwhile); refusing every signed upgrade instead would stop Genesys calls cluster-wide."""

from __future__ import annotations

import hashlib
import math
from typing import Protocol

from mediagw.ingress.audiohook.auth import ReplayCache
from mediagw.shared.link import PREFIX, SharedRedis, SharedUnavailable


class Nonces(Protocol):
    @property
    def local(self) -> ReplayCache:
        """This node's cache, which verify_upgrade checks and fills."""

    async def claim(self, keyid: str, nonce: str, until: float, now: float) -> bool:
        """After `local` took the nonce: True if no other node took it before."""


class LocalNonces:
    """One process: its cache is the whole story."""

    def __init__(self, local: ReplayCache) -> None:
        self.local = local

    async def claim(self, keyid: str, nonce: str, until: float, now: float) -> bool:
        return True


class RedisNonces:
    def __init__(self, shared: SharedRedis, local: ReplayCache) -> None:
        self._shared = shared
        self.local = local

    async def claim(self, keyid: str, nonce: str, until: float, now: float) -> bool:
        digest = hashlib.sha256(f"{keyid}\n{nonce}".encode("utf-8", "surrogateescape")).hexdigest()
        ttl_ms = max(1, math.ceil((until - now) * 1000) + 1000)  # a second more: clocks of nodes differ a little
        try:
            return bool(
                await self._shared.run(self._shared.redis.set(f"{PREFIX}nonce:{digest}", 1, nx=True, px=ttl_ms))
            )
        except SharedUnavailable:
            return True  # the local cache took it; see the module docstring

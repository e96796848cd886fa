"""Work that runs on exactly one node at a time (the retention purge, the daily export): a lease per job.

In Redis a lease is `SET key token NX PX ttl`, renewed by its holder every third of the ttl while the work runs
and released only by its holder (a Lua compare-and-delete on the token), so a holder that dies frees it at the
ttl at most, and a slow one never deletes a lease another node took after its own expired. Without Redis no
node takes a lease: the work waits for its next turn rather than run twice."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator
from typing import Protocol

from mediagw.shared.link import PREFIX, SharedRedis, SharedUnavailable

log = logging.getLogger(__name__)
LEASE_TTL_S = 60.0

# KEYS[1] the lease; ARGV[1] the holder's token; ARGV[2] a new ttl in ms (renew) or absent (release)
RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class Leases(Protocol):
    def hold(self, name: str) -> contextlib.AbstractAsyncContextManager[bool]:
        """`async with leases.hold("purge") as held:` held True: this node runs the work, no other until exit."""

    async def mark_done(self, name: str, ttl_s: float) -> None:
        """Remember for `ttl_s` that `name` (say, one day's export) is done, so no node does it again."""

    async def done(self, name: str) -> bool: ...


class LocalLeases:
    """One process: always its turn; what it did it remembers itself, as long as asked."""

    def __init__(self) -> None:
        self._done: dict[str, float] = {}  # name -> until (monotonic)

    @contextlib.asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[bool]:
        yield True

    async def mark_done(self, name: str, ttl_s: float) -> None:
        now = time.monotonic()
        self._done = {key: until for key, until in self._done.items() if until > now}
        self._done[name] = now + ttl_s

    async def done(self, name: str) -> bool:
        return self._done.get(name, 0.0) > time.monotonic()


class RedisLeases:
    def __init__(self, shared: SharedRedis, node: str, ttl_s: float = LEASE_TTL_S) -> None:
        self._shared = shared
        self._node = node
        self._ttl_ms = int(ttl_s * 1000)
        self._renew = shared.redis.register_script(RENEW)
        self._release = shared.redis.register_script(RELEASE)

    @contextlib.asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[bool]:
        key, token = f"{PREFIX}lease:{name}", f"{self._node} {secrets.token_hex(8)}"
        try:
            held = bool(await self._shared.run(self._shared.redis.set(key, token, nx=True, px=self._ttl_ms)))
        except SharedUnavailable:
            held = False
        if not held:
            yield False
            return
        renewing = asyncio.create_task(self._keep(key, token), name=f"lease-{name}")
        try:
            yield True
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            with contextlib.suppress(SharedUnavailable):  # not released: it expires
                await self._shared.run(self._release(keys=[key], args=[token]))

    async def _keep(self, key: str, token: str) -> None:
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            try:
                if not await self._shared.run(self._renew(keys=[key], args=[token, self._ttl_ms])):
                    log.warning("lease %s was lost (expired and taken): another node may run the same work", key)
                    return
            except SharedUnavailable:
                continue

    async def mark_done(self, name: str, ttl_s: float) -> None:
        with contextlib.suppress(SharedUnavailable):
            await self._shared.run(self._shared.redis.set(f"{PREFIX}done:{name}", self._node, px=int(ttl_s * 1000)))

    async def done(self, name: str) -> bool:
        try:
            return bool(await self._shared.run(self._shared.redis.exists(f"{PREFIX}done:{name}")))
        except SharedUnavailable:
            return False  # the lease decides: without Redis none is taken

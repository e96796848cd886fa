"""The shared pieces' Redis connection: every command bounded in time, failures turning health FAILED until a
ping answers again, and never raising into a request (each piece decides what to do without Redis)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, TypeVar

from mediagw.backends.redis_link import connect, scrub, where
from mediagw.throttle import ThrottledLog

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)
T = TypeVar("T")
COMMAND_TIMEOUT_S = 1.0  # a shared check waits this long at most, then the piece's fallback decides
PING_INTERVAL_S = 1.0  # how often `watch` checks Redis
PREFIX = "mediagw:"  # every shared key starts so (one Redis database may serve other software too)


class SharedUnavailable(RuntimeError):
    """A shared command failed or timed out; the message names the host, never a secret."""


class SharedRedis:
    """One client for the shared pieces, with its health: `healthy` is False from a failed command or ping until a
    ping answers (`watch` pings every second)."""

    def __init__(self, redis: Redis, url: str) -> None:
        self.redis = redis
        self.where = where(url)
        self._url = url
        self.healthy = True
        self._warn = ThrottledLog(log, logging.ERROR)

    @classmethod
    async def open(cls, url: str) -> SharedRedis:
        """Connected (RedisUnavailable, naming the host, when it cannot be reached at start-up)."""
        return cls(await connect(url, "shared state"), url)

    async def run(self, command: Awaitable[T]) -> T:
        """The command's answer; SharedUnavailable (and health FAILED) when Redis does not give one in time."""
        from redis.exceptions import RedisError  # the cluster extra: imported where Redis is configured only

        try:
            async with asyncio.timeout(COMMAND_TIMEOUT_S):
                return await command
        except (RedisError, OSError, TimeoutError) as error:
            self._failed(error)
            raise SharedUnavailable(f"Redis at {self.where} is unreachable") from None

    def _failed(self, error: BaseException) -> None:
        self.healthy = False
        detail = scrub(str(error), self._url)[:200]
        self._warn.log(
            time.monotonic(), "shared state: Redis at %s failed (%s: %s)", self.where, type(error).__name__, detail
        )

    async def watch(self) -> None:
        """Forever: a ping each second, so health turns FAILED with no request in flight and back once it answers."""
        from redis.exceptions import RedisError

        while True:
            await asyncio.sleep(PING_INTERVAL_S)
            try:
                async with asyncio.timeout(COMMAND_TIMEOUT_S):
                    await self.redis.ping()
            except (RedisError, OSError, TimeoutError) as error:
                self._failed(error)
                continue
            if not self.healthy:
                log.info("shared state: Redis at %s answers again", self.where)
            self.healthy = True

    async def close(self) -> None:
        await self.redis.aclose()

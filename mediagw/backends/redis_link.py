"""Connecting to Redis (cluster.redis_url): one client per process, errors that name the host and never the
password."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from mediagw.config import Config


class RedisUnavailable(RuntimeError):
    """Redis could not be reached or refused us; the message names host, port and database, never a secret."""


def where(url: str) -> str:
    """host:port/db of a Redis URL, without user or password."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    database = parts.path.lstrip("/") or "0"
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}/{database}"


def scrub(message: str, url: str) -> str:
    """`message` with the URL's password (and user) masked, whatever the client library put in it."""
    parts = urlsplit(url)
    for secret in (parts.password, parts.username):
        if secret:
            message = message.replace(secret, "***")
    return message


def client(url: str, pool_size: int = 0) -> Redis:
    """A pooled asyncio client speaking RESP2 (the reply shapes asr/remote_worker.py reads). `pool_size`: at most
    this many connections, a command waiting (up to its timeout) for a free one rather than failing."""
    try:
        from redis.asyncio import BlockingConnectionPool, Redis
    except ImportError:
        raise RedisUnavailable("Redis needs the cluster extra: pip install 'mediagw[cluster]'") from None
    options: dict[str, Any] = {"protocol": 2, "socket_connect_timeout": 3, "socket_keepalive": True}
    if pool_size:
        from redis.asyncio.retry import Retry
        from redis.backoff import ExponentialBackoff
        from redis.exceptions import ConnectionError as LostConnection

        # a pooled connection broken by a Redis restart is retried on a fresh one, not answered as an error
        options |= {"retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 2), "retry_on_error": [LostConnection]}
        pool = BlockingConnectionPool.from_url(url, max_connections=pool_size, timeout=5, **options)
        return Redis(connection_pool=pool)
    return Redis.from_url(url, retry_on_timeout=False, **options)


async def connect(url: str, role: str) -> Redis:
    """A client that has answered PING; RedisUnavailable otherwise (`role` says who needed it)."""
    redis = client(url)
    from redis.exceptions import RedisError

    try:
        await redis.ping()
    except (RedisError, OSError) as error:
        await redis.aclose()
        detail = scrub(str(error), url)[:200]
        raise RedisUnavailable(
            f"{role}: Redis at {where(url)} is unreachable ({type(error).__name__}: {detail})"
        ) from None
    return redis


def node_name(config: Config) -> str:
    """cluster.node_id, or hostname:port (unique as long as one host runs each port once)."""
    return config.cluster.node_id or f"{socket.gethostname()}:{config.server.port}"

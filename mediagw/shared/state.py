"""The shared pieces a node uses: in-process by default, in Redis from start-up on when cluster.redis_url is set."""

from __future__ import annotations

import time
from dataclasses import dataclass

from mediagw.config import Config, ConfigError
from mediagw.ingress.audiohook.auth import ReplayCache
from mediagw.postprocess import TextStage
from mediagw.shared.arrest import Arrest, LocalArrest
from mediagw.shared.leases import Leases, LocalLeases
from mediagw.shared.link import SharedRedis
from mediagw.shared.nonces import LocalNonces, Nonces


@dataclass
class SharedState:
    arrest: Arrest
    nonces: Nonces
    leases: Leases
    redis: SharedRedis | None = None  # cluster.redis_url: the link the Redis pieces share

    def problems(self) -> list[str]:
        """What /v1/health reports as FAILED."""
        if self.redis is not None and not self.redis.healthy:
            return [f"shared state unreachable (Redis at {self.redis.where})"]
        return []


def check_cluster(config: Config) -> None:
    """Start-up checks of a node in a cluster: ConfigError naming the setting."""
    if config.cluster.redis_url and not config.auth.token_secret:
        raise ConfigError(
            "auth.token_secret is required when cluster.redis_url is set: every node must verify the streaming "
            "URL tokens any other node issued (set the same random secret on all nodes)"
        )


def local_state(config: Config) -> SharedState:
    """The single-process pieces (also what a cluster node has until its start-up connects to Redis)."""
    replay = ReplayCache(since=time.time())
    return SharedState(LocalArrest(config.auth.requests_per_second), LocalNonces(replay), LocalLeases())


async def open_shared(config: Config, state: SharedState, node: str, text_stage: TextStage) -> SharedRedis:
    """cluster.redis_url set: the Redis pieces replace the local ones (RedisUnavailable when unreachable)."""
    from mediagw.shared.arrest import RedisArrest
    from mediagw.shared.context import RedisContexts
    from mediagw.shared.leases import RedisLeases
    from mediagw.shared.nonces import RedisNonces

    state.redis = shared = await SharedRedis.open(config.cluster.redis_url)
    state.arrest = RedisArrest(shared, config.auth.requests_per_second)
    state.nonces = RedisNonces(shared, state.nonces.local)
    state.leases = RedisLeases(shared, node)
    text_stage.contexts = RedisContexts(shared, config.redaction.context_seconds)
    return shared

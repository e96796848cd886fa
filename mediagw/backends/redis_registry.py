"""The call registry on Redis (cluster.redis_url): every node reads and changes the same call records.

A record is one hash, `{v: version, r: record JSON}`. `swap` is a compare-and-set on `v` in a Lua script, so the
pending/ending flags change atomically across nodes: two nodes taking a start for the same guid behave exactly as
one (409-202 for the second). Records expire `RECORD_TTL_S` after their last change (a call whose nodes all died
is not kept for ever); a node holding a call's media refreshes it with its heartbeat.

Lingering (`limits.call_linger_s`): the sorted set `lingering` holds each call's deadline on Redis' clock. A node
holding a call's media pushes it to NODE_TTL_S + linger ahead with every beat (and at attach); the node whose last
source for the call goes sets it to linger ahead. So a call whose media stopped, or whose every node died, comes
due at its deadline with no timer anywhere; every node's beat claims due calls (a lease: exactly one claims each)
and ends them with a compare-and-set on the deadline and the record's version (`CallRules.lingered_out`).

Ownership: a record's `media_nodes` names, per role, an owner `node_id#incarnation`. The incarnation is random per
process, and the node's liveness key (`node:{id}` = incarnation and control URL, expiring `NODE_TTL_S` unless its
heartbeat renews it) says which incarnation is alive: an owner is live only while both match. A node that dies
loses its ownership when its key expires; one that restarts has a new incarnation, so what the dead process held
is never taken for its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import orjson

from mediagw.core.node import CALL_LINGER_S
from mediagw.core.record import ROLES, CallRecord, ParamsDecoder
from mediagw.core.registry import RegistryUnavailable
from mediagw.core.rules import CallRules

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

PREFIX = "mediagw:"
RECORD_TTL_S = 3600  # a record nobody changed or refreshed for this long is gone (all its nodes died)
NODE_TTL_S = 3.0  # a node's liveness (and so its ownerships) lapses this long after its last heartbeat
HEARTBEAT_S = 1.0
CLAIM_MS = 10_000  # a due call claimed by a node that died before ending it comes due again this much later
DUE_PER_BEAT = 32  # due calls a beat claims (the rest wait for the next one)
VERSION_BITS = 40  # a record's first version is random (exact in Lua's doubles), later ones count up from it

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""
_CREATE = (
    _NOW
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'v', ARGV[3], 'r', ARGV[1])
  redis.call('SADD', KEYS[2], KEYS[1])
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[4]), KEYS[1])
return redis.call('HMGET', KEYS[1], 'v', 'r')
"""
)
_SWAP = """
local v = redis.call('HGET', KEYS[1], 'v')
if not v or v ~= ARGV[1] then return false end
local nv = tonumber(v) + 1
redis.call('HSET', KEYS[1], 'v', nv, 'r', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return nv
"""
_REMOVE = """
local v = redis.call('HGET', KEYS[1], 'v')
if not v or (ARGV[1] ~= '' and v ~= ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], KEYS[1])
redis.call('ZREM', KEYS[3], KEYS[1])
return 1
"""
_VERSIONS = """
local versions = {}
for i, key in ipairs(KEYS) do versions[i] = redis.call('HGET', key, 'v') end
return versions
"""
_BEAT = (
    _NOW
    + """
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local attached = tonumber(ARGV[4])
local lost = {}
for i = 3, #KEYS do
  local kept = redis.call('EXPIRE', KEYS[i], ARGV[3]) == 1
  if i - 2 <= attached then
    if kept then redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), KEYS[i]) else lost[#lost + 1] = i - 2 end
  end
end
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[7]))
local lease = now + tonumber(ARGV[6])
for _, key in ipairs(due) do redis.call('ZADD', KEYS[2], lease, key) end
return {lost, due, lease}
"""
)
_LINGER = (
    _NOW
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[1]), KEYS[1])
return 1
"""
)
_END = """
local s = redis.call('ZSCORE', KEYS[3], KEYS[1])
if not s or tonumber(s) ~= tonumber(ARGV[1]) then return false end
local v = redis.call('HGET', KEYS[1], 'v')
if v and v ~= ARGV[2] then return -1 end
redis.call('ZREM', KEYS[3], KEYS[1])
if not v then
  redis.call('SREM', KEYS[2], KEYS[1])
  return false
end
if ARGV[3] == '' then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], KEYS[1])
  return 0
end
local nv = tonumber(v) + 1
redis.call('HSET', KEYS[1], 'v', nv, 'r', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return nv
"""


def owner_node(owner: str) -> str:
    """The node id of an owner `node_id#incarnation`."""
    return owner.rsplit("#", 1)[0]


@dataclass(frozen=True)
class NodeInfo:
    """A live node as its heartbeat advertises it."""

    node_id: str
    incarnation: str
    control_url: str  # cluster.advertise_url: where forwarded start/stop requests reach it

    @property
    def owner(self) -> str:
        return f"{self.node_id}#{self.incarnation}"


class RedisCallRegistry:
    def __init__(
        self,
        redis: Redis,
        decode_params: ParamsDecoder,
        node_id: str,
        control_url: str = "",
        where: str = "Redis",
        linger_s: float = CALL_LINGER_S,
    ) -> None:
        self._redis = redis
        self._where = where
        self._decode = decode_params
        self.node = NodeInfo(node_id, secrets.token_hex(6), control_url)
        self._index = f"{PREFIX}calls"
        self._lingering = f"{PREFIX}lingering"  # sorted set: call key -> deadline (ms on Redis' clock)
        self._linger_ms = int(linger_s * 1000)
        self._held_ms = int((NODE_TTL_S + linger_s) * 1000)  # media here: the deadline if this node died now
        self._create = redis.register_script(_CREATE)
        self._swap = redis.register_script(_SWAP)
        self._remove = redis.register_script(_REMOVE)
        self._versions = redis.register_script(_VERSIONS)
        self._beat = redis.register_script(_BEAT)
        self._linger = redis.register_script(_LINGER)
        self._end = redis.register_script(_END)
        self._known: dict[tuple[str, str], CallRecord] = {}  # the last version seen of each call (Redis restart)

    @contextlib.asynccontextmanager
    async def _reachable(self) -> AsyncIterator[None]:
        """Redis errors as RegistryUnavailable, naming host:port/db and the error's type (never a secret)."""
        from redis.exceptions import RedisError

        try:
            yield
        except (RedisError, OSError) as error:
            raise RegistryUnavailable(f"Redis at {self._where} is unreachable ({type(error).__name__})") from None

    def _key(self, namespace: str, guid: str) -> str:
        return f"{PREFIX}call:{namespace}:{guid}"

    def _record(self, version: Any, raw: Any) -> CallRecord:
        return self._seen(replace(CallRecord.from_json(orjson.loads(raw), self._decode), version=int(version)))

    def _seen(self, record: CallRecord) -> CallRecord:
        self._known[record.key] = record
        return record

    @staticmethod
    def _dump(record: CallRecord) -> bytes:
        return orjson.dumps(record.to_json())  # a record is read and written a few times per call: orjson's speed

    async def get(self, namespace: str, guid: str) -> CallRecord | None:
        async with self._reachable():
            version, raw = await self._redis.hmget(self._key(namespace, guid), ["v", "r"])
            return None if raw is None else self._record(version, raw)

    async def create(self, record: CallRecord) -> CallRecord:
        async with self._reachable():
            keys = [self._key(*record.key), self._index, self._lingering]
            first = secrets.randbits(VERSION_BITS) + 1  # never one a node saw of a record Redis lost (versions())
            args: list[bytes | int] = [self._dump(replace(record, version=first)), RECORD_TTL_S, first, self._held_ms]
            version, raw = await self._create(keys=keys, args=args)
            return self._record(version, raw)

    async def swap(self, old: CallRecord, new: CallRecord) -> CallRecord | None:
        async with self._reachable():
            args: list[str | bytes | int] = [str(old.version), self._dump(new), RECORD_TTL_S]
            version = await self._swap(keys=[self._key(*old.key)], args=args)
            return None if version is None else self._seen(replace(new, version=int(version)))

    async def remove(self, namespace: str, guid: str, version: int | None = None) -> bool:
        async with self._reachable():
            keys = [self._key(namespace, guid), self._index, self._lingering]
            removed = bool(await self._remove(keys=keys, args=["" if version is None else str(version)]))
            if removed:
                self._known.pop((namespace, guid), None)
            return removed

    async def versions(self, keys: Sequence[tuple[str, str]]) -> list[int | None]:
        async with self._reachable():
            found = await self._versions(keys=[self._key(*key) for key in keys]) if keys else []
            return [None if version is None else int(version) for version in found]

    async def records(self) -> list[CallRecord]:
        async with self._reachable():
            keys = [key.decode() if isinstance(key, bytes) else key for key in await self._redis.smembers(self._index)]
            found = []
            for key in keys:
                version, raw = await self._redis.hmget(key, ["v", "r"])
                if raw is None:
                    await self._redis.srem(self._index, key)  # expired
                else:
                    found.append(self._record(version, raw))
            return found

    # liveness and ownership

    async def beat(
        self, held: Iterable[tuple[str, str]] = (), lingering: Iterable[tuple[str, str]] = ()
    ) -> list[tuple[str, str]]:
        """Renew this node's liveness, the expiry of the records whose media it holds (`held`, attached: their
        deadlines pushed on too; `lingering`: every source gone, their deadlines stand), and write back a held
        call's record that Redis lost (restarted empty) as this node last saw it. Then end the due calls this
        beat claimed: the calls ended here."""
        held, lingering = list(held), list(lingering)
        value = json.dumps({"incarnation": self.node.incarnation, "url": self.node.control_url})
        keys = [f"{PREFIX}node:{self.node.node_id}", self._lingering, *(self._key(*key) for key in held + lingering)]
        args: list[str | int] = [value, int(NODE_TTL_S * 1000), RECORD_TTL_S, len(held), self._held_ms, CLAIM_MS]
        args.append(DUE_PER_BEAT)
        lost, due, lease = await self._beat(keys=keys, args=args)  # one command
        for key in (held[int(index) - 1] for index in lost):
            nodes = dict.fromkeys(ROLES, self.node.owner)  # attached while Redis was away: a record of its own
            record = self._known.get(key) or CallRecord(*key, media_nodes=nodes)
            restored = await self.create(replace(record, pending=False))
            log.warning("call registry: record written back (Redis had lost it)", extra={"call_id": restored.guid})
        for key in self._known.keys() - set(held) - set(lingering):  # only the calls whose media is here are kept
            del self._known[key]
        ended = [await self._end_lingering(self._call_of(raw), int(lease)) for raw in due]
        return [key for key in ended if key is not None]

    def _call_of(self, raw: bytes | str) -> tuple[str, str]:
        key = raw.decode() if isinstance(raw, bytes) else raw
        namespace, _, guid = key.removeprefix(f"{PREFIX}call:").partition(":")
        return namespace, guid

    async def linger(self, namespace: str, guid: str) -> None:
        """The last source of the call's media on this node went: it ends at linger_s from now, unless media
        comes back (on any node) before."""
        async with self._reachable():
            await self._linger(keys=[self._key(namespace, guid), self._lingering], args=[self._linger_ms])

    async def _end_lingering(self, key: tuple[str, str], lease: int) -> tuple[str, str] | None:
        """A due call this node claimed: ended (`CallRules.lingered_out`) if neither its deadline (media came
        back) nor its record changed since; a record changed meanwhile is read again."""
        keys = [self._key(*key), self._index, self._lingering]
        for _ in range(3):
            record = await self.get(*key)
            after = None if record is None else CallRules.lingered_out(record)
            version = "" if record is None else str(record.version)
            body = b"" if after is None else self._dump(after)
            outcome = await self._end(keys=keys, args=[lease, version, body, RECORD_TTL_S])
            if outcome is None or record is None:
                return None
            if int(outcome) != -1:
                self._known.pop(key, None)
                log.info(
                    "call ended at its linger deadline: %s",
                    "kept for its stop (transcription on, no media)" if after is not None else "forgotten",
                    extra={"call_id": key[1]},
                )
                return key
        return None

    async def live_node(self, owner: str) -> NodeInfo | None:
        """The node an owner names, if that very incarnation is alive."""
        async with self._reachable():
            raw = await self._redis.get(f"{PREFIX}node:{owner_node(owner)}")
            if raw is None:
                return None
            data = json.loads(raw)
            node = NodeInfo(owner_node(owner), str(data["incarnation"]), str(data["url"]))
            return node if node.owner == owner else None

    async def leave(self) -> None:
        """A clean stop: this node's ownerships lapse now, not at the expiry."""
        raw = await self._redis.get(f"{PREFIX}node:{self.node.node_id}")
        if raw is not None and json.loads(raw).get("incarnation") == self.node.incarnation:
            await self._redis.delete(f"{PREFIX}node:{self.node.node_id}")

    async def heartbeat(
        self,
        held: Callable[[], tuple[list[tuple[str, str]], list[tuple[str, str]]]],
        healthy: Callable[[bool], None],
        ended: Callable[[str, str], None] = lambda namespace, guid: None,
    ) -> None:
        """Forever: beat every HEARTBEAT_S with the calls whose media is here (attached, lingering); `healthy`
        learns whether Redis answered (health FAILED meanwhile), `ended` each call ended here at its deadline."""
        from redis.exceptions import RedisError

        failing = False
        while True:
            try:
                for key in await self.beat(*held()):
                    ended(*key)
                if failing:
                    log.info("call registry: Redis reachable again")
                failing = False
            except (RedisError, OSError, RegistryUnavailable) as error:
                if not failing:
                    log.error("call registry: Redis unreachable (%s)", type(error).__name__)
                failing = True
            except Exception:
                log.exception("call registry heartbeat failed")
            healthy(not failing)
            await asyncio.sleep(HEARTBEAT_S)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.leave()
        await self._redis.aclose()

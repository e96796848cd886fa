"""The redaction conversation context across nodes: the agent's card question on one node shapes the redaction
of the customer's answer on another (Twilio may send each track to its own node).

What is shared is `redaction.context.SharedRequest` only: per answering role, the entity ids asked for, the
question's wall-clock time and how many answers it still shapes; never a word of the conversation. Redis keeps one
hash per conversation (`mediagw:redaction:<conversation id>`, a field per role), merged by a Lua script (a later
question, or the same one further answered, wins), expiring `context_seconds` (plus a few) after its last write.

Before an utterance's text stage its node pulls the hash into the conversation's local context; after it, the
node pushes what changed. The parties' turn order holds across nodes as on one: each utterance closed by a
segmenter is an open turn in `mediagw:turns:<conversation id>` (a sorted set by the wall-clock time it closed,
member "role node-tag number") until its text stage is done, and an utterance waits (up to
redaction.context_wait_s) for the other party's turns that closed before it on other nodes. Redis unreadable, or
the wait over: the utterance is redacted fail-safe (every secret number taken as asked for)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import secrets
import time
from collections.abc import Awaitable
from dataclasses import asdict
from typing import Any, Protocol

from mediagw.shared.link import PREFIX, SharedRedis, SharedUnavailable
from mediagw.turns import Turn
from redaction.context import ConversationContext, SharedRequest

EXPIRY_SLACK_S = 5.0
TURN_POLL_S = 0.05  # while another node's earlier turn is open, how often to look again
STALE_TURN_S = 60.0  # an open turn this much older than ours is a dead node's: not waited for

# KEYS[1] the conversation's hash; ARGV[1] expiry (ms), then role, JSON pairs. Each field keeps the request that
# supersedes (later `wall`, or the same `wall` with fewer `answers_left`); the JSON is stored as sent.
MERGE = """
for i = 2, #ARGV, 2 do
  local new = cjson.decode(ARGV[i + 1])
  local old_json = redis.call('HGET', KEYS[1], ARGV[i])
  local keep = false
  if old_json then
    local old = cjson.decode(old_json)
    keep = old.wall > new.wall or (old.wall == new.wall and old.answers_left <= new.answers_left)
  end
  if not keep then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""


class ContextStore(Protocol):
    async def pull(self, conversation_id: str, context: ConversationContext, turn: Turn, limit_s: float) -> bool:
        """Once other nodes' earlier turns are done, merge what they asked into `context`; False when that could
        not be read or `limit_s` passed first (redact fail-safe)."""

    async def push(self, conversation_id: str, context: ConversationContext) -> None:
        """Publish `context`'s open requests for the other nodes."""

    def opened(self, conversation_id: str, turn: Turn) -> None:
        """A turn of this node began (its utterance closed): other nodes' later turns wait for it."""

    def closed(self, conversation_id: str, turn: Turn) -> None:
        """That turn's text stage is done (after `push`)."""


class LocalContexts:
    """One process: the conversation's context object is the only copy and TurnOrder the only order."""

    async def pull(self, conversation_id: str, context: ConversationContext, turn: Turn, limit_s: float) -> bool:
        return True

    async def push(self, conversation_id: str, context: ConversationContext) -> None:
        return None

    def opened(self, conversation_id: str, turn: Turn) -> None:
        return None

    def closed(self, conversation_id: str, turn: Turn) -> None:
        return None


class RedisContexts:
    def __init__(self, shared: SharedRedis, window_s: float) -> None:
        self._shared = shared
        self._expiry_ms = math.ceil((window_s + EXPIRY_SLACK_S) * 1000)
        self._merge = shared.redis.register_script(MERGE)
        self._pushed: dict[str, dict[str, SharedRequest]] = {}  # what this node last wrote (skip unchanged)
        self._tag = secrets.token_hex(4)  # this node's turns in the sorted set (its own are in TurnOrder)
        self._members: dict[Turn, str] = {}
        self._numbers = iter(range(1 << 62))
        self._writes: set[asyncio.Task[None]] = set()

    def opened(self, conversation_id: str, turn: Turn) -> None:
        member = self._members[turn] = f"{turn.role} {self._tag} {next(self._numbers)}"
        self._write(self._open(_turns(conversation_id), member, turn.wall))

    def closed(self, conversation_id: str, turn: Turn) -> None:
        member = self._members.pop(turn, None)
        if member is not None:
            self._write(self._shared.redis.zrem(_turns(conversation_id), member))

    async def _open(self, key: str, member: str, wall: float) -> None:
        async with self._shared.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(key, {member: wall})
            pipe.pexpire(key, self._expiry_ms)
            await pipe.execute()

    def _write(self, command: Awaitable[Any]) -> None:
        """Fire and forget (the turn goes on whatever Redis says); held so the task is not collected."""
        task = asyncio.get_running_loop().create_task(self._quietly(command))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _quietly(self, command: Awaitable[Any]) -> None:
        with contextlib.suppress(SharedUnavailable):
            await self._shared.run(command)

    async def pull(self, conversation_id: str, context: ConversationContext, turn: Turn, limit_s: float) -> bool:
        deadline = time.monotonic() + limit_s
        while True:
            try:
                fields, earlier = await self._shared.run(self._read(conversation_id, turn))
            except SharedUnavailable:
                return False
            if not earlier or time.monotonic() >= deadline:
                break
            await asyncio.sleep(TURN_POLL_S)  # the other node's earlier turn is still in its text stage
        self._merge_into(context, fields)
        return not earlier

    async def _read(self, conversation_id: str, turn: Turn) -> tuple[dict[bytes, bytes], list[str]]:
        """The shared requests, and the other party's turns on other nodes closed before `turn`, still open."""
        async with self._shared.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(_key(conversation_id))
            pipe.zrangebyscore(_turns(conversation_id), turn.wall - STALE_TURN_S, f"({turn.wall}")
            fields, members = await pipe.execute()
        open_turns = [m.decode() if isinstance(m, bytes) else str(m) for m in members]
        return fields, [m for m in open_turns if m.split(" ")[0] != turn.role and m.split(" ")[1] != self._tag]

    def _merge_into(self, context: ConversationContext, fields: dict[bytes, bytes]) -> None:
        shared = {}
        for role, raw in fields.items():
            try:
                shared[role.decode() if isinstance(role, bytes) else role] = _request(json.loads(raw))
            except (ValueError, KeyError, TypeError):
                continue  # not ours or damaged: the fail-safe rule still masks any card number
        context.merge_requests(shared, time.monotonic(), time.time())

    async def push(self, conversation_id: str, context: ConversationContext) -> None:
        requests = context.shared_requests(time.monotonic(), time.time())
        changed = {role: r for role, r in requests.items() if self._pushed.get(conversation_id, {}).get(role) != r}
        if not changed:
            return
        args: list[str | int] = [self._expiry_ms]
        for role, request in changed.items():
            args += [role, json.dumps(asdict(request))]
        try:
            await self._shared.run(self._merge(keys=[_key(conversation_id)], args=args))
        except SharedUnavailable:
            return  # the other node pulls nothing new: its utterances fail safe if it cannot read either
        self._pushed[conversation_id] = requests
        if len(self._pushed) > 10_000:  # conversations come and go: forget the oldest half
            for key in list(self._pushed)[:5_000]:
                del self._pushed[key]


def _key(conversation_id: str) -> str:
    return f"{PREFIX}redaction:{conversation_id}"


def _turns(conversation_id: str) -> str:
    return f"{PREFIX}turns:{conversation_id}"


def _request(data: dict[str, object]) -> SharedRequest:
    entities, answering = data["entities"], data["answering"]
    if not isinstance(entities, list) or not isinstance(answering, list):
        raise TypeError("entities and answering must be lists")
    wall, left = data["wall"], data["answers_left"]
    if not isinstance(wall, int | float) or not isinstance(left, int):
        raise TypeError("wall and answers_left must be numbers")
    return SharedRequest(
        tuple(map(str, entities)), float(wall), left, bool(data["not_a_card"]), tuple(map(str, answering))
    )

"""The redaction conversation context across nodes: the agent's card question on one node shapes the redaction
of the customer's answer on another (Twilio may send each track to its own node).

What is shared is `redaction.context.SharedRequest` only: per answering role, the entity ids asked for, the
question's wall-clock time and how many answers it still shapes; never a word of the conversation. Redis keeps one
hash per conversation (`mediagw:redaction:<conversation id>`, a field per role), merged by a Lua script (a later
question, or the same one further answered, wins), expiring `context_seconds` (plus a few) after its last write.

Before an utterance's text stage its node pulls the hash into the conversation's local context; after it, the
node pushes what changed. Redis unreadable: the utterance is redacted fail-safe (every secret number taken as
asked for), as when the other party's words are late."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from typing import Protocol

from mediagw.shared.link import PREFIX, SharedRedis, SharedUnavailable
from redaction.context import ConversationContext, SharedRequest

EXPIRY_SLACK_S = 5.0

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
    async def pull(self, conversation_id: str, context: ConversationContext) -> bool:
        """Merge what other nodes asked into `context`; False when that could not be read (redact fail-safe)."""

    async def push(self, conversation_id: str, context: ConversationContext) -> None:
        """Publish `context`'s open requests for the other nodes."""


class LocalContexts:
    """One process: the conversation's context object is the only copy; nothing to exchange."""

    async def pull(self, conversation_id: str, context: ConversationContext) -> bool:
        return True

    async def push(self, conversation_id: str, context: ConversationContext) -> None:
        return None


class RedisContexts:
    def __init__(self, shared: SharedRedis, window_s: float) -> None:
        self._shared = shared
        self._expiry_ms = math.ceil((window_s + EXPIRY_SLACK_S) * 1000)
        self._merge = shared.redis.register_script(MERGE)
        self._pushed: dict[str, dict[str, SharedRequest]] = {}  # what this node last wrote (skip unchanged)

    async def pull(self, conversation_id: str, context: ConversationContext) -> bool:
        try:
            fields = await self._shared.run(self._shared.redis.hgetall(_key(conversation_id)))
        except SharedUnavailable:
            return False
        shared = {}
        for role, raw in fields.items():
            try:
                shared[role.decode() if isinstance(role, bytes) else role] = _request(json.loads(raw))
            except (ValueError, KeyError, TypeError):
                continue  # not ours or damaged: the fail-safe rule still masks any card number
        context.merge_requests(shared, time.monotonic(), time.time())
        return True

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

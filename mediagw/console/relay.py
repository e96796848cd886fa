"""Every node's calls on every node's console (cluster.redis_url): each node publishes what its feed builds (rows,
media seconds, transcripts) on one Redis channel and shows what the others publish.

The records are in the shared registry already (a snapshot lists every node's calls); what only the node holding
a call's media knows (each role's state, media seconds, transcripts) travels here. Publishing is fire and forget,
batched per loop turn (per RELAY_BATCH_S while no console is open on the node: console/feed.py); with Redis away
the console shows this node's media and the records as last read. Every node republishes its own rows every
REFRESH_S, so a node that starts (or a message lost) catches up within it. Transcripts on the channel are the same
text the store and the webhooks get.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import TYPE_CHECKING, Any

from mediagw.console.feed import CallFeed
from mediagw.console.views import RoleView, local_role, role_state

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)
CHANNEL = "mediagw:console"
REFRESH_S = 5.0


class ConsoleRelay:
    def __init__(self, redis: Redis, feed: CallFeed) -> None:
        self._redis = redis
        self._feed = feed
        self._outbox: list[dict[str, Any]] = []
        self._sending: asyncio.Task[None] | None = None
        self._failing = False

    def publish(self, items: list[dict[str, Any]]) -> None:
        self._outbox += items
        if self._sending is None:
            self._sending = asyncio.get_running_loop().create_task(self._send(), name="console-relay-send")

    async def _send(self) -> None:
        try:
            while self._outbox:
                items, self._outbox = self._outbox, []
                await self._redis.publish(CHANNEL, json.dumps({"node": self._feed.node_id, "items": items}))
                self._failing = False
        except Exception as error:
            if not self._failing:
                log.warning("console relay: Redis unreachable (%s)", type(error).__name__)
            self._failing = True
            self._outbox.clear()
        finally:
            self._sending = None

    async def run(self) -> None:
        """Forever: listen to the other nodes, and republish this node's rows every REFRESH_S."""
        self._feed.attach_relay(self.publish)
        refresh = asyncio.get_running_loop().create_task(self._refresh(), name="console-relay-refresh")
        try:
            while True:
                try:
                    await self._listen()
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    log.warning("console relay: listening failed (%s), retrying", type(error).__name__)
                    await asyncio.sleep(1.0)
        finally:
            refresh.cancel()

    async def _listen(self) -> None:
        async with self._redis.pubsub() as pubsub:
            await pubsub.subscribe(CHANNEL)
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                data = json.loads(message["data"])
                if data.get("node") != self._feed.node_id:
                    self.received(data["node"], data["items"])

    async def _refresh(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                await asyncio.sleep(REFRESH_S)
                for media in self._feed.held():
                    self._feed.changed(media.namespace, media.guid)

    def received(self, node: str, items: list[dict[str, Any]]) -> None:
        """Another node's changes, merged with what this node holds and shown."""
        feed = self._feed
        for item in items:
            kind = item.get("type")
            if kind == "transcript":
                feed.deliver_transcript(item["transcript"])
            elif kind == "media":
                feed.deliver_media(item["calls"])
            elif kind == "row":
                self._row(node, item["key"], item["row"])

    def _row(self, node: str, key: str, row: dict[str, Any] | None) -> None:
        feed = self._feed
        namespace, _, guid = key.partition("/")
        media = feed.local_media(namespace, guid)
        if row is None:  # gone from that node: gone, unless this node holds media of it
            feed.remote.pop(key, None)
            if media is None:
                feed.deliver_row(key, None)
            return
        theirs = {r["role"]: RoleView.from_json(r) for r in row["roles"] if r["node"] == node}
        feed.remote[key] = {**{k: v for k, v in feed.remote.get(key, {}).items() if v.node != node}, **theirs}
        roles = []
        for role in row["roles"]:
            name = role["role"]
            if media is not None and media.connected.get(name, 0) > 0:  # this node's own view of its media wins
                here = local_role(None, media, name, feed.node_id).to_json()
                role = {**here, "state": role_state(media, name, row["ending"]), "streamId": role["streamId"]}
            roles.append(role)
        feed.deliver_row(key, {**row, "roles": roles, "rev": feed.next_revision()})

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._redis.aclose()

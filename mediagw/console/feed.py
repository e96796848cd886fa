"""The console's live feed: a snapshot of the calls, then one event per change, to each open console.

A change (core/watch.py) only marks its call; a task on the loop builds the marked calls' rows and hands each
console the ones that differ from what it was last sent. Media seconds change with every frame, so they travel
apart: once a second, one `media` event with the calls whose seconds moved. Each event is serialised once for
every console. Rows carry a revision so a browser drops an event older than the snapshot it already has. With no
console open and no other node listening, a change costs a set lookup and a return.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mediagw.console.views import CallView, RoleView, call_view, key_of
from mediagw.core.media import CallMedia
from mediagw.core.node import NodeMedia
from mediagw.core.record import ROLES, CallRecord
from mediagw.core.registry import CallRegistry, RegistryUnavailable
from mediagw.core.watch import Transcribed

log = logging.getLogger(__name__)
MEDIA_TICK_S = 1.0
RELAY_BATCH_S = 0.2  # with no console open here, changes for the other nodes are gathered this long per publish
ROWS_PER_TURN = 32  # rows built per loop turn (the media and requests go on between)
QUEUE_LIMIT = 10_000  # events a console may fall behind by; past it, it is sent `reset` and reloads


def sse(event: str, data: Any) -> bytes:
    """One server-sent event."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


@dataclass(eq=False)
class Subscription:
    """One open console: every call (`key` None) or one call's page, with its transcripts if `transcripts`."""

    key: str | None
    transcripts: bool
    queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    lost: bool = False  # fell QUEUE_LIMIT behind: its stream ends with `reset`

    def put(self, item: bytes | None) -> None:
        if self.lost:
            return
        if item is not None and self.queue.qsize() >= QUEUE_LIMIT:
            self.lost = True
            item = sse("reset", {})
        self.queue.put_nowait(item)


Relay = Callable[[list[dict[str, Any]]], None]  # this node's rows and transcripts, to the other nodes


class CallFeed:
    def __init__(self, registry: CallRegistry, media: NodeMedia, node_id: str) -> None:
        self._registry = registry
        self._media = media
        self.node_id = node_id
        self._subscribers: set[Subscription] = set()
        self._dirty: set[tuple[str, str]] = set()
        self._flusher: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._sent_ms: dict[str, tuple[int, ...]] = {}
        self._records: dict[str, CallRecord] = {}  # the last record read or written here, per shown call
        self._revision = 0
        self.remote: dict[str, dict[str, RoleView]] = {}  # key -> role -> as its node last said (a cluster)
        self.relay: Relay | None = None  # set in a cluster (console/relay.py)

    def attach_relay(self, relay: Relay) -> None:
        """A cluster: every change and the media seconds go to the other nodes, console open here or not."""
        self.relay = relay
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick(), name="console-media")

    def held(self) -> list[CallMedia]:
        """The calls whose media this node holds."""
        return list(self._media)

    def local_media(self, namespace: str, guid: str) -> CallMedia | None:
        return self._media.get(namespace, guid)

    @property
    def watched(self) -> bool:
        return bool(self._subscribers) or self.relay is not None

    # core/watch.py's CallWatcher

    def changed(self, namespace: str, guid: str) -> None:
        if not self.watched:
            return
        self._dirty.add((namespace, guid))
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush(), name="console-flush")

    def recorded(self, record: CallRecord) -> None:
        if self.watched:
            self._records[key_of(record.namespace, record.guid)] = record

    def transcribed(self, transcript: Transcribed) -> None:
        if not self.watched:
            return
        data = _transcript_json(transcript)
        self.deliver_transcript(data)
        self.changed(transcript.namespace, transcript.guid)  # its row's last transcript time
        if self.relay is not None:
            self.relay([{"type": "transcript", "node": self.node_id, "transcript": data}])

    # subscribers

    def subscribe(self, key: str | None, transcripts: bool) -> Subscription:
        subscription = Subscription(key, transcripts)
        self._subscribers.add(subscription)
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick(), name="console-media")
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)
        if not self._subscribers and self._ticker is not None and self.relay is None:
            self._ticker.cancel()
            self._ticker = None

    def close(self) -> None:
        """The gateway stops: every console's stream ends (the browser retries)."""
        for subscription in list(self._subscribers):
            subscription.put(None)
        for task in (self._ticker, self._flusher):
            if task is not None:
                task.cancel()
        self._ticker = self._flusher = None

    async def snapshot(self, key: str | None = None) -> list[dict[str, Any]]:
        """Every call's row (or one call's), each with the current revision."""
        media = {key_of(m.namespace, m.guid): m for m in self._media}
        if key is None:
            records = await self._registry.records()
        else:
            namespace, _, guid = key.partition("/")
            record = await self._registry.get(namespace, guid)
            records = [] if record is None else [record]
            media = {k: m for k, m in media.items() if k == key}
        by_key: dict[str, CallRecord | None] = {key_of(r.namespace, r.guid): r for r in records}
        rows = []
        for each in by_key.keys() | media.keys():
            view = call_view(by_key.get(each), media.get(each), self.node_id, self.remote.get(each))
            if view is not None:
                rows.append(self._stamped(view))
        return rows

    def deliver_transcript(self, data: dict[str, Any]) -> None:
        item = sse("transcript", data)
        for subscription in self._subscribers:
            if subscription.transcripts and subscription.key == data["key"]:
                subscription.put(item)

    def deliver_row(self, key: str, row: dict[str, Any] | None) -> None:
        """A call's new row (None: it is gone) to the consoles showing it."""
        item = sse("call", row) if row is not None else sse("removed", {"key": key, "rev": self.next_revision()})
        for subscription in self._subscribers:
            if subscription.key is None or subscription.key == key:
                subscription.put(item)

    # internals

    def next_revision(self) -> int:
        self._revision += 1
        return self._revision

    def _stamped(self, view: CallView) -> dict[str, Any]:
        return {**view.to_json(), "rev": self.next_revision()}

    async def _flush(self) -> None:
        try:
            if not self._subscribers:  # only other nodes' consoles to tell: fewer, larger reads and publishes
                await asyncio.sleep(RELAY_BATCH_S)
            while self._dirty:
                dirty, self._dirty = list(self._dirty), set()
                versions = await self._versions(dirty)
                rows = []
                for index, (call, version) in enumerate(zip(dirty, versions, strict=True)):
                    if index % ROWS_PER_TURN == ROWS_PER_TURN - 1:
                        await asyncio.sleep(0)  # a refresh marks every call: rows from the cache never yield
                    rows.append(await self._row(*call, version))
                keys = [key_of(*key) for key in dirty]
                for key, row in zip(keys, rows, strict=True):
                    self.deliver_row(key, row)
                if self.relay is not None:
                    changes = zip(keys, rows, strict=True)
                    self.relay([{"type": "row", "node": self.node_id, "key": k, "row": r} for k, r in changes])
        except Exception:
            log.exception("console feed: a change could not be shown")
        finally:
            self._flusher = None

    async def _versions(self, keys: list[tuple[str, str]]) -> list[int | None]:
        """The stored versions of the calls to show, in one read (-1: unknown, the registry is away)."""
        try:
            return await self._registry.versions(keys)
        except RegistryUnavailable:
            return [-1] * len(keys)

    async def _row(self, namespace: str, guid: str, version: int | None) -> dict[str, Any] | None:
        """The call's row; its record read only if its version is not the one this node last read or wrote
        (a refresh, a media change, a transcript: most marks leave the record as it was)."""
        known = self._records.get(key_of(namespace, guid))
        record: CallRecord | None = None
        if known is not None and known.version == version:
            record = known
        elif version is not None and version >= 0:
            try:
                record = await self._registry.get(namespace, guid)
            except RegistryUnavailable:  # the shared registry is away: the media held here is still shown
                record = None
        if record is not None:
            self._records[key_of(namespace, guid)] = record
        row = self._local_row(namespace, guid, record)
        if row is None:
            self._forget(key_of(namespace, guid))
        return row

    def _local_row(self, namespace: str, guid: str, record: CallRecord | None) -> dict[str, Any] | None:
        key = key_of(namespace, guid)
        view = call_view(record, self._media.get(namespace, guid), self.node_id, self.remote.get(key))
        return None if view is None else self._stamped(view)

    def _forget(self, key: str) -> None:
        self.remote.pop(key, None)
        self._records.pop(key, None)
        self._sent_ms.pop(key, None)

    async def _tick(self) -> None:
        """Once a second: the media seconds that moved, for every call held here, in one event."""
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                await asyncio.sleep(MEDIA_TICK_S)
                moved: dict[str, dict[str, int]] = {}
                sent, self._sent_ms = self._sent_ms, {}  # calls no longer held drop out
                for media in self._media:
                    key = key_of(media.namespace, media.guid)
                    seconds = self._sent_ms[key] = tuple(media.media_ms(role) // 1000 for role in ROLES)
                    if sent.get(key) != seconds:
                        moved[key] = {role: media.media_ms(role) for role in ROLES if media.connected.get(role)}
                if moved:
                    self.deliver_media(moved)
                    if self.relay is not None:
                        self.relay([{"type": "media", "node": self.node_id, "calls": moved}])

    def deliver_media(self, moved: dict[str, dict[str, int]]) -> None:
        item: bytes | None = None
        for subscription in self._subscribers:
            if subscription.key is None:
                item = item or sse("media", moved)
                subscription.put(item)
            elif subscription.key in moved:
                subscription.put(sse("media", {subscription.key: moved[subscription.key]}))


def _transcript_json(transcript: Transcribed) -> dict[str, Any]:
    return {
        "key": key_of(transcript.namespace, transcript.guid),
        "role": transcript.role,
        "streamId": transcript.stream_id,
        "sequence": transcript.sequence,
        "start": transcript.start_ms,
        "end": transcript.end_ms,
        "text": transcript.text,
        "stages": {stage: round(seconds, 4) for stage, seconds in transcript.stages.items()},
        "at": transcript.at,
    }

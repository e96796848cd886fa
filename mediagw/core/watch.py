"""Who watches calls change (the ops console): a call's record or media changed, a transcript went out.

No I/O here: a notice is a plain call to each watcher, and with no watcher it is one call and an empty loop, so
media pays nothing for a console nobody opened. Watchers must be cheap too (mark, then work later on the loop).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from mediagw.core.record import CallRecord
from mediagw.core.registry import CallRegistry


@dataclass(frozen=True)
class Transcribed:
    """A call's transcript as its outputs got it (`text` redacted as the stream's settings say; never the
    unredacted text of redacted_and_unredacted), with its latency by stage (mediagw/latency.py)."""

    namespace: str
    guid: str
    role: str
    stream_id: str
    sequence: int
    start_ms: int
    end_ms: int
    text: str
    stages: dict[str, float]
    at: float  # wall clock when it went out


class CallWatcher(Protocol):
    def changed(self, namespace: str, guid: str) -> None:
        """The call's record or its media on this node changed."""

    def recorded(self, record: CallRecord) -> None:
        """This node wrote the call's record: the version now stored (no read needed to show it)."""

    def transcribed(self, transcript: Transcribed) -> None: ...


class CallWatchers:
    def __init__(self) -> None:
        self._watchers: tuple[CallWatcher, ...] = ()

    def add(self, watcher: CallWatcher) -> None:
        self._watchers = (*self._watchers, watcher)

    def remove(self, watcher: CallWatcher) -> None:
        self._watchers = tuple(w for w in self._watchers if w is not watcher)

    def changed(self, namespace: str, guid: str) -> None:
        for watcher in self._watchers:
            watcher.changed(namespace, guid)

    def recorded(self, record: CallRecord) -> None:
        for watcher in self._watchers:
            watcher.recorded(record)

    def transcribed(self, transcript: Transcribed) -> None:
        for watcher in self._watchers:
            watcher.transcribed(transcript)


class WatchedRegistry:
    """A registry whose every successful change on this node is announced (start, stop, pending, ending...)."""

    def __init__(
        self,
        inner: CallRegistry,
        changed: Callable[[str, str], None],
        recorded: Callable[[CallRecord], None] = lambda record: None,
    ) -> None:
        self.inner = inner
        self._changed = changed
        self._recorded = recorded

    async def get(self, namespace: str, guid: str) -> CallRecord | None:
        return await self.inner.get(namespace, guid)

    async def create(self, record: CallRecord) -> CallRecord:
        stored = await self.inner.create(record)
        self._recorded(stored)
        self._changed(*record.key)
        return stored

    async def swap(self, old: CallRecord, new: CallRecord) -> CallRecord | None:
        stored = await self.inner.swap(old, new)
        if stored is not None:
            self._recorded(stored)
            self._changed(*old.key)
        return stored

    async def remove(self, namespace: str, guid: str, version: int | None = None) -> bool:
        removed = await self.inner.remove(namespace, guid, version)
        if removed:
            self._changed(namespace, guid)
        return removed

    async def versions(self, keys: Sequence[tuple[str, str]]) -> list[int | None]:
        return await self.inner.versions(keys)

    async def records(self) -> list[CallRecord]:
        return await self.inner.records()

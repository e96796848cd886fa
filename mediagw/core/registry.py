"""Where call records live, behind an async interface: in memory for one node; Redis for several (issue 19).

Records are immutable; a change is a compare-and-set on the record's version (`swap`), so a shared registry can
do it atomically (a Lua script or WATCH/MULTI on Redis). `change` retries a pure edit until it applies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol

from mediagw.core.record import CallRecord


class RegistryUnavailable(RuntimeError):
    """A shared registry could not be reached (its store is down); the message names no secret."""


class CallRegistry(Protocol):
    async def get(self, namespace: str, guid: str) -> CallRecord | None: ...

    async def create(self, record: CallRecord) -> CallRecord:
        """Add `record` unless its call is known; return the stored one (the existing one if known)."""

    async def swap(self, old: CallRecord, new: CallRecord) -> CallRecord | None:
        """Store `new` if the stored record is still `old`'s version; the stored record, or None if it changed
        (or went) meanwhile."""

    async def remove(self, namespace: str, guid: str, version: int | None = None) -> bool:
        """Forget a call (only at `version`, when given); whether it was removed."""

    async def versions(self, keys: Sequence[tuple[str, str]]) -> list[int | None]:
        """Each call's stored version (None: not known), in one read: a cheap look for what changed. A version
        is never reused for a call, not even by a record created again after the registry lost it."""

    async def records(self) -> list[CallRecord]: ...


class LingerDeadlines(Protocol):
    """A shared registry's deadlines for calls whose media is gone (the in-memory default uses a timer instead)."""

    async def linger(self, namespace: str, guid: str) -> None:
        """This node's last source of the call's media went: the call ends at the linger deadline unless media
        comes back before, on any node; whichever node is alive then ends it."""


class InMemoryCallRegistry:
    """The embedded default: one node's records in a dict (no awaits inside, so every operation is atomic)."""

    def __init__(self) -> None:
        self._records: dict[tuple[str, str], CallRecord] = {}

    async def get(self, namespace: str, guid: str) -> CallRecord | None:
        return self._records.get((namespace, guid))

    async def create(self, record: CallRecord) -> CallRecord:
        return self._records.setdefault(record.key, replace(record, version=1))

    async def swap(self, old: CallRecord, new: CallRecord) -> CallRecord | None:
        stored = self._records.get(old.key)
        if stored is None or stored.version != old.version:
            return None
        self._records[old.key] = stored = replace(new, version=old.version + 1)
        return stored

    async def remove(self, namespace: str, guid: str, version: int | None = None) -> bool:
        stored = self._records.get((namespace, guid))
        if stored is None or (version is not None and stored.version != version):
            return False
        del self._records[(namespace, guid)]
        return True

    async def versions(self, keys: Sequence[tuple[str, str]]) -> list[int | None]:
        found = (self._records.get(key) for key in keys)
        return [None if record is None else record.version for record in found]

    async def records(self) -> list[CallRecord]:
        return list(self._records.values())


async def change(
    registry: CallRegistry,
    namespace: str,
    guid: str,
    edit: Callable[[CallRecord], CallRecord],
    known: CallRecord | None = None,
) -> CallRecord | None:
    """Apply a pure `edit` to the stored record, again on the newer one while another writer got there first;
    None when the call is not known. `known`: the version the caller last had, tried first without a read (a
    stale one costs a failed swap, then the read)."""
    record = known
    while True:
        if record is None:
            record = await registry.get(namespace, guid)
            if record is None:
                return None
        stored = await registry.swap(record, edit(record))
        if stored is not None:
            return stored
        record = None

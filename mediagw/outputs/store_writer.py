"""PostgreSQL's writer: utterances (and the streams they belong to) committed in batches, in order, and held in a
bounded buffer while PostgreSQL is away.

Group commit: utterances that arrive while a commit runs share the next one, so a lone utterance is committed
at once and a busy gateway commits in batches (up to MAX_BATCH); none waits longer than the commit before its own
(plus `batch_wait_s`, 0 by default). While PostgreSQL cannot be reached the
writer retries the same batch (every RETRY_S) and what arrives meanwhile waits behind it, up to `buffer_size`
utterances: media and ASR go on, each stream's delivery waits for its store write (store before delivery). Beyond
the bound an utterance is dropped: logged, counted (mediagw_store_dropped_utterances_total), its save raises
StoreFull. A stream opened while PostgreSQL is away is held in the same order, without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from ulid import ULID

from mediagw.outputs.store import StoreUnavailable
from mediagw.outputs.store_schema import UPSERT_DELIVERY, StreamRecord, numbered
from mediagw.outputs.store_sql import (
    INSERT_CONVERSATION,
    INSERT_LEG,
    INSERT_STREAM,
    INSERT_UTTERANCE,
    MARK_SPOOLED_DELIVERED,
    latest_leg,
)

log = logging.getLogger(__name__)
LOST: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,  # an administrator's or a shutdown's disconnect
    asyncpg.InterfaceError,
    StoreUnavailable,
)
MAX_BATCH = 200
RETRY_S = 0.5


class StoreFull(RuntimeError):
    """The buffer for PostgreSQL's return is full: the utterance was dropped (counted and logged)."""


@dataclass(frozen=True)
class SavedUtterance:
    id: str
    stream_id: str
    start_ms: int
    end_ms: int
    text: str
    unredacted: str | None
    message: str  # JSON
    targets: tuple[str, ...]
    spooled_id: str | None
    created_at: float

    @staticmethod
    def new(
        stream_id: str,
        start_ms: int,
        end_ms: int,
        text: str,
        unredacted: str | None,
        message: str,
        targets: tuple[str, ...],
        spooled_id: str | None,
    ) -> SavedUtterance:
        fields = (stream_id, start_ms, end_ms, text, unredacted, message, targets, spooled_id)
        return SavedUtterance(str(ULID()), *fields, time.time())


@dataclass
class _Item:
    work: SavedUtterance | tuple[StreamRecord, ...]
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class StoreWriter:
    def __init__(
        self,
        acquire: Callable[[], Any],
        buffer_size: int,
        batch_wait_s: float,
        description: str,
        on_dropped: Callable[[], None] | None,
        node: str = "",
    ) -> None:
        self._acquire = acquire
        self._node = node
        self._buffer_size = buffer_size
        self._batch_wait_s = batch_wait_s
        self._description = description
        self._on_dropped = on_dropped
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._waiting = 0  # utterances queued or in the batch being written
        self._task: asyncio.Task[None] | None = None
        self._conversations: dict[str, str] = {}  # stream id -> conversation id, as committed
        self.connected = True
        self.dropped = 0

    @property
    def buffered(self) -> int:
        """Utterances waiting for their commit."""
        return self._waiting

    def start(self) -> None:
        self._task = asyncio.create_task(self._write_forever(), name="store-writer")

    async def open_streams(self, records: Sequence[StreamRecord]) -> None:
        item = _Item(tuple(records))
        self._queue.put_nowait(item)
        # errors reach the start; PostgreSQL away (or lost meanwhile): held, written in order when it is back
        while self.connected and not item.done.done():
            await asyncio.wait({item.done}, timeout=RETRY_S)
        if item.done.done():
            item.done.result()

    async def save(self, utterance: SavedUtterance) -> str:
        if self.buffered >= self._buffer_size:
            self.dropped += 1
            if self._on_dropped is not None:
                self._on_dropped()
            log.error(
                "store: %s is away and %d utterances wait for it: utterance %s of stream %s dropped",
                self._description,
                self.buffered,
                utterance.id,
                utterance.stream_id,
            )
            raise StoreFull(f"{self._description}: buffer of {self._buffer_size} full")
        item = _Item(utterance)
        self._queue.put_nowait(item)
        self._waiting += 1
        try:
            await asyncio.shield(item.done)
        finally:
            self._waiting -= 1
        return utterance.id

    async def close(self) -> None:
        """Write what is queued if PostgreSQL is there; then stop."""
        if self._task is None:
            return
        if self.connected:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), 5.0)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _write_forever(self) -> None:
        while True:
            batch = await self._next_batch()
            await self._commit(batch)
            for _ in batch:
                self._queue.task_done()

    async def _next_batch(self) -> list[_Item]:
        """Group commit: what queued while the last commit ran goes in the next one, at once; `batch_wait_s`
        (0 by default) lets the first of a batch wait that much longer for company."""
        batch = [await self._queue.get()]
        deadline = asyncio.get_running_loop().time() + self._batch_wait_s
        while len(batch) < MAX_BATCH:
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                continue
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            with contextlib.suppress(TimeoutError):
                batch.append(await asyncio.wait_for(self._queue.get(), left))
        return batch

    async def _commit(self, batch: list[_Item]) -> None:
        """The batch in one transaction, retried until PostgreSQL takes it; an item it refuses (bad data) fails
        alone, the others are written one by one."""
        while True:
            try:
                await self._write(batch)
            except LOST as error:
                if self.connected:
                    log.error("store: %s lost (%s): holding utterances until it returns", self._description, error)
                self.connected = False
                await asyncio.sleep(RETRY_S)
                continue
            except Exception as error:  # refused (bad data, a stream never opened): that item's caller hears it
                if len(batch) > 1:
                    for item in batch:
                        await self._commit([item])
                    return
                log.warning("store: %s refused a write: %s", self._description, type(error).__name__)
                _settle(batch[0], error=error)
                return
            if not self.connected:
                log.warning("store: %s is back; %d held writes follow", self._description, self._queue.qsize())
            self.connected = True
            for item in batch:
                _settle(item)
            return

    async def _write(self, batch: list[_Item]) -> None:
        opened: dict[str, str] = {}
        async with self._acquire() as db, db.transaction():
            for item in batch:
                if isinstance(item.work, tuple):
                    for record in item.work:
                        opened[record.stream_id] = await _open_stream(db, record)
            utterances = [item.work for item in batch if isinstance(item.work, SavedUtterance)]
            if utterances:
                await self._write_utterances(db, utterances, opened)
        self._conversations.update(opened)

    async def _write_utterances(
        self, db: asyncpg.Connection, utterances: list[SavedUtterance], opened: dict[str, str]
    ) -> None:
        rows, touched, deliveries, spooled = [], [], [], []
        for u in utterances:
            conversation = opened.get(u.stream_id) or await self._conversation_of(db, u.stream_id)
            rows.append(
                (u.id, conversation, u.stream_id, u.start_ms, u.end_ms, u.text, u.unredacted, u.message, u.created_at)
            )
            touched.append((u.created_at, conversation))
            deliveries += [(u.id, t, "queued", 0, "", u.created_at, self._node) for t in u.targets]
            if u.spooled_id is not None:
                spooled.append((u.id, u.created_at, u.spooled_id))
        await db.executemany(numbered(INSERT_UTTERANCE), rows)
        await db.executemany("UPDATE conversations SET updated_at = $1 WHERE id = $2", touched)
        if deliveries:
            await db.executemany(numbered(UPSERT_DELIVERY), deliveries)
        if spooled:
            await db.executemany(numbered(MARK_SPOOLED_DELIVERED), spooled)

    async def _conversation_of(self, db: asyncpg.Connection, stream_id: str) -> str:
        known = self._conversations.get(stream_id)
        if known is None:
            query = "SELECT l.conversation_id FROM streams s JOIN legs l ON l.id = s.leg_id WHERE s.id = $1"
            known = await db.fetchval(query, stream_id)
            if known is None:
                raise KeyError(f"stream {stream_id} was never opened in the store")
            self._conversations[stream_id] = known
        return str(known)


async def _open_stream(db: asyncpg.Connection, record: StreamRecord) -> str:
    now = time.time()
    external, namespace = record.conversation_external_id, record.namespace
    await db.execute(numbered(INSERT_CONVERSATION), str(ULID()), external, namespace, now, now)
    query = "SELECT id FROM conversations WHERE namespace = $1 AND external_id = $2"
    conversation_id = str(await db.fetchval(query, namespace, external))
    leg_id = await db.fetchval(numbered(latest_leg("IS NOT DISTINCT FROM")), conversation_id, record.agent_id)
    if leg_id is None:
        leg_id = str(ULID())
        await db.execute(numbered(INSERT_LEG), leg_id, conversation_id, record.agent_id, record.customer_id, now)
    await db.execute(numbered(INSERT_STREAM), record.stream_id, leg_id, record.role, record.participant_id, now)
    return conversation_id


def _settle(item: _Item, error: BaseException | None = None) -> None:
    if item.done.done():
        return
    if error is None:
        item.done.set_result(None)
    else:
        item.done.set_exception(error)

"""The shared store: PostgreSQL through asyncpg, for gateways that share their calls' state (`store.url`).

Why asyncpg rather than psycopg 3: it is asyncio-native (the gateway's loop never waits on a thread), speaks the
binary protocol with prepared statements cached per connection, needs no libpq on the host, and its pool is built
in. The schema and migrations are SQLite's (mediagw/outputs/store_schema.py), read in PostgreSQL's dialect and
versioned in the table schema_version; they run under an advisory lock, so two processes starting at once migrate
once. Utterances go through the batching writer (mediagw/outputs/store_writer.py): held while PostgreSQL is away.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from mediagw.outputs.store import StoreUnavailable
from mediagw.outputs.store_schema import (
    LEFT_IN_FLIGHT,
    LEFT_QUEUED,
    MIGRATIONS,
    UPSERT_DELIVERY,
    DeliveryRecord,
    ExportRow,
    PendingUntranscribed,
    StoredUtterance,
    StreamRecord,
    Untranscribed,
    numbered,
    postgres_ddl,
)
from mediagw.outputs.store_sql import (
    ADD_UNTRANSCRIBED,
    ADD_VOCABULARY,
    EXPORT,
    PENDING,
    PUT_SETTING,
    SETTLE_DELIVERIES,
    messages_query,
    stored_utterance,
)
from mediagw.outputs.store_writer import LOST, SavedUtterance, StoreWriter

log = logging.getLogger(__name__)
MIGRATION_LOCK = 0x6D656469_61677721  # pg_advisory_xact_lock key: "mediagw!"
CONNECT_TIMEOUT_S = 10.0


class PostgresStore:
    def __init__(
        self,
        url: str,
        buffer_size: int,
        batch_wait_s: float,
        on_dropped: Callable[[], None] | None = None,
        node: str = "",
    ) -> None:
        """`node`: this node's name in a cluster, on each delivery record; its start-up settles only those."""
        self._url = url
        self.node = node
        self.description = f"PostgreSQL at {where(url)}"
        self._pool: asyncpg.Pool | None = None
        self._writer = StoreWriter(self._acquire, buffer_size, batch_wait_s, self.description, on_dropped, node)

    async def open(self, read_only: bool = False) -> None:
        """Connect (StoreUnavailable naming the host, never the password); unless `read_only`, migrate and settle
        what a stop left in flight, then start the writer."""
        try:
            self._pool = await asyncpg.create_pool(
                self._url, min_size=1, max_size=4, timeout=CONNECT_TIMEOUT_S, command_timeout=60
            )
            if not read_only:
                async with self._pool.acquire() as db:
                    await _migrate(db)
                    await _settle(db, self.node)
        except (*LOST, asyncpg.PostgresError, ValueError) as error:
            raise StoreUnavailable(f"cannot use {self.description}: {_scrub(str(error), self._url)}") from error
        if not read_only:
            self._writer.start()

    async def open_stream(self, *records: StreamRecord) -> None:
        await self._writer.open_streams(records)

    async def save_utterance(
        self,
        stream_id: str,
        start_ms: int,
        end_ms: int,
        text: str,
        unredacted: str | None,
        message: dict[str, Any],
        targets: tuple[str, ...] = (),
        spooled_id: str | None = None,
    ) -> str:
        body = json.dumps(message, separators=(",", ":"))
        saved = SavedUtterance.new(stream_id, start_ms, end_ms, text, unredacted, body, targets, spooled_id)
        return await self._writer.save(saved)

    async def messages(self, namespace: str | None, external_id: str, limit: int) -> list[StoredUtterance]:
        query, params = messages_query(namespace, external_id, limit)
        return [stored_utterance(row) for row in await self._fetch(query, *params)]

    async def record_delivery(self, utterance_id: str, target: str, outcome: str, attempts: int, detail: str) -> None:
        await self.record_deliveries([DeliveryRecord(utterance_id, target, outcome, attempts, detail)])

    async def record_deliveries(self, records: list[DeliveryRecord]) -> None:
        now = time.time()
        rows = [(r.utterance_id, r.target, r.outcome, r.attempts, r.detail[:500], now, self.node) for r in records]
        async with self._acquire() as db:
            await db.executemany(numbered(UPSERT_DELIVERY), rows)

    async def deliveries(self) -> list[DeliveryRecord]:
        query = "SELECT utterance_id, target, outcome, attempts, detail FROM deliveries ORDER BY id"
        return [DeliveryRecord(*row) for row in await self._fetch(query)]

    async def purge(self, older_than_s: float) -> int:
        cutoff = time.time() - older_than_s
        async with self._acquire() as db, db.transaction():
            status = await db.execute("DELETE FROM conversations WHERE updated_at < $1", cutoff)
            await db.execute("DELETE FROM deliveries WHERE at < $1", cutoff)
        return int(status.split()[-1])

    async def vocabularies(self) -> list[tuple[str, str, list[str]]]:
        query = "SELECT id, phrase, sounds_like FROM custom_vocabularies ORDER BY seq"
        return [(i, p, json.loads(s)) for i, p, s in await self._fetch(query)]

    async def add_vocabulary(self, entry_id: str, phrase: str, sounds_like: list[str]) -> None:
        await self._execute(ADD_VOCABULARY, entry_id, phrase, json.dumps(sounds_like), time.time())

    async def delete_vocabulary(self, entry_id: str) -> bool:
        status = await self._execute("DELETE FROM custom_vocabularies WHERE id = ?", entry_id)
        return status != "DELETE 0"

    async def setting(self, key: str) -> str | None:
        rows = await self._fetch("SELECT value FROM settings WHERE key = ?", key)
        return str(rows[0][0]) if rows else None

    async def put_setting(self, key: str, value: str) -> None:
        await self._execute(PUT_SETTING, key, value, time.time())

    async def export_rows(self, start: float, end: float, after_seq: int, limit: int) -> list[ExportRow]:
        return [ExportRow(*row) for row in await self._fetch(EXPORT, start, end, after_seq, limit)]

    async def add_untranscribed(self, item: Untranscribed) -> None:
        now = time.time()
        fields = (item.id, item.stream_id, item.start_ms, item.end_ms, item.audio_start_ms, item.audio_file)
        await self._execute(ADD_UNTRANSCRIBED, *fields, item.settings, item.state, now, now)

    async def pending_untranscribed(self, state: str, limit: int) -> list[PendingUntranscribed]:
        return [PendingUntranscribed(*row) for row in await self._fetch(PENDING, state, limit)]

    async def settle_untranscribed(self, item_id: str, state: str | None) -> None:
        if state is None:
            await self._execute("UPDATE untranscribed SET attempts = attempts + 1 WHERE id = ?", item_id)
            return
        query = "UPDATE untranscribed SET state = ?, attempts = attempts + 1, updated_at = ? WHERE id = ?"
        await self._execute(query, state, time.time(), item_id)

    async def untranscribed_audio(self, state: str) -> set[str]:
        query = "SELECT audio_file FROM untranscribed WHERE state = ? AND audio_file IS NOT NULL"
        return {row[0] for row in await self._fetch(query, state)}

    async def healthy(self) -> bool:
        """FAILED while the writer cannot reach PostgreSQL, or a query cannot."""
        if self._pool is None or not self._writer.connected:
            return False
        try:
            async with self._acquire() as db:
                return bool(await db.fetchval("SELECT 1", timeout=2.0) == 1)
        except (*LOST, asyncpg.PostgresError):
            return False

    async def close(self) -> None:
        await self._writer.close()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def buffered(self) -> int:
        return self._writer.buffered

    def _acquire(self) -> Any:
        if self._pool is None:
            raise StoreUnavailable(f"{self.description} is not open")
        return self._pool.acquire(timeout=CONNECT_TIMEOUT_S)

    async def _fetch(self, query: str, *params: Any) -> list[Any]:
        async with self._acquire() as db:
            return list(await db.fetch(numbered(query), *params))

    async def _execute(self, query: str, *params: Any) -> str:
        async with self._acquire() as db:
            return str(await db.execute(numbered(query), *params))


async def _migrate(db: asyncpg.Connection) -> None:
    """Every migration not yet applied, each in the transaction that records its number; the advisory lock makes
    a second process starting at the same time wait, then find nothing left to do."""
    async with db.transaction():
        await db.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        version = await db.fetchval("SELECT version FROM schema_version")
        if version is None:
            await db.execute("INSERT INTO schema_version (version) VALUES (0)")
            version = 0
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            await db.execute(postgres_ddl(script))
            await db.execute("UPDATE schema_version SET version = $1", number)
            log.info("store: PostgreSQL schema migrated to version %d", number)


async def _settle(db: asyncpg.Connection, node: str) -> None:
    """What this node's last run left in flight or queued (other nodes' deliveries are theirs, still going)."""
    settle = numbered(SETTLE_DELIVERIES)
    await db.execute(settle, "unknown", LEFT_IN_FLIGHT, time.time(), "in_flight", node)
    await db.execute(settle, "not_sent", LEFT_QUEUED, time.time(), "queued", node)


def where(url: str) -> str:
    """host:port/database of a PostgreSQL URL, without user or password."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    return f"{host}:{parts.port or 5432}{parts.path or '/'}"


def _scrub(message: str, url: str) -> str:
    password = urlsplit(url).password
    return message.replace(password, "***") if password else message

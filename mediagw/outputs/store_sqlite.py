"""The embedded store: SQLite in WAL mode, written from one thread off the loop (the default, no server to run).

The only module that opens the SQLite file: every reader (GET messages, export, the CLI, retention, vocabulary,
settings, the spool) goes through the store interface (mediagw/outputs/store.py).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ulid import ULID

from mediagw.outputs.files import private_file
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
)
from mediagw.outputs.store_sql import (
    ADD_UNTRANSCRIBED,
    ADD_VOCABULARY,
    EXPORT,
    INSERT_CONVERSATION,
    INSERT_LEG,
    INSERT_STREAM,
    INSERT_UTTERANCE,
    MARK_SPOOLED_DELIVERED,
    PENDING,
    PUT_SETTING,
    SETTLE_DELIVERIES,
    latest_leg,
    messages_query,
    stored_utterance,
)

T = TypeVar("T")


class SqliteStore:
    """One connection, used only by the store's own thread, so SQLite never blocks the event loop."""

    def __init__(self, path: Path, synchronous: str = "NORMAL", node: str = "") -> None:
        """`node`: this node's name in a cluster, on each delivery record (empty: one process)."""
        self.path = path
        self.node = node
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="store")
        self._synchronous = synchronous
        self._db: sqlite3.Connection | None = None
        self._streams: dict[str, str] = {}  # stream id -> conversation id

    @property
    def description(self) -> str:
        return f"SQLite {self.path}"

    async def open(self, read_only: bool = False) -> None:
        """`read_only`: a reader beside a running gateway (an export): no migration, nothing settled."""
        await self._run(self._open_read_only if read_only else self._open)

    async def open_stream(self, *records: StreamRecord) -> None:
        """Record streams (both participants of a call in one transaction)."""

        def write(db: sqlite3.Connection) -> None:
            for record in records:
                self._open_stream(db, record)

        await self._write(write)

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
        """Commit the utterance, a `queued` delivery record for each webhook target and, for a late utterance,
        its spooled row marked delivered, in one transaction."""

        def save(db: sqlite3.Connection) -> str:
            conversation_id = self._conversation_of(db, stream_id)
            utterance_id = str(ULID())
            now = time.time()
            body = json.dumps(message, separators=(",", ":"))
            row = (utterance_id, conversation_id, stream_id, start_ms, end_ms, text, unredacted, body, now)
            db.execute(INSERT_UTTERANCE, row)
            db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id))
            db.executemany(UPSERT_DELIVERY, [(utterance_id, t, "queued", 0, "", now, self.node) for t in targets])
            if spooled_id is not None:
                db.execute(MARK_SPOOLED_DELIVERED, (utterance_id, now, spooled_id))
            return utterance_id

        return await self._write(save)

    async def messages(self, namespace: str | None, external_id: str, limit: int) -> list[StoredUtterance]:
        query, params = messages_query(namespace, external_id, limit)
        return await self._run(lambda: [stored_utterance(row) for row in self._conn.execute(query, params)])

    async def record_delivery(self, utterance_id: str, target: str, outcome: str, attempts: int, detail: str) -> None:
        await self.record_deliveries([DeliveryRecord(utterance_id, target, outcome, attempts, detail)])

    async def record_deliveries(self, records: list[DeliveryRecord]) -> None:
        """Each message's record with its target, created or brought up to date, in one transaction."""
        now = time.time()
        rows = [(r.utterance_id, r.target, r.outcome, r.attempts, r.detail[:500], now, self.node) for r in records]
        await self._write(lambda db: _execute(db, UPSERT_DELIVERY, rows, many=True))

    async def deliveries(self) -> list[DeliveryRecord]:
        query = "SELECT utterance_id, target, outcome, attempts, detail FROM deliveries ORDER BY id"
        return await self._run(lambda: [DeliveryRecord(*row) for row in self._conn.execute(query)])

    async def purge(self, older_than_s: float) -> int:
        def delete(db: sqlite3.Connection) -> int:
            cutoff = time.time() - older_than_s
            cursor = db.execute("DELETE FROM conversations WHERE updated_at < ?", (cutoff,))
            db.execute("DELETE FROM deliveries WHERE at < ?", (cutoff,))
            return cursor.rowcount

        return await self._write(delete)

    async def vocabularies(self) -> list[tuple[str, str, list[str]]]:
        """Every custom vocabulary entry, oldest first: (id, phrase, soundsLike)."""
        query = "SELECT id, phrase, sounds_like FROM custom_vocabularies ORDER BY seq"
        return await self._run(lambda: [(i, p, json.loads(s)) for i, p, s in self._conn.execute(query)])

    async def add_vocabulary(self, entry_id: str, phrase: str, sounds_like: list[str]) -> None:
        row = (entry_id, phrase, json.dumps(sounds_like), time.time())
        await self._write(lambda db: _execute(db, ADD_VOCABULARY, row))

    async def delete_vocabulary(self, entry_id: str) -> bool:
        query = "DELETE FROM custom_vocabularies WHERE id = ?"
        return await self._write(lambda db: db.execute(query, (entry_id,)).rowcount > 0)

    async def setting(self, key: str) -> str | None:
        query = "SELECT value FROM settings WHERE key = ?"
        row = await self._run(lambda: self._conn.execute(query, (key,)).fetchone())
        return None if row is None else str(row[0])

    async def put_setting(self, key: str, value: str) -> None:
        await self._write(lambda db: _execute(db, PUT_SETTING, (key, value, time.time())))

    async def export_rows(self, start: float, end: float, after_seq: int, limit: int) -> list[ExportRow]:
        """One page of the feed: utterances created in [start, end) past `after_seq`, in stored order."""
        params = (start, end, after_seq, limit)
        return await self._run(lambda: [ExportRow(*row) for row in self._conn.execute(EXPORT, params)])

    async def add_untranscribed(self, item: Untranscribed) -> None:
        now = time.time()
        row = (*_untranscribed_row(item), now, now)
        await self._write(lambda db: _execute(db, ADD_UNTRANSCRIBED, row))

    async def pending_untranscribed(self, state: str, limit: int) -> list[PendingUntranscribed]:
        return await self._run(
            lambda: [PendingUntranscribed(*row) for row in self._conn.execute(PENDING, (state, limit))]
        )

    async def settle_untranscribed(self, item_id: str, state: str | None) -> None:
        """Count an attempt on a spooled row; with `state`, also move it there."""
        if state is None:
            query, params = "UPDATE untranscribed SET attempts = attempts + 1 WHERE id = ?", (item_id,)
        else:
            query = "UPDATE untranscribed SET state = ?, attempts = attempts + 1, updated_at = ? WHERE id = ?"
            params = (state, time.time(), item_id)  # type: ignore[assignment]
        await self._write(lambda db: _execute(db, query, params))

    async def untranscribed_audio(self, state: str) -> set[str]:
        query = "SELECT audio_file FROM untranscribed WHERE state = ? AND audio_file IS NOT NULL"
        return await self._run(lambda: {row[0] for row in self._conn.execute(query, (state,))})

    async def healthy(self) -> bool:
        try:
            return await self._run(lambda: self._conn.execute("SELECT 1").fetchone() == (1,))
        except (sqlite3.Error, RuntimeError):
            return False

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._executor.shutdown(wait=True)

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db

    async def _run(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work` in one transaction, committed (rolled back if it raises). It must not return a cursor: one freed
        on the loop's thread would finalize its statement while this thread uses the connection (`_execute`)."""

        def run() -> T:
            try:
                result = work(self._conn)
            except BaseException:
                self._conn.rollback()
                raise
            self._conn.commit()
            return result

        return await self._run(run)

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for path in (self.path, *(self.path.with_name(self.path.name + s) for s in ("-wal", "-shm"))):
            if path == self.path or path.exists():
                private_file(path)  # SQLite gives its WAL and SHM files the database's mode
        db = sqlite3.connect(self.path, isolation_level="DEFERRED", check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={self._synchronous}")
        db.execute("PRAGMA foreign_keys=ON")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            db.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")
        db.execute(SETTLE_DELIVERIES, ("unknown", LEFT_IN_FLIGHT, time.time(), "in_flight", self.node))
        db.execute(SETTLE_DELIVERIES, ("not_sent", LEFT_QUEUED, time.time(), "queued", self.node))
        db.commit()
        self._db = db

    def _open_read_only(self) -> None:
        self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)

    def _open_stream(self, db: sqlite3.Connection, record: StreamRecord) -> None:
        now = time.time()
        key = (record.namespace, record.conversation_external_id)
        db.execute(INSERT_CONVERSATION, (str(ULID()), record.conversation_external_id, record.namespace, now, now))
        conversation_id = db.execute(
            "SELECT id FROM conversations WHERE namespace = ? AND external_id = ?", key
        ).fetchone()[0]
        leg = db.execute(latest_leg("IS"), (conversation_id, record.agent_id)).fetchone()
        leg_id = leg[0] if leg else str(ULID())
        if not leg:
            db.execute(INSERT_LEG, (leg_id, conversation_id, record.agent_id, record.customer_id, now))
        db.execute(INSERT_STREAM, (record.stream_id, leg_id, record.role, record.participant_id, now))
        self._streams[record.stream_id] = conversation_id

    def _conversation_of(self, db: sqlite3.Connection, stream_id: str) -> str:
        known = self._streams.get(stream_id)
        if known is None:
            query = "SELECT l.conversation_id FROM streams s JOIN legs l ON l.id = s.leg_id WHERE s.id = ?"
            row = db.execute(query, (stream_id,)).fetchone()
            if row is None:
                raise KeyError(f"stream {stream_id} was never opened in the store")
            known = self._streams[stream_id] = row[0]
        return known


def _execute(db: sqlite3.Connection, query: str, params: Any, many: bool = False) -> None:
    """A statement whose cursor is closed in the store's thread."""
    (db.executemany(query, params) if many else db.execute(query, params)).close()


def _untranscribed_row(item: Untranscribed) -> tuple[Any, ...]:
    return (
        item.id,
        item.stream_id,
        item.start_ms,
        item.end_ms,
        item.audio_start_ms,
        item.audio_file,
        item.settings,
        item.state,
    )

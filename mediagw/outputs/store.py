"""The transcript store: SQLite in WAL mode behind a small async interface, written from one thread off the loop.

Every utterance is committed here before any delivery is attempted. Unredacted text is kept only for streams
that asked for redacted_and_unredacted (or unredacted) output.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ulid import ULID

from mediagw.outputs.files import private_file

T = TypeVar("T")

MIGRATIONS = [
    """
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        external_id TEXT NOT NULL,
        namespace TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (namespace, external_id)
    );
    CREATE TABLE legs (
        id TEXT PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        agent_id TEXT,
        customer_id TEXT,
        started_at REAL NOT NULL
    );
    CREATE TABLE streams (
        id TEXT PRIMARY KEY,
        leg_id TEXT NOT NULL REFERENCES legs(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        participant_id TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE utterances (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        stream_id TEXT NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        text TEXT NOT NULL,
        unredacted_text TEXT,
        message TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX utterances_by_conversation ON utterances (conversation_id, seq);
    CREATE INDEX utterances_by_time ON utterances (created_at);
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        utterance_id TEXT NOT NULL,
        target TEXT NOT NULL,
        outcome TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        detail TEXT,
        at REAL NOT NULL
    );
    CREATE INDEX deliveries_by_utterance ON deliveries (utterance_id);
    """,
    """
    CREATE TABLE custom_vocabularies (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        phrase TEXT NOT NULL,
        sounds_like TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    """,
    # one delivery record per message and target, updated as it goes: queued, in_flight, then its outcome
    """
    DELETE FROM deliveries WHERE id NOT IN (SELECT MAX(id) FROM deliveries GROUP BY utterance_id, target);
    CREATE UNIQUE INDEX deliveries_by_message ON deliveries (utterance_id, target);
    """,
    # utterances the shutdown deadline left undecoded, and what became of them (mediagw/outputs/spool.py)
    """
    CREATE TABLE untranscribed (
        id TEXT PRIMARY KEY,
        stream_id TEXT NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        audio_start_ms INTEGER NOT NULL,
        audio_file TEXT,
        settings TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        utterance_id TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX untranscribed_by_state ON untranscribed (state, created_at);
    """,
]
UPSERT_DELIVERY = (
    "INSERT INTO deliveries (utterance_id, target, outcome, attempts, detail, at) VALUES (?,?,?,?,?,?)"
    " ON CONFLICT (utterance_id, target) DO UPDATE SET outcome = excluded.outcome, attempts = excluded.attempts,"
    " detail = excluded.detail, at = excluded.at"
)
# what a stop (a kill, a crash) left unfinished, settled at start-up: the truth as far as it is known
LEFT_IN_FLIGHT = "in flight when the gateway stopped: outcome unknown"
LEFT_QUEUED = "the gateway stopped before sending it"


@dataclass(frozen=True)
class StreamRecord:
    stream_id: str
    namespace: str
    conversation_external_id: str
    role: str
    participant_id: str
    agent_id: str | None = None
    customer_id: str | None = None


@dataclass(frozen=True)
class DeliveryRecord:
    """Where one message stands with one webhook target: queued, in_flight, delivered, dropped (never sent),
    failed/timeout/error/token (sent, not acknowledged), unknown (in flight at a stop) or not_sent (queued at one)."""

    utterance_id: str
    target: str
    outcome: str
    attempts: int = 0
    detail: str = ""


@dataclass(frozen=True)
class StoredUtterance:
    id: str
    conversation_external_id: str
    stream_id: str
    role: str
    participant_id: str
    start_ms: int
    end_ms: int
    text: str
    unredacted_text: str | None
    message: dict[str, Any]  # the transcript message as the stream's client saw it
    created_at: float

    @property
    def timestamp(self) -> str:
        return datetime.fromtimestamp(self.created_at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TranscriptStore(Protocol):
    async def open_stream(self, *records: StreamRecord) -> None: ...

    async def save_utterance(
        self,
        stream_id: str,
        start_ms: int,
        end_ms: int,
        text: str,
        unredacted: str | None,
        message: dict[str, Any],
        targets: tuple[str, ...] = (),
    ) -> str: ...

    async def messages(self, namespace: str | None, external_id: str, limit: int) -> list[StoredUtterance]: ...

    async def record_delivery(
        self, utterance_id: str, target: str, outcome: str, attempts: int, detail: str
    ) -> None: ...

    async def purge(self, older_than_s: float) -> int: ...

    async def close(self) -> None: ...


class SqliteStore:
    """One connection, used only by the store's own thread, so SQLite never blocks the event loop."""

    def __init__(self, path: Path, synchronous: str = "NORMAL") -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="store")
        self._synchronous = synchronous
        self._db: sqlite3.Connection | None = None
        self._streams: dict[str, tuple[str, str, str]] = {}  # stream id -> (conversation id, role, participant)

    async def open(self) -> None:
        await self._run(self._open)

    async def open_stream(self, *records: StreamRecord) -> None:
        """Record streams (both participants of a call in one transaction)."""

        def write() -> None:
            for record in records:
                self._open_stream(record)
            self._conn.commit()

        await self._run(write)

    async def save_utterance(
        self,
        stream_id: str,
        start_ms: int,
        end_ms: int,
        text: str,
        unredacted: str | None,
        message: dict[str, Any],
        targets: tuple[str, ...] = (),
        and_then: Callable[[sqlite3.Connection, str], None] | None = None,
    ) -> str:
        """Commit the utterance, and a `queued` delivery record for each webhook target in the same transaction;
        `and_then(connection, utterance_id)` writes more in that transaction (a spooled utterance marked done)."""
        return await self._run(
            lambda: self._save(stream_id, start_ms, end_ms, text, unredacted, message, targets, and_then)
        )

    async def transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` on the store's connection, in its thread, and commit."""

        def run() -> T:
            result = work(self._conn)
            self._conn.commit()
            return result

        return await self._run(run)

    async def messages(self, namespace: str | None, external_id: str, limit: int) -> list[StoredUtterance]:
        return await self._run(lambda: self._messages(namespace, external_id, limit))

    async def record_delivery(self, utterance_id: str, target: str, outcome: str, attempts: int, detail: str) -> None:
        await self.record_deliveries([DeliveryRecord(utterance_id, target, outcome, attempts, detail)])

    async def record_deliveries(self, records: list[DeliveryRecord]) -> None:
        """Each message's record with its target, created or brought up to date, in one transaction."""

        def write() -> None:
            now = time.time()
            rows = [(r.utterance_id, r.target, r.outcome, r.attempts, r.detail[:500], now) for r in records]
            self._conn.executemany(UPSERT_DELIVERY, rows)
            self._conn.commit()

        await self._run(write)

    async def deliveries(self) -> list[DeliveryRecord]:
        def read() -> list[DeliveryRecord]:
            query = "SELECT utterance_id, target, outcome, attempts, detail FROM deliveries ORDER BY id"
            return [DeliveryRecord(*row) for row in self._conn.execute(query)]

        return await self._run(read)

    async def purge(self, older_than_s: float) -> int:
        def delete() -> int:
            cutoff = time.time() - older_than_s
            cursor = self._conn.execute("DELETE FROM conversations WHERE updated_at < ?", (cutoff,))
            self._conn.execute("DELETE FROM deliveries WHERE at < ?", (cutoff,))
            self._conn.commit()
            return cursor.rowcount

        return await self._run(delete)

    async def vocabularies(self) -> list[tuple[str, str, list[str]]]:
        """Every custom vocabulary entry, oldest first: (id, phrase, soundsLike)."""

        def read() -> list[tuple[str, str, list[str]]]:
            query = "SELECT id, phrase, sounds_like FROM custom_vocabularies ORDER BY seq"
            return [(i, p, json.loads(s)) for i, p, s in self._conn.execute(query)]

        return await self._run(read)

    async def add_vocabulary(self, entry_id: str, phrase: str, sounds_like: list[str]) -> None:
        def write() -> None:
            self._conn.execute(
                "INSERT INTO custom_vocabularies (id, phrase, sounds_like, created_at) VALUES (?,?,?,?)",
                (entry_id, phrase, json.dumps(sounds_like), time.time()),
            )
            self._conn.commit()

        await self._run(write)

    async def delete_vocabulary(self, entry_id: str) -> bool:
        def delete() -> bool:
            cursor = self._conn.execute("DELETE FROM custom_vocabularies WHERE id = ?", (entry_id,))
            self._conn.commit()
            return cursor.rowcount > 0

        return await self._run(delete)

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
        settle = "UPDATE deliveries SET outcome = ?, detail = ?, at = ? WHERE outcome = ?"
        db.execute(settle, ("unknown", LEFT_IN_FLIGHT, time.time(), "in_flight"))
        db.execute(settle, ("not_sent", LEFT_QUEUED, time.time(), "queued"))
        db.commit()
        self._db = db

    def _open_stream(self, record: StreamRecord) -> None:
        now = time.time()
        db = self._conn
        db.execute(
            "INSERT INTO conversations (id, external_id, namespace, created_at, updated_at) VALUES (?,?,?,?,?)"
            " ON CONFLICT (namespace, external_id) DO UPDATE SET updated_at = excluded.updated_at",
            (str(ULID()), record.conversation_external_id, record.namespace, now, now),
        )
        conversation_id = db.execute(
            "SELECT id FROM conversations WHERE namespace = ? AND external_id = ?",
            (record.namespace, record.conversation_external_id),
        ).fetchone()[0]
        leg = db.execute(
            "SELECT id FROM legs WHERE conversation_id = ? AND agent_id IS ? ORDER BY started_at DESC LIMIT 1",
            (conversation_id, record.agent_id),
        ).fetchone()
        leg_id = leg[0] if leg else str(ULID())
        if not leg:
            db.execute(
                "INSERT INTO legs (id, conversation_id, agent_id, customer_id, started_at) VALUES (?,?,?,?,?)",
                (leg_id, conversation_id, record.agent_id, record.customer_id, now),
            )
        db.execute(
            "INSERT OR IGNORE INTO streams (id, leg_id, role, participant_id, created_at) VALUES (?,?,?,?,?)",
            (record.stream_id, leg_id, record.role, record.participant_id, now),
        )
        self._streams[record.stream_id] = (conversation_id, record.role, record.participant_id)

    def _save(
        self,
        stream_id: str,
        start_ms: int,
        end_ms: int,
        text: str,
        unredacted: str | None,
        message: dict[str, Any],
        targets: tuple[str, ...],
        and_then: Callable[[sqlite3.Connection, str], None] | None = None,
    ) -> str:
        known = self._streams.get(stream_id)
        if known is None:
            row = self._conn.execute(
                "SELECT l.conversation_id FROM streams s JOIN legs l ON l.id = s.leg_id WHERE s.id = ?", (stream_id,)
            ).fetchone()
            if row is None:
                raise KeyError(f"stream {stream_id} was never opened in the store")
            known = self._streams[stream_id] = (row[0], "", "")
        conversation_id = known[0]
        utterance_id = str(ULID())
        now = time.time()
        self._conn.execute(
            "INSERT INTO utterances (id, conversation_id, stream_id, start_ms, end_ms, text, unredacted_text, message,"
            " created_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                utterance_id,
                conversation_id,
                stream_id,
                start_ms,
                end_ms,
                text,
                unredacted,
                json.dumps(message, separators=(",", ":")),
                now,
            ),
        )
        self._conn.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id))
        self._conn.executemany(UPSERT_DELIVERY, [(utterance_id, t, "queued", 0, "", now) for t in targets])
        if and_then is not None:
            and_then(self._conn, utterance_id)
        self._conn.commit()
        return utterance_id

    def _messages(self, namespace: str | None, external_id: str, limit: int) -> list[StoredUtterance]:
        query = (
            "SELECT u.id, c.external_id, u.stream_id, s.role, s.participant_id, u.start_ms, u.end_ms, u.text,"
            " u.unredacted_text, u.message, u.created_at FROM utterances u"
            " JOIN conversations c ON c.id = u.conversation_id JOIN streams s ON s.id = u.stream_id"
            " WHERE c.external_id = ?" + (" AND c.namespace = ?" if namespace else "") + " ORDER BY u.seq LIMIT ?"
        )
        params: tuple[Any, ...] = (external_id, namespace, limit) if namespace else (external_id, limit)
        return [_utterance(row) for row in self._conn.execute(query, params)]


def _utterance(row: tuple[Any, ...]) -> StoredUtterance:
    uid, external_id, stream_id, role, participant, start_ms, end_ms, text, unredacted, message, created = row
    return StoredUtterance(
        uid, external_id, stream_id, role, participant, start_ms, end_ms, text, unredacted, json.loads(message), created
    )

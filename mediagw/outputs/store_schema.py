"""What the transcript store holds, whatever the backend: the schema and its migrations, and the records read
and written through the store interface (mediagw/outputs/store.py).

One list of migrations serves both backends; `postgres_ddl` reads it in PostgreSQL's dialect. The version is kept in
the database (SQLite's user_version, PostgreSQL's schema_version table).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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
    # settings changed at run time (the active redaction entities), kept where every node reads them
    """
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    """,
    # the node whose webhook queue holds each delivery: a node's start-up settles its own only (issue 19)
    "ALTER TABLE deliveries ADD COLUMN node TEXT NOT NULL DEFAULT ''",
]
ENTITY_SETTINGS = "redaction.entities"
UPSERT_DELIVERY = (
    "INSERT INTO deliveries (utterance_id, target, outcome, attempts, detail, at, node) VALUES (?,?,?,?,?,?,?)"
    " ON CONFLICT (utterance_id, target) DO UPDATE SET outcome = excluded.outcome, attempts = excluded.attempts,"
    " detail = excluded.detail, at = excluded.at, node = excluded.node"
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


@dataclass(frozen=True)
class ExportRow:
    """One row of the utterances feed (mediagw/outputs/export.py), in stored order (`seq`)."""

    seq: int
    created_at: float
    conversation_external_id: str
    namespace: str
    leg_id: str
    stream_id: str
    role: str
    participant_id: str
    utterance_id: str
    start_ms: int
    end_ms: int
    text: str
    conversation_id: str


@dataclass(frozen=True)
class Untranscribed:
    """An utterance the shutdown deadline left undecoded (mediagw/outputs/spool.py); `settings` is its JSON."""

    id: str
    stream_id: str
    start_ms: int
    end_ms: int
    audio_start_ms: int
    audio_file: str | None
    settings: str
    state: str


@dataclass(frozen=True)
class PendingUntranscribed:
    """A spooled utterance still to transcribe, with the stream it belongs to."""

    id: str
    stream_id: str
    start_ms: int
    end_ms: int
    audio_start_ms: int
    audio_file: str
    settings: str
    attempts: int
    namespace: str
    conversation_external_id: str
    role: str
    participant_id: str


def postgres_ddl(script: str) -> str:
    """A migration in PostgreSQL's dialect: 64-bit identities and double precision times (PostgreSQL's REAL is
    single precision, too coarse for epoch seconds)."""
    script = script.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY")
    return re.sub(r"\bREAL\b", "DOUBLE PRECISION", script)


def numbered(query: str) -> str:
    """SQLite's `?` placeholders as PostgreSQL's `$1, $2...` (no query here has a `?` inside a literal)."""
    count = 0

    def number(_: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"${count}"

    return re.sub(r"\?", number, query)

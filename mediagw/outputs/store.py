"""The transcript store interface: every reader and writer of stored state goes through it.

Every utterance is committed here before any delivery is attempted. Unredacted text is kept only for streams
that asked for redacted_and_unredacted (or unredacted) output. Backends: SQLite in data_dir (the default,
mediagw/outputs/store_sqlite.py) or PostgreSQL when `store.url` names one (mediagw/outputs/store_postgres.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mediagw.backends.redis_link import node_name
from mediagw.outputs.store_schema import (
    DeliveryRecord,
    ExportRow,
    PendingUntranscribed,
    StoredUtterance,
    StreamRecord,
    Untranscribed,
)
from mediagw.outputs.store_sqlite import SqliteStore

if TYPE_CHECKING:
    from mediagw.config import Config

__all__ = [
    "DeliveryRecord",
    "ExportRow",
    "PendingUntranscribed",
    "SqliteStore",
    "StoreUnavailable",
    "StoredUtterance",
    "StreamRecord",
    "TranscriptStore",
    "Untranscribed",
    "create_store",
    "sqlite_path",
]


class StoreUnavailable(RuntimeError):
    """The store cannot be reached; the message names where it is, never a password."""


class TranscriptStore(Protocol):
    @property
    def description(self) -> str: ...  # for logs and errors: the backend and where it is, no secret

    async def open(self, read_only: bool = False) -> None: ...

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
        spooled_id: str | None = None,
    ) -> str: ...

    async def messages(self, namespace: str | None, external_id: str, limit: int) -> list[StoredUtterance]: ...

    async def record_delivery(
        self, utterance_id: str, target: str, outcome: str, attempts: int, detail: str
    ) -> None: ...

    async def record_deliveries(self, records: list[DeliveryRecord]) -> None: ...

    async def deliveries(self) -> list[DeliveryRecord]: ...

    async def purge(self, older_than_s: float) -> int: ...

    async def vocabularies(self) -> list[tuple[str, str, list[str]]]: ...

    async def add_vocabulary(self, entry_id: str, phrase: str, sounds_like: list[str]) -> None: ...

    async def delete_vocabulary(self, entry_id: str) -> bool: ...

    async def setting(self, key: str) -> str | None: ...

    async def put_setting(self, key: str, value: str) -> None: ...

    async def export_rows(self, start: float, end: float, after_seq: int, limit: int) -> list[ExportRow]: ...

    async def add_untranscribed(self, item: Untranscribed) -> None: ...

    async def pending_untranscribed(self, state: str, limit: int) -> list[PendingUntranscribed]: ...

    async def settle_untranscribed(self, item_id: str, state: str | None) -> None: ...

    async def untranscribed_audio(self, state: str) -> set[str]: ...

    async def healthy(self) -> bool: ...

    async def close(self) -> None: ...


def sqlite_path(config: Config) -> Path:
    return Path(config.store.path or Path(config.data_dir) / "mediagw.sqlite3")


def create_store(config: Config, on_dropped: Callable[[], None] | None = None) -> TranscriptStore:
    """The configured backend, not yet opened: PostgreSQL when store.url names one, else SQLite in data_dir.
    `on_dropped`: an utterance PostgreSQL's buffer had no room for (counted by the caller)."""
    settings = config.store
    node = node_name(config) if config.cluster.redis_url else ""  # one process: every delivery is its own
    if settings.url:
        try:
            from mediagw.outputs.store_postgres import PostgresStore
        except ImportError as error:
            raise StoreUnavailable("store.url names PostgreSQL: pip install 'mediagw[postgres]'") from error

        return PostgresStore(settings.url, settings.buffer_size, settings.batch_wait_ms / 1000, on_dropped, node)
    return SqliteStore(sqlite_path(config), settings.synchronous, node)

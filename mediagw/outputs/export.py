"""Batch export: the utterances feed for a time range as JSON Lines or CSV, by command or on a daily schedule."""

from __future__ import annotations

import asyncio
import csv
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mediagw.outputs.files import private_fd
from mediagw.outputs.store import ExportRow, TranscriptStore
from mediagw.shared.leases import Leases

log = logging.getLogger(__name__)

COLUMNS = (
    "instance_ts",
    "conversation_id",
    "namespace",
    "leg_id",
    "stream_id",
    "sender_role",
    "sender_id",
    "utterance_id",
    "utterance_ordinal",
    "start_ms",
    "end_ms",
    "utterance_text",
)
PAGE = 1000  # rows read at a time, so memory stays bounded whatever the range
EXPORT_RETRY_S = 60.0  # the day's lease held elsewhere (or Redis lost): look again this much later
EXPORT_DONE_TTL_S = 2 * 86400.0  # a day's export is remembered done this long


async def pages(store: TranscriptStore, start: datetime, end: datetime) -> AsyncIterator[list[dict[str, Any]]]:
    """Feed rows in stored order, a page at a time through the store so memory stays bounded; the text is what
    outputs saw."""
    ordinals: dict[str, int] = {}
    after = 0
    while True:
        page = await store.export_rows(start.timestamp(), end.timestamp(), after, PAGE)
        rows = []
        for row in page:
            ordinals[row.conversation_id] = ordinals.get(row.conversation_id, 0) + 1
            rows.append(_feed_row(row, ordinals[row.conversation_id]))
        yield rows
        if len(page) < PAGE:
            return
        after = page[-1].seq


def _feed_row(row: ExportRow, ordinal: int) -> dict[str, Any]:
    created = datetime.fromtimestamp(row.created_at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    values = (
        created,
        row.conversation_external_id,
        row.namespace,
        row.leg_id,
        row.stream_id,
        row.role,
        row.participant_id,
        row.utterance_id,
        ordinal,
        row.start_ms,
        row.end_ms,
        row.text,
    )
    return dict(zip(COLUMNS, values, strict=True))


async def export(store: TranscriptStore, start: datetime, end: datetime, out: Path, fmt: str) -> int:
    """Write the feed to `out` (written to a temporary name, then renamed); returns the number of rows."""
    partial = out.with_name(out.name + ".part")
    feed = await asyncio.to_thread(_Feed, partial, fmt)
    try:
        async for page in pages(store, start, end):
            await asyncio.to_thread(feed.write, page)
    finally:
        await asyncio.to_thread(feed.handle.close)
    partial.replace(out)
    return feed.count


class _Feed:
    """The file being written, off the loop: JSON Lines, or CSV with its header."""

    def __init__(self, partial: Path, fmt: str) -> None:
        partial.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.handle = open(private_fd(partial), "w", newline="")  # noqa: SIM115 (closed by export)
        self.csv = csv.DictWriter(self.handle, COLUMNS) if fmt == "csv" else None
        if self.csv is not None:
            self.csv.writeheader()
        self.count = 0

    def write(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            if self.csv is not None:
                self.csv.writerow(row)
            else:
                self.handle.write(json.dumps(row) + "\n")
        self.count += len(rows)


def parse_instant(text: str) -> datetime:
    """'2026-11-24' (midnight UTC), '2026-11-24T13' or any ISO date-time; naive times are UTC."""
    moment = datetime.fromisoformat(text if len(text) != 13 else text + ":00")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def export_daily(
    store: TranscriptStore, leases: Leases, directory: Path, hour_utc: int, formats: tuple[str, ...]
) -> None:
    """Each day at `hour_utc`, the previous UTC day's feed, as the reference's File Exporter updates at 02:00. In a
    cluster one node writes it: the others find its lease held, then the day done (they try again meanwhile, so
    a node that dies holding the lease, or Redis lost at that hour, delays the export, never skips it)."""
    while True:
        now = datetime.now(UTC)
        run_at = now.replace(hour=hour_utc, minute=0, second=0, microsecond=0)
        if run_at <= now:
            run_at += timedelta(days=1)
        await asyncio.sleep((run_at - now).total_seconds())
        day_end = run_at.replace(hour=0)
        name = f"export:{day_end - timedelta(days=1):%Y-%m-%d}"
        while not await _export_day(store, leases, name, directory, day_end, formats):  # noqa: ASYNC110 (polls Redis)
            await asyncio.sleep(EXPORT_RETRY_S)


async def _export_day(
    store: TranscriptStore, leases: Leases, name: str, directory: Path, day_end: datetime, formats: tuple[str, ...]
) -> bool:
    """Whether the day's feed is written, by this node now or by another before."""
    async with leases.hold(name) as held:
        if not held or await leases.done(name):
            return held
        day_start = day_end - timedelta(days=1)
        for fmt in formats:
            out = directory / f"utterances-{day_start:%Y-%m-%d}.{fmt}"
            try:
                count = await export(store, day_start, day_end, out, fmt)
                log.info("daily export wrote %d utterances to %s", count, out)
            except Exception:
                log.exception("daily export to %s failed", out)
        await leases.mark_done(name, EXPORT_DONE_TTL_S)
        return True

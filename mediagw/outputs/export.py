"""Batch export: the utterances feed for a time range as JSON Lines or CSV, by command or on a daily schedule."""

from __future__ import annotations

import asyncio
import csv
import json
import logging
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mediagw.outputs.files import private_fd

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
_QUERY = """
    SELECT u.created_at, c.external_id, c.namespace, s.leg_id, u.stream_id, s.role, s.participant_id, u.id,
           u.start_ms, u.end_ms, u.text, u.conversation_id
    FROM utterances u JOIN conversations c ON c.id = u.conversation_id JOIN streams s ON s.id = u.stream_id
    WHERE u.created_at >= ? AND u.created_at < ? ORDER BY u.seq
"""


def rows(database: Path, start: datetime, end: datetime) -> Iterator[dict[str, Any]]:
    """Feed rows in stored order, read with a cursor so memory stays bounded; the text is what outputs saw."""
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        ordinals: dict[str, int] = {}
        for row in db.execute(_QUERY, (start.timestamp(), end.timestamp())):
            created, external, namespace, leg, stream, role, sender, uid, start_ms, end_ms, text, conversation = row
            ordinals[conversation] = ordinals.get(conversation, 0) + 1
            yield dict(
                zip(
                    COLUMNS,
                    (
                        datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                        external,
                        namespace,
                        leg,
                        stream,
                        role,
                        sender,
                        uid,
                        ordinals[conversation],
                        start_ms,
                        end_ms,
                        text,
                    ),
                    strict=True,
                )
            )
    finally:
        db.close()


def export(database: Path, start: datetime, end: datetime, out: Path, fmt: str) -> int:
    """Write the feed to `out` (written to a temporary name, then renamed); returns the number of rows."""
    partial = out.with_name(out.name + ".part")
    out.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    count = 0
    with open(private_fd(partial), "w", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS) if fmt == "csv" else None
        if writer is not None:
            writer.writeheader()
        for row in rows(database, start, end):
            if writer is not None:
                writer.writerow(row)
            else:
                handle.write(json.dumps(row) + "\n")
            count += 1
    partial.replace(out)
    return count


def parse_instant(text: str) -> datetime:
    """'2026-11-24' (midnight UTC), '2026-11-24T13' or any ISO date-time; naive times are UTC."""
    moment = datetime.fromisoformat(text if len(text) != 13 else text + ":00")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def export_daily(database: Path, directory: Path, hour_utc: int, formats: tuple[str, ...]) -> None:
    """Each day at `hour_utc`, the previous UTC day's feed, as the reference's File Exporter updates at 02:00."""
    while True:
        now = datetime.now(UTC)
        run_at = now.replace(hour=hour_utc, minute=0, second=0, microsecond=0)
        if run_at <= now:
            run_at += timedelta(days=1)
        await asyncio.sleep((run_at - now).total_seconds())
        day_end = run_at.replace(hour=0)
        day_start = day_end - timedelta(days=1)
        for fmt in formats:
            out = directory / f"utterances-{day_start:%Y-%m-%d}.{fmt}"
            try:
                count = await asyncio.to_thread(export, database, day_start, day_end, out, fmt)
                log.info("daily export wrote %d utterances to %s", count, out)
            except Exception:
                log.exception("daily export to %s failed", out)

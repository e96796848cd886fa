"""The utterances feed: rows of a time range, in order, as JSON Lines and CSV, from the CLI."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mediagw.outputs.export import COLUMNS, parse_instant
from mediagw.outputs.store import SqliteStore, StreamRecord


async def fill(data: Path) -> None:
    store = SqliteStore(data / "mediagw.sqlite3")
    await store.open()
    await store.open_stream(StreamRecord("s1", "websocket", "call-1", "customer", "cust-1"))
    await store.open_stream(StreamRecord("s2", "websocket", "call-1", "agent", "agent-1"))
    await store.open_stream(StreamRecord("s3", "websocket", "call-2", "customer", "cust-2"))
    for stream, text in [("s2", "How can I help?"), ("s1", "My card is #### 1111."), ("s3", "Hello.")]:
        await store.save_utterance(stream, 0, 900, text, None, {"message": "transcript"})
    await store.close()


def test_export_writes_the_feed_for_a_range(tmp_path: Path) -> None:
    import asyncio

    data = tmp_path / "data"
    asyncio.run(fill(data))
    today = datetime.now(UTC).date()
    env = {**os.environ, "MEDIAGW_DATA_DIR": str(data)}
    for fmt in ("jsonl", "csv"):
        out = tmp_path / f"feed.{fmt}"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "mediagw.cli",
                "export",
                "--from",
                f"{today}",
                "--to",
                f"{today + timedelta(days=1)}",
                "--format",
                fmt,
                "--out",
                str(out),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert "exported 3 utterances" in done.stderr
        rows = (
            [json.loads(line) for line in out.read_text().splitlines()]
            if fmt == "jsonl"
            else list(csv.DictReader(out.open()))
        )
        assert [r["utterance_text"] for r in rows] == ["How can I help?", "My card is #### 1111.", "Hello."]
        assert list(rows[0]) == list(COLUMNS)
        assert [str(r["utterance_ordinal"]) for r in rows] == ["1", "2", "1"]
        assert [r["sender_role"] for r in rows] == ["agent", "customer", "customer"]
    empty = tmp_path / "empty.jsonl"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "mediagw.cli",
            "export",
            "--from",
            "2020-01-01",
            "--to",
            "2020-01-02",
            "--out",
            str(empty),
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    assert empty.read_text() == ""


def test_instants_parse_as_utc() -> None:
    assert parse_instant("2026-11-24") == datetime(2026, 11, 24, tzinfo=UTC)
    assert parse_instant("2026-11-24T13") == datetime(2026, 11, 24, 13, tzinfo=UTC)

"""The transcript store, SQLite vs PostgreSQL side by side in one run (JSON).

    python -m bench.store [--postgres-url postgresql://user:pw@host:port/db]

Without a URL a PostgreSQL cluster of its own is started (tests/postgres.py: initdb + pg_ctl in a temporary
directory, fsync off, so the figure is PostgreSQL's work, not this disk's). Measured through the store interface
(mediagw/outputs/store.py), as the gateway uses it:
- commits: utterances committed per second, `streams` streams saving at once, each waiting for its commit
  before its next (as each stream's deliverer does), and one stream alone;
- messages: the read behind GET messages for a conversation of 1,000 utterances, p50 and p99 of 200 reads.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import percentiles
from mediagw.outputs.store import SqliteStore, StreamRecord, TranscriptStore
from mediagw.outputs.store_postgres import PostgresStore

MESSAGE = {"message": "transcript", "utterance": [{"text": "I would like to pay my bill please", "start": 0}]}


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


async def commits(store: TranscriptStore, prefix: str, streams: int, each: int) -> float:
    await store.open_stream(
        *(
            StreamRecord(f"{prefix}-{n}", "websocket", f"{prefix}-call-{n // 2}", "customer", "c")
            for n in range(streams)
        )
    )

    async def talk(n: int) -> None:
        for i in range(each):
            await store.save_utterance(f"{prefix}-{n}", i * 1000, i * 1000 + 900, "text", None, MESSAGE, ("crm",))

    started = time.perf_counter()
    await asyncio.gather(*(talk(n) for n in range(streams)))
    return streams * each / (time.perf_counter() - started)


async def reads(store: TranscriptStore, reps: int) -> dict[str, Any]:
    await store.open_stream(StreamRecord("big", "websocket", "big-call", "agent", "a"))
    await asyncio.gather(*(store.save_utterance("big", i, i + 1, f"u{i}", None, MESSAGE) for i in range(1000)))
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        assert len(await store.messages(None, "big-call", 1000)) == 1000
        times.append(time.perf_counter() - started)
    return percentiles(times)


async def measure(store: TranscriptStore, streams: int, each: int) -> dict[str, Any]:
    await store.open()
    try:
        return {
            f"commits_per_s_{streams}_streams": round(await commits(store, "many", streams, each), 1),
            "commits_per_s_1_stream": round(await commits(store, "one", 1, each), 1),
            "messages_1000_ms": await reads(store, 200),
        }
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres-url", default="")
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--each", type=int, default=40)
    args = parser.parse_args()
    cluster = None
    url = args.postgres_url
    if not url:
        from tests.postgres import PostgresCluster, server_binaries

        binaries = server_binaries()
        if binaries is None:
            raise SystemExit("no PostgreSQL server binaries: pass --postgres-url")
        cluster = PostgresCluster(binaries).init()
        cluster.start()
        url = cluster.create_database()
    try:
        with tempfile.TemporaryDirectory() as directory:
            sqlite = asyncio.run(measure(SqliteStore(Path(directory) / "bench.sqlite3"), args.streams, args.each))
        postgres = asyncio.run(measure(PostgresStore(url, 10000, 0.0), args.streams, args.each))
    finally:
        if cluster is not None:
            cluster.stop("immediate")
            cluster.remove()
    key = f"commits_per_s_{args.streams}_streams"
    print(
        json.dumps(
            {
                "benchmark": "store",
                "cpu": cpu_name(),
                "sqlite": sqlite,
                "postgres": postgres,
                "postgres_vs_sqlite": {
                    key: round(postgres[key] / sqlite[key], 2),
                    "commits_per_s_1_stream": round(
                        postgres["commits_per_s_1_stream"] / sqlite["commits_per_s_1_stream"], 2
                    ),
                    "messages_1000_p99": round(
                        postgres["messages_1000_ms"]["p99"] / sqlite["messages_1000_ms"]["p99"], 2
                    ),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

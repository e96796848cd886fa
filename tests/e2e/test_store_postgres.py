"""PostgreSQL as the store (`store.url`): migrations under an advisory lock, clear start-up errors, an outage
ridden out with a bounded buffer, and the gateway storing into it end to end."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from mediagw.outputs.store import StreamRecord
from mediagw.outputs.store_postgres import PostgresStore
from mediagw.outputs.store_schema import MIGRATIONS
from mediagw.outputs.store_writer import StoreFull
from mediagw.simulators.direct_ws import stream_audio, streaming_url
from tests.conftest import channel_of, clip
from tests.gateway import API_ID, API_SECRET, GatewayThread, free_port
from tests.postgres import PASSWORD, PostgresCluster
from tests.waits import eventually

pytestmark = pytest.mark.e2e
HEADERS = {"asapp-api-id": API_ID, "asapp-api-secret": API_SECRET}
OPEN = "import asyncio, sys; from mediagw.outputs.store_postgres import PostgresStore as S\n" + (
    "async def main():\n    s = S(sys.argv[1], 10, 0.01)\n    await s.open()\n    await s.close()\nasyncio.run(main())"
)


async def test_migrations_run_once_when_two_processes_start_at_once(postgres_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    starts = [await asyncio.create_subprocess_exec(sys.executable, "-c", OPEN, postgres_url, env=env) for _ in "12"]
    assert await asyncio.wait_for(asyncio.gather(*(process.wait() for process in starts)), 60) == [0, 0]
    db = await asyncpg.connect(postgres_url)
    try:
        assert await db.fetch("SELECT version FROM schema_version") == [(len(MIGRATIONS),)]
        tables = {row[0] for row in await db.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert {"conversations", "utterances", "deliveries", "untranscribed", "settings"} <= tables
    finally:
        await db.close()


def test_unreachable_at_start_up_names_the_host_never_the_password(
    tmp_path: Path, postgres_cluster: PostgresCluster
) -> None:
    closed = free_port()
    wrong = postgres_cluster.url(password="not-the-pw-42")
    for url, host in [
        (f"postgresql://mediagw:{PASSWORD}@127.0.0.1:{closed}/db", f"127.0.0.1:{closed}/db"),
        (wrong, f"127.0.0.1:{postgres_cluster.port}/postgres"),
    ]:
        env = {
            **os.environ,
            "MEDIAGW_DATA_DIR": str(tmp_path),
            "MEDIAGW_STORE__URL": url,
            "MEDIAGW_ASR__ENABLED": "false",
            "MEDIAGW_SIPREC__PORT": "0",
        }
        command = [sys.executable, "-m", "mediagw.cli", "serve", "--port", str(free_port())]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, done.stderr
        assert f"PostgreSQL at {host}" in done.stderr
        assert PASSWORD not in done.stderr and "not-the-pw-42" not in done.stderr


async def test_an_outage_is_ridden_out_with_a_bounded_buffer(postgres_cluster: PostgresCluster) -> None:
    url = postgres_cluster.create_database()
    dropped: list[int] = []
    store = PostgresStore(url, buffer_size=3, batch_wait_s=0.01, on_dropped=lambda: dropped.append(1))
    await store.open()
    await store.open_stream(StreamRecord("s1", "websocket", "call-1", "customer", "c"))
    await store.save_utterance("s1", 0, 900, "before", None, {})
    try:
        postgres_cluster.stop("immediate")
        first = asyncio.create_task(store.save_utterance("s1", 1000, 1900, "during 1", None, {}))
        assert await eventually(lambda: _unhealthy(store), what="health FAILED")
        await store.open_stream(StreamRecord("s2", "websocket", "call-1", "agent", "a"))  # held, not waited on
        held = [first, *(asyncio.create_task(store.save_utterance("s2", n, n + 1, "during", None, {})) for n in (2, 3))]
        await eventually(lambda: _buffered(store, 3), what="utterances held")
        with pytest.raises(StoreFull):
            await store.save_utterance("s1", 5000, 5900, "one too many", None, {})
        assert dropped == [1] and not any(task.done() for task in held)
    finally:
        postgres_cluster.start()
    await asyncio.wait_for(asyncio.gather(*held), 30)
    assert await eventually(store.healthy, what="health back")
    texts = [m.text for m in await store.messages(None, "call-1", 10)]
    await store.close()
    assert texts == ["before", "during 1", "during", "during"]


async def _unhealthy(store: PostgresStore) -> bool:
    return not await store.healthy()


async def _buffered(store: PostgresStore, count: int) -> bool:
    return store.buffered >= count


async def test_the_gateway_stores_into_postgresql_and_reads_back(
    gateway_factory: Any, postgres_url: str, call_audio: Any, tmp_path: Path
) -> None:
    gateway: GatewayThread = gateway_factory(store={"url": postgres_url})
    samples, script = channel_of(call_audio["billing"], "agent")
    async with aiohttp.ClientSession() as session:
        url = await streaming_url(session, gateway.base_url, API_ID, API_SECRET, "pg-call")
        result = await stream_audio(session, url, clip(samples, 0, script[1]["end"] + 800), realtime=False)
        async with session.get(
            f"{gateway.base_url}/conversation/v1/conversation/messages",
            params={"externalId": "pg-call"},
            headers=HEADERS,
        ) as response:
            messages = (await response.json())["messages"]
    assert len(result.transcripts) >= 2
    assert [m["autotranscribeResponse"] for m in messages] == result.transcripts
    assert not (Path(gateway.config.data_dir) / "mediagw.sqlite3").exists()  # nothing went to SQLite
    today = datetime.now(UTC).date()
    out = tmp_path / "feed.jsonl"
    env = {**os.environ, "MEDIAGW_STORE__URL": postgres_url, "MEDIAGW_DATA_DIR": str(tmp_path / "elsewhere")}
    command = [sys.executable, "-m", "mediagw.cli", "export", "--from", f"{today}", "--to"]
    command += [f"{today + timedelta(days=1)}", "--out", str(out)]
    export = await asyncio.create_subprocess_exec(*command, env=env, stderr=asyncio.subprocess.PIPE)
    _, stderr = await asyncio.wait_for(export.communicate(), 60)
    assert export.returncode == 0, stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["utterance_id"] for r in rows] == [m["id"] for m in messages]


async def test_health_fails_while_postgresql_is_away_and_recovers(
    gateway_factory: Any, postgres_cluster: PostgresCluster
) -> None:
    gateway: GatewayThread = gateway_factory(store={"url": postgres_cluster.create_database()})
    async with aiohttp.ClientSession() as session:
        assert await _health(session, gateway) == (200, "SUCCESS")
        postgres_cluster.stop("immediate")
        try:
            assert await eventually(lambda: _health(session, gateway), lambda h: h[0] == 503) == (503, "FAILED")
        finally:
            postgres_cluster.start()
        assert await eventually(lambda: _health(session, gateway), lambda h: h[0] == 200) == (200, "SUCCESS")


async def _health(session: aiohttp.ClientSession, gateway: GatewayThread) -> tuple[int, str]:
    async with session.get(f"{gateway.base_url}/v1/health") as response:
        return response.status, (await response.json())["healthCheck"]

"""The store interface, the same tests against both backends: SQLite in data_dir and PostgreSQL (a cluster of the
tests' own, tests/postgres.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mediagw.outputs import export as feed
from mediagw.outputs.export import COLUMNS, export
from mediagw.outputs.store import DeliveryRecord, SqliteStore, StreamRecord, TranscriptStore, Untranscribed
from mediagw.outputs.store_postgres import PostgresStore
from mediagw.outputs.store_schema import LEFT_QUEUED

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["sqlite", "postgres"])
async def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[object]:
    """Opens the test's store, as often as the test asks (the same database each time); all closed at the end."""
    backend = request.param
    url = request.getfixturevalue("postgres_url") if backend == "postgres" else ""
    opened: list[TranscriptStore] = []

    async def open_store(read_only: bool = False, node: str = "") -> TranscriptStore:
        store: TranscriptStore = (
            SqliteStore(tmp_path / "store.sqlite3", node=node) if not url else PostgresStore(url, 100, 0.0, node=node)
        )
        await store.open(read_only)
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        await store.close()


async def _call(store: TranscriptStore) -> None:
    await store.open_stream(
        StreamRecord("s-agent", "websocket", "call-1", "agent", "a-1", agent_id="a-1"),
        StreamRecord("s-cust", "websocket", "call-1", "customer", "c-1", agent_id="a-1"),
    )


async def test_utterances_come_back_in_order_with_their_message(reopen: object) -> None:
    store = await reopen()  # type: ignore[operator]
    await _call(store)
    ids = [
        await store.save_utterance(stream, i * 1000, i * 1000 + 900, f"text {i}", None, {"n": i})
        for i, stream in enumerate(["s-agent", "s-cust", "s-agent"])
    ]
    stored = await store.messages("websocket", "call-1", 10)
    assert [m.id for m in stored] == ids
    assert [(m.role, m.participant_id, m.text, m.message) for m in stored][:2] == [
        ("agent", "a-1", "text 0", {"n": 0}),
        ("customer", "c-1", "text 1", {"n": 1}),
    ]
    assert [m.id for m in await store.messages(None, "call-1", 2)] == ids[:2]
    assert await store.messages("twilio", "call-1", 10) == []
    with pytest.raises(KeyError):
        await store.save_utterance("never-opened", 0, 1, "x", None, {})


async def test_deliveries_are_recorded_and_settled_at_the_next_start(reopen: object) -> None:
    store = await reopen()  # type: ignore[operator]
    await _call(store)
    first = await store.save_utterance("s-agent", 0, 900, "hello", None, {}, targets=("crm", "bi"))
    await store.record_deliveries([DeliveryRecord(first, "crm", "delivered", 1, "200")])
    assert {(d.target, d.outcome) for d in await store.deliveries()} == {("crm", "delivered"), ("bi", "queued")}
    await store.close()
    again = await reopen()  # type: ignore[operator]
    settled = {d.target: d for d in await again.deliveries()}
    assert settled["crm"].outcome == "delivered"
    assert (settled["bi"].outcome, settled["bi"].detail) == ("not_sent", LEFT_QUEUED)


async def test_a_node_starting_settles_its_own_deliveries_only(reopen: object) -> None:
    """Nodes of a cluster share the store: node b's start-up must not call node a's queued messages not sent
    while node a is still sending them."""
    node_a = await reopen(node="a")  # type: ignore[operator]
    await _call(node_a)
    of_a = await node_a.save_utterance("s-agent", 0, 900, "hello", None, {}, targets=("crm",))
    node_b = await reopen(node="b")  # type: ignore[operator]
    of_b = await node_b.save_utterance("s-cust", 1000, 1900, "hi", None, {}, targets=("crm",))
    await node_b.record_deliveries([DeliveryRecord(of_b, "crm", "in_flight", 1, "")])
    await node_b.close()
    await reopen(node="b")  # type: ignore[operator]  # node b restarts
    outcomes = {d.utterance_id: d.outcome for d in await node_a.deliveries()}
    assert outcomes == {of_a: "queued", of_b: "unknown"}


async def test_vocabulary_settings_and_health(reopen: object) -> None:
    store = await reopen()  # type: ignore[operator]
    assert await store.healthy()
    await store.add_vocabulary("v1", "Zelle", ["zell"])
    await store.add_vocabulary("v2", "Venmo", ["ven mo", "venmoe"])
    assert await store.vocabularies() == [("v1", "Zelle", ["zell"]), ("v2", "Venmo", ["ven mo", "venmoe"])]
    assert await store.delete_vocabulary("v1") and not await store.delete_vocabulary("v1")
    assert await store.setting("redaction.entities") is None
    await store.put_setting("redaction.entities", '{"active": {"EMAIL": true}}')
    await store.put_setting("redaction.entities", '{"active": {"EMAIL": false}}')
    await store.close()
    again = await reopen()  # type: ignore[operator]
    assert await again.vocabularies() == [("v2", "Venmo", ["ven mo", "venmoe"])]
    assert await again.setting("redaction.entities") == '{"active": {"EMAIL": false}}'


async def test_retention_purges_old_conversations(reopen: object) -> None:
    store = await reopen()  # type: ignore[operator]
    await _call(store)
    await store.save_utterance("s-agent", 0, 100, "hello", None, {"message": "transcript"})
    assert await store.purge(older_than_s=3600) == 0
    assert len(await store.messages(None, "call-1", 10)) == 1
    assert await store.purge(older_than_s=-1) == 1  # everything is older than "one second in the future"
    assert await store.messages(None, "call-1", 10) == []


async def test_export_pages_through_the_feed_in_order(
    reopen: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feed, "PAGE", 3)  # several pages, one of them partly filled
    store = await reopen()  # type: ignore[operator]
    await _call(store)
    for i in range(7):
        await store.save_utterance("s-cust" if i % 2 else "s-agent", i * 1000, i * 1000 + 500, f"u{i}", "x", {})
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    out = tmp_path / "feed.jsonl"
    assert await export(store, today, today + timedelta(days=1), out, "jsonl") == 7
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["utterance_text"] for r in rows] == [f"u{i}" for i in range(7)]
    assert [r["utterance_ordinal"] for r in rows] == list(range(1, 8))
    assert set(rows[0]) == set(COLUMNS) and rows[1]["sender_role"] == "customer"
    assert await export(store, today - timedelta(days=1), today, out, "jsonl") == 0


async def test_the_spool_of_untranscribed_utterances(reopen: object) -> None:
    store = await reopen()  # type: ignore[operator]
    await _call(store)
    for n, state in enumerate(["spooled", "lost", "spooled"]):
        audio = f"u{n}.wav" if state == "spooled" else None
        await store.add_untranscribed(Untranscribed(f"u{n}", "s-cust", n * 1000, n * 1000 + 800, 0, audio, "{}", state))
    pending = await store.pending_untranscribed("spooled", 10)
    assert [(p.id, p.role, p.conversation_external_id) for p in pending] == [
        ("u0", "customer", "call-1"),
        ("u2", "customer", "call-1"),
    ]
    await store.settle_untranscribed("u2", None)  # a failed attempt, still waiting
    assert (await store.pending_untranscribed("spooled", 10))[1].attempts == 1
    await store.save_utterance("s-cust", 0, 800, "late", None, {"late": True}, spooled_id="u0")
    await store.settle_untranscribed("u2", "empty")
    assert await store.pending_untranscribed("spooled", 10) == []
    assert await store.untranscribed_audio("spooled") == set()


async def test_a_reader_beside_a_running_gateway_settles_nothing(reopen: object) -> None:
    store = await reopen()  # type: ignore[operator]
    await _call(store)
    await store.save_utterance("s-agent", 0, 900, "hello", None, {}, targets=("crm",))
    reader = await reopen(read_only=True)  # type: ignore[operator]
    assert [m.text for m in await reader.messages(None, "call-1", 10)] == ["hello"]
    assert [d.outcome for d in await store.deliveries()] == ["queued"]  # still the gateway's to send

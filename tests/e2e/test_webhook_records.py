"""Webhook delivery records are true: every message has exactly one record per target, a message once POSTed is
never recorded as dropped, and what a kill left in flight is recorded at start-up as of unknown outcome."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from aiohttp import web

from bench.common import GatewayProcess
from mediagw.outputs.deliveries import DeliveryJournal
from mediagw.outputs.store import DeliveryRecord, SqliteStore
from mediagw.outputs.store_schema import LEFT_IN_FLIGHT, LEFT_QUEUED
from mediagw.outputs.webhooks import TargetPublisher, WebhookTarget
from mediagw.simulators.direct_ws import stream_audio, streaming_url
from tests.conftest import channel_of
from tests.gateway import API_ID, API_SECRET, free_port
from tests.waits import eventually

pytestmark = pytest.mark.e2e


class GatedReceiver:
    """Notes each POST's message as it arrives, and answers 200 only once released (until then: a hanging target)."""

    def __init__(self) -> None:
        self.arrived: list[dict[str, Any]] = []
        self.release = asyncio.Event()
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> GatedReceiver:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def stop(self) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _hook(self, request: web.Request) -> web.Response:
        self.arrived.append(json.loads(await request.read()))
        await self.release.wait()
        return web.Response(status=200)


async def ignore(*_: Any) -> None:
    return None


@pytest.mark.parametrize("ending", ["released", "stopped"])
async def test_a_hanging_target_gets_one_true_record_per_message(tmp_path: Path, ending: str) -> None:
    receiver = await GatedReceiver().start()
    store = SqliteStore(tmp_path / "store.sqlite3")
    await store.open()
    publisher = TargetPublisher(
        WebhookTarget("hook", receiver.url, timeout_s=30, max_backlog=3),
        ignore,
        lambda _: None,
        DeliveryJournal(store.record_deliveries),
    )
    ids = [f"u-{stream}-{i}" for i in range(10) for stream in ("a", "b")]

    async def publish(uid: str) -> None:  # as the gateway does: queued with the utterance's commit, then published
        await store.record_deliveries([DeliveryRecord(uid, "hook", "queued")])
        publisher.publish(uid, uid.split("-")[1], json.dumps({"id": uid}).encode())

    for uid in ids[:2]:
        await publish(uid)
    await eventually(lambda: len(receiver.arrived), lambda n: n == 2, what="both streams' first POST hanging")
    for uid in ids[2:]:
        await publish(uid)  # 18 more wait behind them: 15 are dropped, never the two in flight
    assert publisher.in_flight == 2 and publisher.dropped == 15 and publisher.backlog == 5
    if ending == "released":
        receiver.release.set()
        await eventually(lambda: publisher.backlog, lambda n: n == 0, what="the backlog delivered")
    await publisher.close()  # "stopped": a graceful stop with two in flight and three never sent
    records = await store.deliveries()
    await store.close()
    await receiver.stop()

    posted = {m["id"] for m in receiver.arrived}
    assert sorted(r.utterance_id for r in records) == sorted(ids), "exactly one record per message"
    outcomes = {r.utterance_id: r.outcome for r in records}
    assert {u for u, o in outcomes.items() if o == "dropped"}.isdisjoint(posted), "a POSTed message recorded dropped"
    assert sum(o == "dropped" for o in outcomes.values()) == 15
    if ending == "released":
        assert {u for u, o in outcomes.items() if o == "delivered"} == posted and len(posted) == 5
    else:
        assert {u for u, o in outcomes.items() if o == "unknown"} == posted == {"u-a-0", "u-b-0"}
        assert sum(o == "not_sent" for o in outcomes.values()) == 3


async def test_messages_in_flight_at_a_kill_are_recorded_as_of_unknown_outcome_after_restart(
    tmp_path: Path, call_audio: Any
) -> None:
    receiver = await GatedReceiver().start()
    data_dir = tmp_path / "data"
    settings = {
        "MEDIAGW_WEBHOOKS__TARGETS": f'[{{name: hook, url: "{receiver.url}", timeout_s: 60}}]',
        "MEDIAGW_WEBSOCKET_API__PUBLISH_WEBHOOKS": "true",
        "MEDIAGW_EXPORT__DAILY": "false",
    }
    gateway = await asyncio.to_thread(GatewayProcess, settings, data_dir)
    samples, said = channel_of(call_audio["billing"], "customer")
    speech = np.ascontiguousarray(samples[: (said[1]["end"] + 1000) * 8])  # the customer's first two utterances
    try:
        async with aiohttp.ClientSession() as session:
            url = await streaming_url(session, f"{gateway.base_url}", API_ID, API_SECRET, "killed-1")
            result = await stream_audio(session, url, speech, realtime=False)
        assert len(result.transcripts) == 2
        await eventually(lambda: len(receiver.arrived), lambda n: n == 1, what="the first POST hanging")
        gateway.process.kill()  # SIGKILL: the first message in flight, the second queued behind it (same stream)
        await asyncio.to_thread(gateway.process.wait, 30)
        restarted = await asyncio.to_thread(GatewayProcess, {"MEDIAGW_ASR__ENABLED": "false"}, data_dir)
        await asyncio.to_thread(restarted.stop)
    finally:
        if gateway.process.poll() is None:
            gateway.process.kill()
        await receiver.stop()

    with sqlite3.connect(data_dir / "mediagw.sqlite3") as db:
        utterances = [row[0] for row in db.execute("SELECT id FROM utterances ORDER BY seq")]
        records = {row[0]: row[1:] for row in db.execute("SELECT utterance_id, outcome, detail FROM deliveries")}
    assert len(utterances) == 2 and set(records) == set(utterances)
    assert records[utterances[0]] == ("unknown", LEFT_IN_FLIGHT)
    assert records[utterances[1]] == ("not_sent", LEFT_QUEUED)

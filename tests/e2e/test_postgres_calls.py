"""Calls into a PostgreSQL store (`store.url`) end to end: a SIPREC recording stored and read back through GET
messages and `mediagw export`, and a Twilio call that loses PostgreSQL halfway through and stores every
utterance once it is back."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mediagw.evaluation import word_error_rate
from mediagw.outputs.webhooks import WebhookTarget
from mediagw.simulators.siprec_call import SiprecCall
from mediagw.simulators.twilio import call_sid, media_stream_url, play_call, stereo_tracks
from mediagw.simulators.webhook_receiver import Receiver
from tests.e2e.api import by_start, control, messages
from tests.e2e.test_siprec import srs_address
from tests.gateway import API_ID, API_SECRET, GatewayThread
from tests.postgres import PostgresCluster
from tests.waits import eventually

pytestmark = pytest.mark.e2e
GUID = "00002542391662063199"
CUT_MS = 20000  # billing.flac: between the agent's third utterance and the customer's third


async def test_a_siprec_call_stores_into_postgresql_and_reads_back(
    gateway_factory: Any, postgres_url: str, call_audio: Any, tmp_path: Path
) -> None:
    gateway: GatewayThread = gateway_factory(store={"url": postgres_url})
    channels, script = call_audio["billing"]
    async with aiohttp.ClientSession() as session, SiprecCall(srs_address(gateway), GUID) as call:
        assert await call.invite() == 200
        start = {"namespace": "siprec", "guid": GUID, "customerId": "c-1", "agentId": "a-1"}
        start["siprecParams"] = {"mediaLineOrder": "CUSTOMER_FIRST"}
        assert (await control(session, gateway, "start", start))["status"] == 200
        await call.play(np.stack(channels, axis=1), speed=8.0)
        assert await call.bye() == 200
        stopped = await eventually(  # 409-203 while the BYE's flush stores the last utterances
            lambda: control(session, gateway, "stop", {"namespace": "siprec", "guid": GUID}),
            lambda a: a["status"] == 200 or a["error"]["code"] != "409-203",
            what="stop-streaming after the BYE",
        )
        stored = await messages(session, gateway, GUID)
    assert stopped["status"] == 200, stopped
    expected = script["utterances"]
    in_time = by_start(stored)
    assert len(in_time) == len(expected)
    assert [m["sender"]["role"] for m in in_time] == [u["role"] for u in expected]
    assert word_error_rate([u["text"] for u in expected], [m["text"] for m in in_time]) <= 0.2
    summaries = stopped["autotranscribeResponse"]
    assert summaries["customer"]["summary"]["transcripts"] + summaries["agent"]["summary"]["transcripts"] == len(stored)
    assert not (Path(gateway.config.data_dir) / "mediagw.sqlite3").exists()  # nothing went to SQLite
    rows = await _export(postgres_url, tmp_path)
    assert [r["utterance_id"] for r in rows] == [m["id"] for m in stored]
    assert {(r["namespace"], r["conversation_id"]) for r in rows} == {("siprec", GUID)}
    assert [r["utterance_text"] for r in rows] == [m["text"] for m in stored]


async def _export(url: str, tmp_path: Path) -> list[dict[str, Any]]:
    """Today's rows, as `mediagw export` writes them from the store at `url` (a process of its own)."""
    today = datetime.now(UTC).date()
    out = tmp_path / "feed.jsonl"
    env = {**os.environ, "MEDIAGW_STORE__URL": url, "MEDIAGW_DATA_DIR": str(tmp_path / "elsewhere")}
    command = [sys.executable, "-m", "mediagw.cli", "export", "--from", f"{today}", "--to"]
    command += [f"{today + timedelta(days=1)}", "--out", str(out)]
    export = await asyncio.create_subprocess_exec(*command, env=env, stderr=asyncio.subprocess.PIPE)
    _, stderr = await asyncio.wait_for(export.communicate(), 60)
    assert export.returncode == 0, stderr
    return [json.loads(line) for line in out.read_text().splitlines()]


async def test_postgresql_lost_mid_call_holds_the_utterances_and_stores_them_all_once_back(
    gateway_factory: Any, postgres_cluster: PostgresCluster, call_audio: Any
) -> None:
    receiver = await Receiver().start()
    gateway: GatewayThread = gateway_factory(
        store={"url": postgres_cluster.create_database()},
        webhooks={"targets": (WebhookTarget("crm", f"{receiver.url}/hook"),)},
        twilio={"start_grace_s": 10.0},  # start-streaming may come before the socket's start message
    )
    channels, script = call_audio["billing"]
    sid, after_cut = call_sid(), [u for u in script["utterances"] if u["start"] > CUT_MS]
    decoded: list[float] = []
    async with aiohttp.ClientSession() as session:
        body = {"namespace": "twilio", "guid": sid, "customerId": "c-1", "agentId": "a-1"}
        started = asyncio.create_task(control(session, gateway, "start", body))

        async def lose_postgresql() -> None:  # once the first 20 s of the call are sent and stored
            assert (await started)["status"] == 200
            await eventually(lambda: len(receiver.received), lambda n: n >= 3, what="the first utterances posted")
            decoded.append(await _metric(session, gateway, "mediagw_asr_latency_seconds_count"))
            postgres_cluster.stop("immediate")
            assert await eventually(lambda: _health(session, gateway), lambda h: h[0] == 503) == (503, "FAILED")

        url = await media_stream_url(session, gateway.base_url, API_ID, API_SECRET)
        tracks = stereo_tracks(channels, script["channels"])
        try:
            # 8x real time: a burst as fast as the socket takes it holds the gateway's loop over 0.1 s on a busy
            # machine, which the gateway fixture fails
            await play_call(session, url, tracks, sid, speed=8.0, on_started=lose_postgresql, started_after_ms=CUT_MS)
            # media and ASR go on: the rest of the call is received and decoded while the store is away ...
            await eventually(
                lambda: _metric(session, gateway, "mediagw_asr_latency_seconds_count"),
                lambda n: n >= decoded[0] + len(after_cut),
                what="the utterances after the cut decoded",
            )
            # ... but held for the store, which is written before any delivery
            assert await _health(session, gateway) == (503, "FAILED")
            assert all(m["autotranscribeResponse"]["start"] < CUT_MS for m in receiver.received)
        finally:
            postgres_cluster.start()
        assert await eventually(lambda: _health(session, gateway), lambda h: h[0] == 200) == (200, "SUCCESS")
        stored = await eventually(
            lambda: messages(session, gateway, sid),
            lambda s: len(s) >= len(script["utterances"]),
            what="every utterance stored",
        )
        await eventually(lambda: len(receiver.received), lambda n: n >= len(stored), what="every utterance posted")
        stopped = await control(session, gateway, "stop", {"namespace": "twilio", "guid": sid})
        dropped = await _metric(session, gateway, "mediagw_store_dropped_utterances_total")
    await receiver.stop()
    in_time = by_start(stored)
    assert [m["sender"]["role"] for m in in_time] == [u["role"] for u in script["utterances"]]
    assert word_error_rate([u["text"] for u in script["utterances"]], [m["text"] for m in in_time]) <= 0.2
    posted = sorted(m["autotranscribeResponse"]["start"] for m in receiver.received)
    assert posted == [m["autotranscribeResponse"]["start"] for m in in_time]  # each posted once, none lost
    assert stopped["status"] == 200 and dropped == 0
    summary = stopped["autotranscribeResponse"]["customer"]["summary"]
    assert summary["totalAudioBytes"] == len(tracks["inbound"]) * 2  # every chunk taken in, the outage's too


async def _health(session: aiohttp.ClientSession, gateway: GatewayThread) -> tuple[int, str]:
    async with session.get(f"{gateway.base_url}/v1/health") as response:
        return response.status, (await response.json())["healthCheck"]


async def _metric(session: aiohttp.ClientSession, gateway: GatewayThread, name: str) -> float:
    """A sample of the gateway's /metrics, as Prometheus scrapes it (0 while it has none)."""
    async with session.get(f"{gateway.base_url}/metrics") as response:
        text = await response.text()
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples if s.name == name]
    return sum(s.value for s in samples)

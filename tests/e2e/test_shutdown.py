"""SIGTERM keeps its promise, as an operator sees it: `mediagw serve` processes flooded with more utterances than
the ASR can decode in time exit within server.shutdown_timeout_s (plus a few seconds), store what they could not
transcribe (call, role, media span; audio where audioRecordingAllowed), and a restart delivers it once, late."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import time
import urllib.request
from functools import partial
from pathlib import Path

import aiohttp
import pytest

from bench.common import GatewayProcess
from bench.shutdown import (
    HARD_EXIT_S,
    flood_and_stop,
    gateway_env,
    metric,
    open_streams,
    restart_and_deliver,
    send_all,
    short_utterances,
    stored_untranscribed,
)
from tests.waits import eventually, wait_until

pytestmark = pytest.mark.e2e
BACKLOG = 150  # utterances undecoded at the signal: many seconds of decoding for one worker
STREAMS = 4


@pytest.mark.parametrize("timeout_s", [2.0, 5.0])
async def test_sigterm_exits_within_its_timeout_and_stores_what_it_could_not_transcribe(
    tmp_path: Path, timeout_s: float
) -> None:
    result = await flood_and_stop(tmp_path, timeout_s, BACKLOG, STREAMS)
    assert result["backlog_at_sigterm"] >= BACKLOG
    assert result["exit_code"] == 0
    assert result["exit_s"] <= timeout_s + 2.5, result  # the cooperative path, well inside the watchdog's bound
    assert result["final_5001"] == STREAMS  # every direct-API client got the reference's shutdown status...
    assert result["untranscribed_in_summaries"] == result["untranscribed_stored"] > 0  # ...saying how much was left
    assert result["spooled_with_audio"] == result["spool_files"] > 0  # audioRecordingAllowed streams: audio kept
    assert result["recorded_without_audio"] > 0  # the others: the record only
    assert result["spool_file_modes"] == ["0o600"]
    with sqlite3.connect(tmp_path / "mediagw.sqlite3") as db:
        rows = list(
            db.execute(
                "SELECT c.external_id, s.role, u.start_ms, u.end_ms, u.audio_file, u.state FROM untranscribed u"
                " JOIN streams s ON s.id = u.stream_id JOIN legs l ON l.id = s.leg_id"
                " JOIN conversations c ON c.id = l.conversation_id"
            )
        )
    assert {(call.startswith("flood-"), role) for call, role, *_ in rows} == {(True, "customer")}
    assert all(0 <= start < end for _, _, start, end, _, _ in rows)
    assert {state for *_, audio, state in rows if audio} == {"spooled"}


async def test_a_second_sigterm_ends_the_shutdown_at_once(tmp_path: Path) -> None:
    gateway = GatewayProcess(gateway_env(60.0), tmp_path)
    try:
        async with aiohttp.ClientSession() as session:
            streams = await open_streams(session, gateway.base_url, STREAMS)
            await send_all(streams, short_utterances(BACKLOG // STREAMS))
            unfinished = partial(metric, session, gateway.base_url, "mediagw_asr_unfinished")
            await eventually(unfinished, lambda n: n >= BACKLOG // 2, timeout_s=30, what="a backlog")
            gateway.process.send_signal(signal.SIGTERM)
            wait_until(lambda: _ready_status(gateway.base_url) == 503, timeout_s=10, what="draining")
            began = time.monotonic()
            gateway.process.send_signal(signal.SIGTERM)
            await asyncio.to_thread(gateway.process.wait, 30)
            exit_s = time.monotonic() - began
            for stream in streams:
                await stream.read_to_end()
    finally:
        if gateway.process.poll() is None:
            gateway.process.kill()
    assert (exit_s < HARD_EXIT_S, gateway.process.returncode) == (True, 0)  # not the watchdog's exit
    assert all(s.final is not None and s.final["status"]["code"] == "5001" for s in streams)
    assert stored_untranscribed(tmp_path)  # at once, yet nothing lost silently


async def test_after_a_restart_the_spooled_audio_is_delivered_late_and_once(tmp_path: Path) -> None:
    stopped = await flood_and_stop(tmp_path, 2.0, BACKLOG, STREAMS)
    restarted = await restart_and_deliver(tmp_path, 2.0)
    assert restarted["spooled"] == stopped["spooled_with_audio"] > 0
    assert restarted["delivered"] == restarted["marked_late"] == restarted["spooled"]  # late, each of them
    assert restarted["delivered_twice"] == 0
    assert restarted["delivered_after_second_restart"] == 0  # a second restart sends nothing again
    rows = stored_untranscribed(tmp_path)
    assert {r["state"] for r in rows} == {"delivered", "lost"}
    with sqlite3.connect(tmp_path / "mediagw.sqlite3") as db:
        late = {
            (stream, start, end): json.loads(message)
            for stream, start, end, message in db.execute(
                "SELECT u.stream_id, u.start_ms, u.end_ms, u.message FROM utterances u"
                " JOIN untranscribed x ON x.utterance_id = u.id"
            )
        }
    delivered = {(r["stream_id"], r["start_ms"], r["end_ms"]) for r in rows if r["state"] == "delivered"}
    assert late.keys() == delivered  # stored with the original media times...
    assert all(m["late"] is True and m["start"] < m["end"] for m in late.values())  # ...and marked late
    assert not list((tmp_path / "spool").glob("*.wav"))  # delivered audio is not kept


def _ready_status(base_url: str) -> int:
    try:
        with urllib.request.urlopen(f"{base_url}/v1/ready", timeout=1) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)

"""Transcripts are stored before they are sent, survive a killed process, and come back after the call."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest

from mediagw.evaluation import word_error_rate
from mediagw.simulators.direct_ws import stream_audio, streaming_url
from tests.conftest import channel_of, clip
from tests.e2e.masking import VISIBLE, assert_masked, assert_shown, secret_run, strings_of
from tests.gateway import API_ID, API_SECRET, GatewayThread, free_port, wait_healthy
from tests.waits import eventually

pytestmark = pytest.mark.e2e
HEADERS = {"asapp-api-id": API_ID, "asapp-api-secret": API_SECRET}
ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


async def test_messages_of_both_parties_come_back_in_order(gateway: GatewayThread, call_audio: Any) -> None:
    billing = call_audio["billing"]
    sent: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session:
        for role in ("agent", "customer"):
            samples, script = channel_of(billing, role)
            url = await streaming_url(session, gateway.base_url, API_ID, API_SECRET, "billing-42")
            result = await stream_audio(
                session,
                url,
                clip(samples, 0, script[1]["end"] + 800),
                role=role,
                external_id=f"{role}-7",
                realtime=False,
            )
            sent += [{**t, "streamId": result.start_response["streamID"], "role": role} for t in result.transcripts]
        async with session.get(
            f"{gateway.base_url}/conversation/v1/conversation/messages",
            params={"externalId": "billing-42"},
            headers=HEADERS,
        ) as response:
            by_query = await response.json()
        async with session.get(
            f"{gateway.base_url}/conversation/v1/conversation/messages",
            json={"externalId": "billing-42"},
            headers=HEADERS,
        ) as response:
            by_body = await response.json()
        async with session.get(
            f"{gateway.base_url}/conversation/v1/conversation/messages",
            params={"externalId": "nobody"},
            headers=HEADERS,
        ) as response:
            assert (await response.json()) == {"messages": []}
        async with session.get(f"{gateway.base_url}/conversation/v1/conversation/messages", headers=HEADERS) as r:
            assert r.status == 400 and (await r.json())["error"]["code"] == "400-02"
    messages = by_query["messages"]
    assert by_body == by_query
    assert len(messages) == len(sent) == 4
    assert len({m["id"] for m in messages}) == 4 and all(ULID.match(m["id"]) for m in messages)
    for message, transcript in zip(messages, sent, strict=True):
        assert message["type"] == "transcript"
        assert message["externalConversationId"] == "billing-42"
        assert message["streamId"] == transcript["streamId"]
        assert message["sender"] == {"externalId": f"{transcript['role']}-7", "role": transcript["role"]}
        assert message["text"] == transcript["utterance"][0]["text"]
        assert message["autotranscribeResponse"] == {
            k: v for k, v in transcript.items() if k not in ("streamId", "role")
        }
        assert message["timestamp"].endswith("Z")


async def test_an_utterance_cut_off_by_a_vanishing_client_is_kept(gateway: GatewayThread, call_audio: Any) -> None:
    samples, script = channel_of(call_audio["billing"], "customer")
    async with aiohttp.ClientSession() as session:
        url = await streaming_url(session, gateway.base_url, API_ID, API_SECRET, "vanished-1")
        async with session.ws_connect(url) as ws:
            await ws.send_json({"message": "startStream", "sender": {"role": "customer", "externalId": "c"}})
            await ws.receive_json()
            for chunk in np.array_split(clip(samples, 0, script[0]["end"] - 300), 20):
                await ws.send_bytes(chunk.astype("<i2").tobytes())
        messages = await eventually(lambda: _stored(session, gateway.base_url, "vanished-1"), what="message stored")
    assert len(messages) == 1
    assert word_error_rate([script[0]["text"]], [messages[0]["text"]]) <= 0.4  # its last 300 ms were never sent


async def test_redacted_streams_store_no_unredacted_text(gateway: GatewayThread, call_audio: Any) -> None:
    samples, script = channel_of(call_audio["travel"], "customer")
    card = script[3]
    async with aiohttp.ClientSession() as session:
        for output in ("redacted", "redacted_and_unredacted"):
            url = await streaming_url(session, gateway.base_url, API_ID, API_SECRET, f"card-{output}")
            await stream_audio(
                session,
                url,
                clip(samples, card["start"] - 500, card["end"] + 800),
                realtime=False,
                start_fields={"redactionOutput": output},
            )
        async with session.get(
            f"{gateway.base_url}/conversation/v1/conversation/messages",
            params={"externalId": "card-redacted_and_unredacted"},
            headers=HEADERS,
        ) as response:
            both = (await response.json())["messages"][0]
    assert_masked(both["text"])
    assert_shown(both["unredactedText"])
    database = Path(gateway.config.data_dir) / "mediagw.sqlite3"
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT u.text, u.unredacted_text, u.message FROM utterances u JOIN conversations c"
            " ON c.id = u.conversation_id WHERE c.external_id = 'card-redacted'"
        ).fetchall()
    assert len(rows) == 1
    text, unredacted, message = rows[0]
    assert unredacted is None
    assert_masked(text)  # at most the last four digits are visible, in the text and in the stored message
    assert all(secret_run(stored) <= VISIBLE for stored in strings_of(json.loads(message))), message


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_every_stored_utterance_survives_sigkill(
    tmp_path: Path, call_audio: Any, backend: str, request: pytest.FixtureRequest
) -> None:
    samples, script = channel_of(call_audio["billing"], "agent")
    port = free_port()
    env = {**os.environ, "MEDIAGW_DATA_DIR": str(tmp_path / "data"), "MEDIAGW_SIPREC__PORT": "0"}
    if backend == "postgres":
        env["MEDIAGW_STORE__URL"] = request.getfixturevalue("postgres_url")
    command = [sys.executable, "-m", "mediagw.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    base = f"http://127.0.0.1:{port}"

    async def talk_then_die() -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as session:
            url = await streaming_url(session, base, API_ID, API_SECRET, "killed-call")
            async with session.ws_connect(url) as ws:
                await ws.send_json({"message": "startStream", "sender": {"role": "agent", "externalId": "a"}})
                await ws.receive_json()
                audio = clip(samples, 0, script[1]["end"] + 800)
                for chunk in np.array_split(audio, 50):
                    await ws.send_bytes(chunk.astype("<i2").tobytes())
                received = [await ws.receive_json() for _ in range(2)]  # both utterances reported
                server.send_signal(signal.SIGKILL)
                return received

    server = subprocess.Popen(command, env=env)
    try:
        wait_healthy(base)
        received = asyncio.run(talk_then_die())
        server.wait(10)
    finally:
        server.kill()
    restarted = subprocess.Popen(command, env=env)
    try:
        wait_healthy(base)
        stored = asyncio.run(_messages(base, "killed-call"))
    finally:
        restarted.terminate()
        restarted.wait(30)
    assert [m["autotranscribeResponse"] for m in stored] == received


async def _messages(base: str, external_id: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as session:
        return await _stored(session, base, external_id)


async def _stored(session: aiohttp.ClientSession, base: str, external_id: str) -> list[dict[str, Any]]:
    async with session.get(
        f"{base}/conversation/v1/conversation/messages", params={"externalId": external_id}, headers=HEADERS
    ) as response:
        return list((await response.json())["messages"])

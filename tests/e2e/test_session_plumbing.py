"""What every media socket shares, end to end: graceful shutdown, refusal while shutting down, the AudioHook close
transaction after our disconnect, unexpected errors contained to their socket, and the languages AudioHook lists."""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest

import mediagw.ingress.audiohook.transport as audiohook_transport
from mediagw.audio.g711 import pcm_to_ulaw
from mediagw.config import AudioHookKey
from mediagw.ingress.twilio.protocol import TwilioStream
from mediagw.simulators.audiohook import EXAMPLE_ORGANIZATION_ID, play_session, upgrade_headers
from mediagw.simulators.twilio import call_sid, media_stream_url
from tests.conftest import channel_of, clip
from tests.e2e import api
from tests.gateway import API_ID, API_SECRET, GatewayThread

pytestmark = pytest.mark.e2e
KEY, SECRET = "genesys-key", "c2VjcmV0LXNoYXJlZC13aXRoLWdlbmVzeXM="
AUDIOHOOK = {"api_keys": (AudioHookKey(KEY, SECRET),)}
SHUTDOWN_TIMEOUT_S = 3.0


async def until(probe: Callable[[], object], what: str, timeout_s: float = 30.0) -> None:
    """Poll `probe` until it holds, with a deadline (never a fixed sleep)."""
    deadline = time.monotonic() + timeout_s
    while not probe():
        assert time.monotonic() < deadline, f"{what}: not reached within {timeout_s} s"
        await asyncio.sleep(0.02)


async def closed_with(ws: aiohttp.ClientWebSocketResponse) -> tuple[int | None, str]:
    """Read until the server's close; its code and reason."""
    while True:
        message = await ws.receive(timeout=30)
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            return ws.close_code, str(message.extra or "")


def twilio_message(event: str, **body: Any) -> str:
    return json.dumps({"event": event, "streamSid": "MZ" + "1" * 32, **body})


def twilio_start(sid: str, **start: Any) -> str:
    fields = {
        "callSid": sid,
        "streamSid": "MZ" + "1" * 32,
        "accountSid": "AC" + "1" * 32,
        "tracks": ["inbound"],
    } | start
    return twilio_message("start", start=fields)


def twilio_media(samples: np.ndarray, chunk_ms: int = 100) -> list[str]:
    step = 8 * chunk_ms
    return [
        twilio_message(
            "media",
            media={
                "track": "inbound",
                "chunk": str(i // step + 1),
                "timestamp": str(i // 8),
                "payload": base64.b64encode(pcm_to_ulaw(samples[i : i + step])).decode(),
            },
        )
        for i in range(0, len(samples), step)
    ]


async def start_twilio_call(session: aiohttp.ClientSession, gateway: GatewayThread, sid: str) -> None:
    body = {"namespace": "twilio", "guid": sid, "customerId": "c-1", "agentId": "a-1"}
    assert (await api.control(session, gateway, "start", body))["status"] == 200


def stored_utterances(data_dir: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(data_dir / "mediagw.sqlite3") as db:
        return list(db.execute("SELECT start_ms, text FROM utterances ORDER BY start_ms"))


def audiohook_url(gateway: GatewayThread) -> str:
    return gateway.base_url.replace("http://", "ws://") + gateway.config.audiohook.path


async def test_shutdown_closes_an_open_twilio_socket_cleanly_within_the_timeout_and_flushes_it(
    gateway_factory: Any, call_audio: Any, tmp_path: Path
) -> None:
    gateway = gateway_factory(tmp_path / "data", server={"shutdown_timeout_s": SHUTDOWN_TIMEOUT_S})
    samples, script = channel_of(call_audio["billing"], "customer")
    first = script[0]
    mid_utterance = clip(samples, 0, (first["start"] + first["end"]) // 2)
    sid = call_sid()
    async with aiohttp.ClientSession() as session:
        url = await media_stream_url(session, gateway.base_url, API_ID, API_SECRET)
        async with session.ws_connect(url) as ws:
            await ws.send_str(twilio_message("connected", protocol="Call", version="1.0.0"))
            await ws.send_str(twilio_start(sid))
            await until(lambda: gateway.media("twilio", sid), "the call attached")
            await start_twilio_call(session, gateway, sid)
            for message in twilio_media(mid_utterance):
                await ws.send_str(message)
            media = gateway.media("twilio", sid)
            assert media is not None
            await until(lambda: media.clock["customer"] >= len(mid_utterance), "the audio taken in")
            began = time.monotonic()
            stopping = asyncio.create_task(asyncio.to_thread(gateway.stop))
            async for _ in ws:
                pass
            closed_after = time.monotonic() - began
            assert (ws.close_code, closed_after < SHUTDOWN_TIMEOUT_S) == (1001, True)
        await stopping
    (utterance,) = stored_utterances(tmp_path / "data")  # the half-spoken utterance was transcribed on the way out
    assert utterance[0] == pytest.approx(first["start"], abs=150)


async def test_new_sockets_are_refused_while_the_gateway_shuts_down(gateway_factory: Any) -> None:
    gateway = gateway_factory(audiohook=AUDIOHOOK, server={"shutdown_timeout_s": SHUTDOWN_TIMEOUT_S})
    async with aiohttp.ClientSession() as session:
        url = await media_stream_url(session, gateway.base_url, API_ID, API_SECRET)
        ws, session_id, _ = await open_audiohook(session, gateway)  # its close transaction holds the shutdown open
        stopping = asyncio.create_task(asyncio.to_thread(gateway.stop))
        disconnect = json.loads((await ws.receive(timeout=10)).data)
        assert (disconnect["type"], disconnect["parameters"]["reason"]) == ("disconnect", "completed")
        async with session.ws_connect(url) as twilio:
            assert await closed_with(twilio) == (1001, "Service shutting down")
        headers, _ = upgrade_headers(
            audiohook_url(gateway), EXAMPLE_ORGANIZATION_ID, str(uuid.uuid4()), "c", KEY, SECRET
        )
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(audiohook_url(gateway), headers=headers)
        assert refused.value.status == 503
        await ws.send_str(
            json.dumps(client_message(session_id, "close", 2, disconnect["seq"], {"reason": "disconnect"}))
        )
        assert json.loads((await ws.receive(timeout=10)).data)["type"] == "closed"
        assert await closed_with(ws) == (1000, "")
        await stopping


async def test_a_malformed_twilio_start_closes_that_socket_and_other_calls_go_on(gateway: GatewayThread) -> None:
    async with aiohttp.ClientSession() as session:
        url = await media_stream_url(session, gateway.base_url, API_ID, API_SECRET)
        async with session.ws_connect(url) as healthy, session.ws_connect(url) as bad:
            await healthy.send_str(twilio_start(call_sid()))
            await bad.send_str(twilio_start(call_sid(), tracks=[{}]))
            async for _ in bad:
                pass
            assert bad.close_code == 1003
            await healthy.send_str(twilio_media(np.zeros(800, dtype=np.int16))[0])
            await healthy.send_str(twilio_message("stop"))
            async for _ in healthy:
                pass
            assert healthy.close_code == 1000


async def test_a_bug_closes_its_twilio_socket_with_1011_and_no_details(
    gateway: GatewayThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: TwilioStream, message: dict[str, Any]) -> list[Any]:
        raise TypeError("secret detail")

    async with aiohttp.ClientSession() as session:
        url = await media_stream_url(session, gateway.base_url, API_ID, API_SECRET)
        monkeypatch.setattr(TwilioStream, "_start", broken)
        async with session.ws_connect(url) as ws:
            await ws.send_str(twilio_start(call_sid()))
            assert await closed_with(ws) == (1011, "internal error")
        monkeypatch.undo()

        async def attach_fails(namespace: str, guid: str, roles: Any, position: int = 0) -> Any:
            raise RuntimeError("secret detail")

        monkeypatch.setattr(gateway.services.media, "attach", attach_fails)  # a bug in the transport itself
        async with session.ws_connect(url) as ws:
            await ws.send_str(twilio_start(call_sid()))
            assert await closed_with(ws) == (1011, "internal error")
    await until(lambda: not gateway.services.sessions, "both sessions gone")


async def open_audiohook(session: aiohttp.ClientSession, gateway: GatewayThread, **parameters: Any) -> Any:
    """A raw AudioHook socket, opened; returns the socket, its session id and the `opened` message."""
    session_id = str(uuid.uuid4())
    headers, _ = upgrade_headers(audiohook_url(gateway), EXAMPLE_ORGANIZATION_ID, session_id, "c-1", KEY, SECRET)
    ws = await session.ws_connect(audiohook_url(gateway), headers=headers)
    media = [{"type": "audio", "format": "PCMU", "channels": ["external", "internal"], "rate": 8000}]
    participant = {"id": str(uuid.uuid4()), "ani": "+15555550100", "aniName": "C", "dnis": "+15555550199"}
    open_parameters = {
        "organizationId": EXAMPLE_ORGANIZATION_ID,
        "conversationId": str(uuid.uuid4()),
        "participant": participant,
        "media": media,
        "language": "en-US",
    } | parameters
    await ws.send_str(json.dumps(client_message(session_id, "open", 1, 0, open_parameters)))
    opened = json.loads((await ws.receive(timeout=10)).data)
    assert opened["type"] == "opened"
    return ws, session_id, opened


def client_message(session_id: str, kind: str, seq: int, serverseq: int, parameters: Any) -> dict[str, Any]:
    header = {"version": "2", "id": session_id, "type": kind, "seq": seq, "serverseq": serverseq}
    return header | {"position": "PT0S", "parameters": parameters}


async def test_an_idle_disconnect_waits_for_the_clients_close_and_answers_closed(gateway_factory: Any) -> None:
    gateway = gateway_factory(audiohook={**AUDIOHOOK, "idle_timeout_s": 0.5})
    async with aiohttp.ClientSession() as session:
        ws, session_id, _ = await open_audiohook(session, gateway)
        disconnect = json.loads((await ws.receive(timeout=10)).data)
        assert (disconnect["type"], disconnect["parameters"]["info"]) == ("disconnect", "idle timeout")
        assert not ws.closed  # the socket stays open for the close transaction
        await ws.send_str(json.dumps(client_message(session_id, "close", 2, disconnect["seq"], {"reason": "end"})))
        closed = json.loads((await ws.receive(timeout=10)).data)
        assert closed["type"] == "closed"
        assert (await ws.receive(timeout=10)).type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1000
        await ws.close()


async def test_a_client_that_never_closes_is_cut_after_the_close_timeout(
    gateway_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audiohook_transport, "CLOSE_TIMEOUT_S", 0.3)
    gateway = gateway_factory(audiohook={**AUDIOHOOK, "idle_timeout_s": 0.3})
    async with aiohttp.ClientSession() as session:
        ws, _, _ = await open_audiohook(session, gateway)
        assert json.loads((await ws.receive(timeout=10)).data)["type"] == "disconnect"
        assert (await ws.receive(timeout=10)).type is aiohttp.WSMsgType.CLOSE
        await ws.close()
    await until(lambda: not gateway.services.sessions, "the session gone")


async def test_shutdown_ends_an_audiohook_session_with_a_close_transaction(
    gateway_factory: Any, call_audio: Any
) -> None:
    gateway = gateway_factory(audiohook=AUDIOHOOK, server={"shutdown_timeout_s": SHUTDOWN_TIMEOUT_S})
    channels, script = call_audio["billing"]
    audio = np.stack([channels[script["channels"].index(r)] for r in ("customer", "agent")], axis=1)
    opened = asyncio.Event()

    async def on_opened() -> None:
        opened.set()

    async with aiohttp.ClientSession() as session:
        playing = asyncio.create_task(
            play_session(
                session,
                audiohook_url(gateway),
                audio,
                conversation_id=str(uuid.uuid4()),
                api_key=KEY,
                client_secret=SECRET,
                on_opened=on_opened,
            )
        )
        await asyncio.wait_for(opened.wait(), 10)
        await until(lambda: gateway.services.sessions, "the session registered")
        began = time.monotonic()
        await asyncio.to_thread(gateway.stop)
        result = await playing
    assert time.monotonic() - began < SHUTDOWN_TIMEOUT_S
    assert result.problems == [] and result.disconnect_reason == "completed"
    assert result.closed is not None and result.close_code == 1000


async def test_audiohook_lists_the_models_languages_as_tags(gateway_factory: Any) -> None:
    gateway = gateway_factory(audiohook=AUDIOHOOK)
    async with aiohttp.ClientSession() as session:
        ws, _, opened = await open_audiohook(session, gateway, supportedLanguages=True)
        await ws.close()
    expected = ["en-US"] if gateway.services.languages == ["en"] else None
    languages = opened["parameters"]["supportedLanguages"]
    assert languages == expected or (expected is None and "en-US" in languages)

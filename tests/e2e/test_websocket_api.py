"""The direct WebSocket API driven over real sockets with real speech: transcripts, summaries, status codes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import numpy as np
import pytest

from mediagw.evaluation import word_error_rate
from mediagw.simulators.direct_ws import stream_audio, streaming_url
from tests.conftest import channel_of, clip
from tests.gateway import API_ID, API_SECRET, GatewayThread
from tests.waits import eventually

pytestmark = pytest.mark.e2e


async def audio_taken_in(gateway: GatewayThread, samples: int) -> None:
    """Until the gateway has counted all but the last second of `samples` sent on WebSocket streams (it counts
    once a second of audio has come in since its last count); the rest is behind them on the same socket."""
    counted_s = samples / 8000 - 1
    await eventually(lambda: gateway.metric("mediagw_audio_seconds_total", ingress="websocket") >= counted_s)


async def url_for(session: aiohttp.ClientSession, gateway: GatewayThread, external_id: str = "call-1") -> str:
    return await streaming_url(session, gateway.base_url, API_ID, API_SECRET, external_id)


async def test_streams_a_call_channel_to_accurate_transcripts(gateway: GatewayThread, call_audio: Any) -> None:
    samples, script = channel_of(call_audio["billing"], "customer")
    async with aiohttp.ClientSession() as session:
        result = await stream_audio(session, await url_for(session, gateway), samples, realtime=False)

    assert result.start_response is not None
    stream_id = result.start_response["streamID"]
    assert result.start_response["status"] == {"code": "1000", "description": "OK"}
    assert result.final_response == {
        "message": "finalResponse",
        "streamId": stream_id,
        "status": {"code": "1000", "description": "OK"},
        "summary": {
            "totalAudioBytes": len(samples) * 2,
            "audioDurationMs": len(samples) // 8,
            "streamingSeconds": result.final_response["summary"]["streamingSeconds"],
            "transcripts": len(result.transcripts),
        },
    }
    assert len(result.transcripts) == len(script)
    texts = [t["utterance"][0]["text"] for t in result.transcripts]
    assert word_error_rate([u["text"] for u in script], texts) <= 0.2, texts
    for transcript, expected in zip(result.transcripts, script, strict=True):
        assert set(transcript) == {"message", "start", "end", "utterance"}
        assert abs(transcript["start"] - expected["start"]) <= 150
        assert abs(transcript["end"] - expected["end"]) <= 150
    assert result.close_code == 1000


async def test_detailed_tokens_carry_word_times_within_the_utterance(gateway: GatewayThread, call_audio: Any) -> None:
    samples, script = channel_of(call_audio["billing"], "agent")
    samples = clip(samples, 0, script[1]["end"] + 1000)
    async with aiohttp.ClientSession() as session:
        result = await stream_audio(
            session,
            await url_for(session, gateway),
            samples,
            role="agent",
            realtime=False,
            start_fields={"detailedToken": True, "redactionOutput": "unredacted"},
        )
    assert len(result.transcripts) == 2
    for transcript in result.transcripts:
        utterance = transcript["utterance"][0]
        tokens = utterance["tokens"]
        rebuilt = [t.get("punctuationBefore", "") + t["content"] + t.get("punctuationAfter", "") for t in tokens]
        assert " ".join(rebuilt) == utterance["text"]
        starts = [t["start"] for t in tokens]
        assert starts == sorted(starts)
        assert all(transcript["start"] <= t["start"] <= t["end"] <= transcript["end"] for t in tokens)


async def test_spoken_form_when_smart_formatting_is_off(gateway: GatewayThread, call_audio: Any) -> None:
    samples, script = channel_of(call_audio["billing"], "agent")
    payment = script[2]  # "... the duplicate payment of 59 dollars."
    async with aiohttp.ClientSession() as session:
        result = await stream_audio(
            session,
            await url_for(session, gateway),
            clip(samples, payment["start"] - 500, payment["end"] + 800),
            role="agent",
            realtime=False,
            start_fields={"smartFormatting": False, "redactionOutput": "unredacted"},
        )
    text = result.transcripts[0]["utterance"][0]["text"]
    assert not any(c.isdigit() for c in text), text  # "fifty nine dollars", never "$59"
    assert text == text.lower() and not any(c in text for c in ".,?$")
    assert word_error_rate([payment["text"]], [text]) <= 0.3, text


async def test_vocabulary_is_acknowledged_and_applied_to_later_utterances(
    gateway: GatewayThread, call_audio: Any
) -> None:
    samples, script = channel_of(call_audio["travel"], "agent")
    greeting = script[0]  # "Good morning, this is the travel desk. How may I help?"
    vocabulary = {
        "message": "updateVocabulary",
        "phrases": [{"phrase": "TravelDesk", "category": "company", "soundsLike": ["travel desk"]}],
    }
    async with aiohttp.ClientSession() as session:
        url = await url_for(session, gateway)
        async with session.ws_connect(url) as ws:
            await ws.send_json({"message": "startStream", "sender": {"role": "agent", "externalId": "a1"}})
            assert (await ws.receive_json())["message"] == "startResponse"
            await ws.send_json(vocabulary)
            assert await ws.receive_json() == {
                "message": "vocabularyResponse",
                "status": {"code": "1000", "description": "OK"},
            }
            audio = clip(samples, greeting["start"] - 500, greeting["end"] + 800).astype("<i2").tobytes()
            for offset in range(0, len(audio), 3200):
                await ws.send_bytes(audio[offset : offset + 3200])
            await ws.send_json({"message": "finishStream"})
            transcript = await ws.receive_json()
            final = await ws.receive_json()
    assert "TravelDesk" in transcript["utterance"][0]["text"]
    assert final["summary"]["transcripts"] == 1


@pytest.mark.parametrize(
    ("phrases", "code"),
    [
        ("not a list", "4091"),
        ([{"phrase": ""}], "4091"),
        ([{"phrase": "IEEE", "category": "planet"}], "4091"),
        ([{"phrase": "x" * 65}], "4084"),
        ([{"phrase": f"p{i}"} for i in range(201)], "4084"),
    ],
)
async def test_bad_vocabulary_is_answered_with_its_code_and_the_stream_goes_on(
    gateway: GatewayThread, phrases: Any, code: str
) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(await url_for(session, gateway)) as ws:
        await ws.send_json({"message": "startStream", "sender": {"role": "agent", "externalId": "a1"}})
        await ws.receive_json()
        await ws.send_json({"message": "updateVocabulary", "phrases": phrases})
        response = await ws.receive_json()
        assert response["message"] == "vocabularyResponse"
        assert response["status"]["code"] == code
        await ws.send_json({"message": "finishStream"})
        final = await ws.receive_json()
    assert final["status"]["code"] == "1000"


async def expect_final(
    gateway: GatewayThread, first: dict[str, Any] | bytes | str, *then: dict[str, Any] | bytes | str
) -> dict[str, Any]:
    """Send messages in order; return the finalResponse, having checked the socket is closed after it."""
    async with aiohttp.ClientSession() as session, session.ws_connect(await url_for(session, gateway)) as ws:
        for message in (first, *then):
            if isinstance(message, bytes):
                await ws.send_bytes(message)
            elif isinstance(message, str):
                await ws.send_str(message)
            else:
                await ws.send_json(message)
        final: dict[str, Any] = {}
        async for received in ws:
            body = json.loads(received.data)
            if body["message"] == "finalResponse":
                final = body
        assert ws.closed
    return final


START = {"message": "startStream", "sender": {"role": "customer", "externalId": "c1"}}


@pytest.mark.parametrize(
    ("messages", "code"),
    [
        (["{not json"], "4040"),
        (["[1, 2]"], "4040"),
        ([{"message": "sing"}], "4040"),
        ([{"message": "startStream", "sender": {"role": "supervisor", "externalId": "x"}}], "4040"),
        ([{"message": "startStream", "sender": {"role": "agent"}}], "4040"),
        ([{**START, "detailedToken": "yes"}], "4040"),
        ([{**START, "redactionOutput": "sometimes"}], "4040"),
        ([{**START, "language": "es-US"}], "4050"),
        ([{**START, "encoding": "OPUS"}], "4051"),
        ([{**START, "samplingRate": 16000}], "4053"),
        ([b"\x00\x01" * 160], "4056"),
        ([{"message": "finishStream"}], "4056"),
        ([START, START], "4056"),
        ([START, {"message": "finishStream"}, {"message": "finishStream"}], "4056"),
    ],
)
async def test_bad_requests_end_with_their_status_code(gateway: GatewayThread, messages: list[Any], code: str) -> None:
    final = await expect_final(gateway, *messages)
    assert final["status"]["code"] == code
    assert final["status"]["description"]


async def test_invalid_and_expired_tokens_are_closed_with_1008(gateway: GatewayThread) -> None:
    async with aiohttp.ClientSession() as session:
        url = await url_for(session, gateway)
        forged = url[:-3] + ("abc" if not url.endswith("abc") else "xyz")
        path = gateway.config.websocket_api.path
        expired_token = gateway.services.signer.issue(API_ID, "c", now=0)
        for target in (forged, f"{gateway.base_url}{path}", f"{gateway.base_url}{path}?token={expired_token}"):
            async with session.ws_connect(target) as ws:
                message = await ws.receive()
                assert message.type is aiohttp.WSMsgType.CLOSE
                assert ws.close_code == 1008


async def test_streaming_url_requires_valid_credentials(gateway: GatewayThread) -> None:
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {"asapp-api-id": API_ID, "asapp-api-secret": "wrong"}):
            async with session.post(f"{gateway.base_url}/autotranscribe/v1/streaming-url", headers=headers) as r:
                body = await r.json()
                assert r.status == 401
                assert set(body["error"]) == {"requestId", "message", "code"}
        url = await url_for(session, gateway)
        assert url.startswith(f"ws://127.0.0.1:{gateway.port}{gateway.config.websocket_api.path}?token=")


async def test_odd_sized_binary_frames_lose_no_audio(gateway: GatewayThread, call_audio: Any) -> None:
    samples, script = channel_of(call_audio["billing"], "customer")
    data = clip(samples, 0, script[0]["end"] + 800).astype("<i2").tobytes()
    chunks = [data[i : i + 321] for i in range(0, len(data), 321)]
    final = await expect_final(gateway, START, *chunks, {"message": "finishStream"})
    assert final["status"]["code"] == "1000"
    assert final["summary"]["totalAudioBytes"] == len(data)
    assert final["summary"]["audioDurationMs"] == len(data) // 16
    assert final["summary"]["transcripts"] == 1


async def test_oversized_frame_closes_the_socket_and_other_streams_go_on(
    gateway: GatewayThread, call_audio: Any
) -> None:
    samples, script = channel_of(call_audio["billing"], "customer")
    async with aiohttp.ClientSession() as session:
        healthy = asyncio.create_task(
            stream_audio(
                session,
                await url_for(session, gateway),
                clip(samples, script[0]["start"] - 500, script[0]["end"] + 800),
                chunk_ms=100,
                realtime=True,
            )
        )
        async with session.ws_connect(await url_for(session, gateway)) as ws:
            await ws.send_json(START)
            await ws.receive_json()
            await ws.send_bytes(b"\x00" * (gateway.config.websocket_api.max_frame_bytes + 2))
            async for _ in ws:
                pass
            assert ws.close_code == 1009
        result = await healthy
    assert result.final_response is not None and result.final_response["status"]["code"] == "1000"
    assert len(result.transcripts) == 1


async def test_idle_stream_ends_with_4083(gateway_factory: Any) -> None:
    gateway = gateway_factory(websocket_api={"idle_timeout_s": 0.5})
    final = await expect_final(gateway, START, b"\x00\x00" * 800)
    assert final["status"]["code"] == "4083"
    assert final["summary"]["totalAudioBytes"] == 1600


async def test_stream_over_the_duration_limit_ends_with_4090_after_its_transcripts(
    gateway_factory: Any, call_audio: Any
) -> None:
    gateway = gateway_factory(websocket_api={"max_duration_s": 4.0})
    samples, script = channel_of(call_audio["billing"], "agent")
    async with aiohttp.ClientSession() as session:
        result = await stream_audio(session, await url_for(session, gateway), samples, role="agent", chunk_ms=100)
    assert result.final_response is not None
    assert result.final_response["status"]["code"] == "4090"
    assert 3500 <= result.final_response["summary"]["audioDurationMs"] <= 4500
    # the greeting was still being spoken at the limit: what was received of it is flushed, not dropped
    assert len(result.transcripts) == 1
    assert result.transcripts[0]["start"] == pytest.approx(script[0]["start"], abs=150)
    assert result.transcripts[0]["end"] <= result.final_response["summary"]["audioDurationMs"]


async def test_shutdown_flushes_open_streams_and_answers_5001(gateway_factory: Any, call_audio: Any) -> None:
    gateway = gateway_factory(server={"shutdown_timeout_s": 8.0})  # the open stream goes on 4 s, then is ended
    samples, script = channel_of(call_audio["billing"], "customer")
    first = script[0]
    mid_utterance = clip(samples, 0, (first["start"] + first["end"]) // 2)
    async with aiohttp.ClientSession() as session, session.ws_connect(await url_for(session, gateway)) as ws:
        await ws.send_json(START)
        await ws.receive_json()
        for chunk in np.array_split(mid_utterance, 20):
            await ws.send_bytes(chunk.astype("<i2").tobytes())
        await audio_taken_in(gateway, len(mid_utterance))  # before the operator stops it
        stopping = asyncio.create_task(asyncio.to_thread(gateway.stop))
        received = [json.loads(m.data) async for m in ws]
        await stopping
    assert [m["message"] for m in received] == ["transcript", "finalResponse"]
    assert received[0]["start"] == pytest.approx(first["start"], abs=150)
    assert received[1]["status"] == {"code": "5001", "description": "Service shutting down"}


async def test_client_vanishing_mid_utterance_still_gets_it_transcribed(
    gateway: GatewayThread, call_audio: Any
) -> None:
    samples, script = channel_of(call_audio["billing"], "customer")
    first = script[0]
    async with aiohttp.ClientSession() as session, session.ws_connect(await url_for(session, gateway)) as ws:
        await ws.send_json(START)
        await ws.receive_json()
        sent = clip(samples, 0, first["end"] - 300)
        for chunk in np.array_split(sent, 20):
            await ws.send_bytes(chunk.astype("<i2").tobytes())
        await audio_taken_in(gateway, len(sent))

    # the utterance is closed by the disconnect, transcribed and handed to the outputs all the same
    def delivered_and_closed() -> bool:
        utterances = gateway.metric("mediagw_utterances_total", ingress="websocket")
        return utterances >= 1 and gateway.metric("mediagw_open_streams", ingress="websocket") == 0

    await eventually(delivered_and_closed, what="the utterance delivered and the stream closed")
    async with aiohttp.ClientSession() as session, session.get(f"{gateway.base_url}/metrics") as response:
        text = await response.text()
    assert 'mediagw_utterances_total{ingress="websocket"} 1.0' in text
    assert 'mediagw_open_streams{ingress="websocket"} 0.0' in text


async def test_unexpected_failure_ends_the_stream_with_5000(gateway: GatewayThread) -> None:
    from mediagw.pipeline import StreamPipeline

    original = StreamPipeline.push

    def broken_push(self: StreamPipeline, samples: np.ndarray) -> None:
        raise RuntimeError("injected fault")

    StreamPipeline.push = broken_push  # type: ignore[method-assign]
    try:
        final = await expect_final(gateway, START, b"\x00\x00" * 160)
    finally:
        StreamPipeline.push = original  # type: ignore[method-assign]
    assert final["status"] == {"code": "5000", "description": "Internal service error"}


async def test_health_and_metrics(gateway: GatewayThread, call_audio: Any) -> None:
    samples, script = channel_of(call_audio["billing"], "customer")
    audio = clip(samples, 0, script[0]["end"] + 800)
    chunks = [c.astype("<i2").tobytes() for c in np.array_split(audio, 20)]
    await expect_final(gateway, START, *chunks, {"message": "finishStream"})
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gateway.base_url}/v1/health") as response:
            assert response.status == 200
            health = await response.json()
            assert health["healthCheck"] == "SUCCESS"
            assert health["asr"] == {"model": "bundled", "languages": ["en-US"]}  # what a start may name
        async with session.get(f"{gateway.base_url}/metrics") as response:
            text = await response.text()
    assert 'mediagw_utterances_total{ingress="websocket"} 1.0' in text
    assert "mediagw_asr_latency_seconds_count 1.0" in text
    assert 'mediagw_open_streams{ingress="websocket"} 0.0' in text
    assert "mediagw_asr_queue_depth 0.0" in text


async def test_spike_arrest_answers_429_in_the_documented_shape(gateway_factory: Any) -> None:
    gateway = gateway_factory(auth={"requests_per_second": 5.0})
    headers = {"asapp-api-id": API_ID, "asapp-api-secret": API_SECRET}
    async with aiohttp.ClientSession(headers=headers) as session:
        statuses = []
        for _ in range(8):
            async with session.post(f"{gateway.base_url}/autotranscribe/v1/streaming-url") as response:
                statuses.append(response.status)
                if response.status == 429:
                    body = await response.json()
    assert statuses[:5] == [200] * 5 and statuses.count(429) >= 2  # a refill may let one more through
    assert body["error"]["code"] == "429-01" and body["error"]["requestId"]

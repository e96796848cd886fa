"""A stream's language end to end: startStream, start-streaming and the media's own (AudioHook, Twilio) reach the
decoder; a language the loaded model cannot do is refused with the reference's code, never decoded as English."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
import numpy as np
import pytest

from asr.recognizer import Recognizer
from mediagw.config import AudioHookKey
from mediagw.evaluation import word_error_rate
from mediagw.simulators.audiohook import play_session
from mediagw.simulators.direct_ws import stream_audio, streaming_url
from mediagw.simulators.twilio import call_sid, media_stream_url, play_call, stereo_tracks
from tests.e2e import api
from tests.e2e.api import by_start
from tests.e2e.masking import assert_masked
from tests.gateway import API_ID, API_SECRET, GatewayThread

pytestmark = pytest.mark.e2e
SPANISH_CARD = "4539148803436467"  # what the Spanish call's customer reads out
AUDIOHOOK_KEY = AudioHookKey("genesys-key", "c2VjcmV0LXNoYXJlZC13aXRoLWdlbmVzeXM=")
AUDIOHOOK_PATH = "/mg-genesysaudiohook-autotranscribe/"


@pytest.fixture
def multilingual_gateway(gateway_factory: Any, multilingual_recognizer: Recognizer) -> GatewayThread:
    gateway: GatewayThread = gateway_factory(model=multilingual_recognizer, audiohook={"api_keys": (AUDIOHOOK_KEY,)})
    return gateway


@pytest.fixture
def english_gateway(gateway_factory: Any) -> GatewayThread:
    gateway: GatewayThread = gateway_factory(audiohook={"api_keys": (AUDIOHOOK_KEY,)})
    return gateway


def customer(spanish_call: Any) -> tuple[np.ndarray, list[str]]:
    channels, script = spanish_call
    said = [u["text"] for u in script["utterances"] if u["role"] == "customer"]
    return channels[script["channels"].index("customer")], said


async def stream_spanish(gateway: GatewayThread, samples: np.ndarray, language: str) -> Any:
    fields = {"language": language, "redactionOutput": "redacted_and_unredacted"}
    async with aiohttp.ClientSession() as session:
        url = await streaming_url(session, gateway.base_url, API_ID, API_SECRET, f"es-{uuid.uuid4()}")
        return await stream_audio(session, url, samples, start_fields=fields, realtime=False)


async def test_a_spanish_stream_is_transcribed_in_spanish_with_its_card_masked(
    multilingual_gateway: GatewayThread, spanish_call: Any
) -> None:
    samples, said = customer(spanish_call)
    result = await stream_spanish(multilingual_gateway, samples, "es-US")
    assert result.final_response is not None and result.final_response["status"]["code"] == "1000"
    heard = [t["utterance"][0]["unredactedText"] for t in result.transcripts]
    wer = word_error_rate(said, heard, "es")
    assert wer <= 0.6, (wer, heard)  # measured 0.35 (espeak-ng through mu-law: base is weak on it)
    # The card, whether the model wrote digits (the fail-safe digit-run mask, every language) or Spanish number
    # words ("cuatro cinco tres nueve": the Spanish text stage's ITN)
    assert_masked(" ".join(t["utterance"][0]["text"] for t in result.transcripts), SPANISH_CARD, "es")
    async with aiohttp.ClientSession() as session, session.get(f"{multilingual_gateway.base_url}/v1/health") as r:
        health = await r.json()
    assert health["asr"]["model"] == "bundled-multilingual"
    assert {"en-US", "es-US"} <= set(health["asr"]["languages"])


async def test_the_same_stream_on_tiny_en_is_refused_with_4050(
    english_gateway: GatewayThread, spanish_call: Any
) -> None:
    samples, _ = customer(spanish_call)
    result = await stream_spanish(english_gateway, samples[: 8000 * 2], "es-US")
    assert result.final_response is not None and result.final_response["status"]["code"] == "4050"
    assert result.transcripts == [] and english_gateway.metric("mediagw_errors_total", code="4050") == 1


async def play_audiohook(
    gateway: GatewayThread, spanish_call: Any, language: str, start: dict[str, Any], updates: tuple[Any, ...] = ()
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """An AudioHook session opened in `language`; start-streaming (with `start`'s autotranscribeParams) once opened."""
    channels, script = spanish_call
    audio = np.stack([channels[script["channels"].index(r)] for r in ("customer", "agent")], axis=1)
    conversation = str(uuid.uuid4())
    answer: dict[str, Any] = {}
    body = {"namespace": "genesysaudiohook", "guid": conversation, "customerId": "c-1", "agentId": "a-1", **start}
    async with aiohttp.ClientSession() as session:

        async def started() -> None:
            answer.update(await api.control(session, gateway, "start", body))

        url = gateway.base_url.replace("http://", "ws://") + AUDIOHOOK_PATH
        await play_session(
            session,
            url,
            audio,
            conversation_id=conversation,
            api_key=AUDIOHOOK_KEY.key,
            client_secret=AUDIOHOOK_KEY.client_secret,
            realtime=False,
            on_opened=started,
            language=language,
            language_updates=updates,
        )
        if answer.get("isOk"):
            await api.control(session, gateway, "stop", {"namespace": "genesysaudiohook", "guid": conversation})
        stored = by_start(await api.messages(session, gateway, conversation))  # stop-streaming flushed them all
    return answer, stored


@pytest.mark.parametrize(
    ("opened_in", "updates"),
    [("es-US", ()), ("en-US", ((0.5, "es-US"),))],  # named at open, or by an `update` before the first words end
    ids=["open", "update"],
)
async def test_audiohook_names_the_language_when_the_start_names_none(
    multilingual_gateway: GatewayThread, spanish_call: Any, opened_in: str, updates: tuple[Any, ...]
) -> None:
    unredacted = {"autotranscribeParams": {"redactionOutput": "redacted_and_unredacted"}}  # no language named
    answer, stored = await play_audiohook(multilingual_gateway, spanish_call, opened_in, unredacted, updates)
    assert answer["status"] == 200 and answer["isOk"]
    _, script = spanish_call
    for role, bound in (("customer", 0.6), ("agent", 0.8)):  # measured 0.23 and 0.52 (the agent's voice is harder)
        said = [u["text"] for u in script["utterances"] if u["role"] == role]
        heard = [
            m["autotranscribeResponse"]["utterance"][0]["unredactedText"] for m in stored if m["sender"]["role"] == role
        ]
        wer = word_error_rate(said, heard, "es")
        assert wer <= bound, (role, wer, heard)  # decoded as English, the same audio scores above 1.0


async def test_a_media_language_the_model_cannot_do_refuses_start_streaming(
    english_gateway: GatewayThread, spanish_call: Any
) -> None:
    short = ([c[: 8000 * 2] for c in spanish_call[0]], spanish_call[1])
    refused, stored = await play_audiohook(english_gateway, short, "es-US", {})
    assert refused["status"] == 400 and refused["error"]["code"] == "400-202", refused
    assert "es-US" in refused["error"]["message"] and stored == []
    named, _ = await play_audiohook(english_gateway, short, "es-US", {"autotranscribeParams": {"language": "en-US"}})
    assert named["status"] == 200  # the start's own language is what is transcribed


async def test_a_twilio_language_parameter_is_the_calls_language(english_gateway: GatewayThread) -> None:
    silence = np.zeros(8000 * 2, dtype=np.int16)
    tracks = stereo_tracks([silence, silence], ["customer", "agent"])
    sid, answer = call_sid(), {}
    async with aiohttp.ClientSession() as session:
        url = await media_stream_url(session, english_gateway.base_url, API_ID, API_SECRET)

        async def start() -> None:
            body = {"namespace": "twilio", "guid": sid, "customerId": "c-1", "agentId": "a-1"}
            answer.update(await api.control(session, english_gateway, "start", body))

        await play_call(
            session, url, tracks, sid, realtime=False, on_started=start, custom_parameters={"language": "es-MX"}
        )
    assert answer["status"] == 400 and answer["error"]["code"] == "400-202", answer

"""Spoken names and addresses (espeak-ng and flite voices) over the direct WebSocket API with NAME, ADDRESS,
ZIP and LOCATION turned on through the configuration API: none of their words reaches the client, the store
or a webhook unmasked, in either party's utterances, whatever the model heard (tests/fixtures/names)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import soundfile

from mediagw.outputs.webhooks import WebhookTarget
from mediagw.simulators.direct_ws import stream_audio, streaming_url
from mediagw.simulators.webhook_receiver import Receiver
from redaction import ner
from tests.e2e.api import HEADERS, messages
from tests.gateway import API_ID, API_SECRET, GatewayThread
from tests.waits import eventually

pytestmark = pytest.mark.e2e
CLIPS = Path(__file__).resolve().parent.parent / "fixtures" / "names"
INDEX = {clip["name"]: clip for clip in json.loads((CLIPS / "clips.json").read_text())}
# The conversations: the agent asks, the customer answers, the agent says the name back.
CALLS = {"names-1": ("ask", "answer-espeak", "thanks"), "names-2": ("answer-flite",)}
ENTITIES = ("NAME", "ADDRESS", "ZIP", "LOCATION")


def shown(text: str, secrets: list[str]) -> list[str]:
    words = set(re.findall(r"[a-z0-9]+", text.lower().replace(",", "")))
    return [s for s in secrets if s in words]


async def turn_on(session: aiohttp.ClientSession, gateway: GatewayThread) -> None:
    base = f"{gateway.base_url}/configuration/v1/redaction"
    for entity in ENTITIES:
        async with session.patch(f"{base}/redaction-entity/{entity}", json={"active": True}, headers=HEADERS) as r:
            assert r.status == 200 and (await r.json())["active"] is True
    async with session.get(f"{base}/redaction-entities?details=true", headers=HEADERS) as response:
        listed = {e["id"]: e for e in (await response.json())["redactionEntities"]}
    assert len(listed) >= 50 and listed["NAME"]["needsModel"] is True and listed["NAME"]["category"] == "PII"


@pytest.mark.skipif(ner.installed_model() is None, reason="NAME and LOCATION need the `ner` extra")
async def test_spoken_names_and_addresses_never_leave_unmasked(gateway_factory: Any) -> None:
    receiver = await Receiver().start()
    gateway: GatewayThread = gateway_factory(
        webhooks={"targets": (WebhookTarget("hook", f"{receiver.url}/hook"),)},
        websocket_api={"publish_webhooks": True},
    )
    sent: list[tuple[str, str]] = []  # (clip, text) as the client got it
    try:
        async with aiohttp.ClientSession() as session:
            await turn_on(session, gateway)
            for conversation, clips in CALLS.items():
                for name in clips:
                    samples, _ = soundfile.read(CLIPS / f"{name}.ogg", dtype="int16")
                    url = await streaming_url(session, gateway.base_url, API_ID, API_SECRET, conversation)
                    role = INDEX[name]["role"]
                    result = await stream_audio(session, url, samples, role=role, realtime=False)
                    sent += [(name, t["utterance"][0]["text"]) for t in result.transcripts]
            stored = [m for c in CALLS for m in await messages(session, gateway, c)]
        await eventually(lambda: len(receiver.received), lambda n: n >= len(sent), what="every message posted")
    finally:
        await receiver.stop()
    secrets = sorted({s for clip in INDEX.values() for s in clip["secrets"]})
    assert len(sent) >= 4 and len(stored) == len(sent)  # the model heard every clip
    posted = [m["autotranscribeResponse"]["utterance"][0]["text"] for m in receiver.received]
    for text in [t for _, t in sent] + [m["text"] for m in stored] + posted:
        assert shown(text, secrets) == [], text
    for clip in ("answer-espeak", "answer-flite", "thanks"):  # heard, and masked (the agent saying the name back)
        assert any("#" in text for name, text in sent if name == clip), sent


async def test_turning_on_an_entity_that_needs_the_missing_model_is_refused(
    gateway: GatewayThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ner, "installed_model", lambda: None)
    base = f"{gateway.base_url}/configuration/v1/redaction"
    async with aiohttp.ClientSession(headers=HEADERS) as session:
        async with session.patch(f"{base}/redaction-entity/NAME", json={"active": True}) as response:
            assert response.status == 409
            error = (await response.json())["error"]
        assert error["code"] == "409-01" and "'ner' extra" in error["message"]
        async with session.patch(f"{base}/redaction-entity/IBAN", json={"active": True}) as response:
            assert response.status == 200  # a pattern entity needs no model
        async with session.get(f"{base}/redaction-entity/NOPE") as response:
            assert (
                response.status == 404
                and "known entities: CREDIT_CARD_NUMBER" in (await response.json())["error"]["message"]
            )

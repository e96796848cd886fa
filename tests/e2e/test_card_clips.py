"""Spoken card numbers through the gateway: whatever the model makes of them, no digit but a card's last four
reaches the client, the store or GET messages (clips from bench/card_clips.py: several voices, rates and
phrasings, no agent question before them)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import soundfile

from bench.card_clips import leaks
from mediagw.simulators.direct_ws import stream_audio, streaming_url
from tests.gateway import API_ID, API_SECRET, GatewayThread

pytestmark = pytest.mark.e2e
CLIPS = Path(__file__).resolve().parent.parent / "fixtures" / "cards"
INDEX = json.loads((CLIPS / "clips.json").read_text())
HEADERS = {"asapp-api-id": API_ID, "asapp-api-secret": API_SECRET}


async def test_no_spoken_card_number_leaks_a_digit(gateway: GatewayThread) -> None:
    async with aiohttp.ClientSession() as session:

        async def stream(clip: dict[str, Any]) -> list[str]:
            samples, _ = soundfile.read(CLIPS / f"{clip['name']}.ogg", dtype="int16")
            url = await streaming_url(session, gateway.base_url, API_ID, API_SECRET, f"card-{clip['name']}")
            result = await stream_audio(session, url, samples, realtime=False)
            return [t["utterance"][0]["text"] for t in result.transcripts]

        sent = await asyncio.gather(*(stream(clip) for clip in INDEX))
        stored = []
        for clip in INDEX:
            params = {"externalId": f"card-{clip['name']}"}
            url = f"{gateway.base_url}/conversation/v1/conversation/messages"
            async with session.get(url, params=params, headers=HEADERS) as response:
                stored.append([m["text"] for m in (await response.json())["messages"]])
    assert len(INDEX) >= 8 and len({c["voice"] for c in INDEX}) >= 6
    leaked = [(clip["name"], texts) for clip, texts in zip(INDEX, sent, strict=True) if leaks(clip["card"], texts)]
    assert leaked == []
    assert [(c["name"], t) for c, t in zip(INDEX, stored, strict=True) if leaks(c["card"], t)] == []
    assert sum(any("#" in text for text in texts) for texts in sent) >= len(INDEX) - 1  # the model heard digits

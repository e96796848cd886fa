"""The custom vocabulary API: create, page, get, delete, limits, kept across restarts, applied to recognition."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mediagw.simulators.direct_ws import stream_audio, streaming_url
from tests.conftest import channel_of, clip
from tests.gateway import API_ID, API_SECRET

pytestmark = pytest.mark.e2e
HEADERS = {"asapp-api-id": API_ID, "asapp-api-secret": API_SECRET}
PATH = "/configuration/v1/auto-transcribe/custom-vocabularies"


async def test_create_page_get_delete_and_limits(gateway_factory: Any, tmp_path: Path) -> None:
    gateway = gateway_factory(data_dir=tmp_path / "v")
    base = gateway.base_url + PATH
    async with aiohttp.ClientSession(headers=HEADERS) as session:
        ids = []
        for index in range(25):
            async with session.post(base, json={"phrase": f"Term{index}", "soundsLike": [f"term {index}"]}) as r:
                assert r.status == 200
                created = await r.json()
                assert created["phrase"] == f"Term{index}" and created["soundsLike"] == [f"term {index}"]
                ids.append(created["id"])
        async with session.get(base) as r:
            first = await r.json()
        assert [e["id"] for e in first["customVocabularies"]] == ids[:20]
        assert first["nextCursor"] == ids[20] and first["prevCursor"] is None
        async with session.get(base, params={"cursor": first["nextCursor"]}) as r:
            second = await r.json()
        assert [e["id"] for e in second["customVocabularies"]] == ids[20:]
        assert second["nextCursor"] is None and second["prevCursor"] == ids[0]
        async with session.get(f"{gateway.base_url}/configuration/v1/custom-vocabularies/{ids[3]}") as r:
            assert (await r.json())["phrase"] == "Term3"
        async with session.delete(f"{base}/{ids[3]}") as r:
            assert r.status == 204
        async with session.get(f"{base}/{ids[3]}") as r:
            assert r.status == 404 and (await r.json())["error"]["code"] == "404-01"
        for bad in (
            {"phrase": "X", "soundsLike": ["a"] * 6},
            {"phrase": "X", "soundsLike": ["a" * 41]},
            {"soundsLike": []},
        ):
            async with session.post(base, json=bad) as r:
                assert r.status == 400 and (await r.json())["error"]["code"] == "400-02"
    gateway.stop()
    restarted = gateway_factory(data_dir=tmp_path / "v")
    async with (
        aiohttp.ClientSession(headers=HEADERS) as session,
        session.get(restarted.base_url + PATH, params={"limit": "200"}) as r,
    ):
        assert len((await r.json())["customVocabularies"]) == 24


async def test_the_two_hundred_and_first_entry_is_refused(gateway_factory: Any) -> None:
    gateway = gateway_factory(auth={"requests_per_second": 0.0})  # no spike arrest for this burst
    async with aiohttp.ClientSession(headers=HEADERS) as session:
        for index in range(200):
            async with session.post(gateway.base_url + PATH, json={"phrase": f"P{index}"}) as r:
                assert r.status == 200
        async with session.post(gateway.base_url + PATH, json={"phrase": "one too many"}) as r:
            assert r.status == 400 and (await r.json())["error"]["code"] == "400-03"


async def test_a_created_entry_shapes_the_next_transcript(gateway: Any, call_audio: Any) -> None:
    samples, script = channel_of(call_audio["travel"], "agent")
    greeting = clip(samples, script[0]["start"] - 500, script[0]["end"] + 800)
    async with aiohttp.ClientSession(headers=HEADERS) as session:
        async with session.post(gateway.base_url + PATH, json={"phrase": "TravelDesk", "soundsLike": ["travel desk"]}):
            pass
        url = await streaming_url(session, gateway.base_url, API_ID, API_SECRET, "vocab-1")
        result = await stream_audio(session, url, greeting, role="agent", realtime=False)
    assert "TravelDesk" in result.transcripts[0]["utterance"][0]["text"]

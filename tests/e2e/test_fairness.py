"""A client that sends faster than real time is held to real time plus the burst allowance (its socket is read no
faster), loses nothing, and does not hold up another stream's transcripts."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from mediagw.simulators.direct_ws import stream_audio, streaming_url
from tests.conftest import channel_of, clip
from tests.gateway import API_ID, API_SECRET

pytestmark = pytest.mark.e2e
BURST_S = 1.0
FLOOD_S = 6.0


async def test_a_flooding_client_is_held_near_real_time_while_another_stream_gets_its_transcript_promptly(
    gateway_factory: Any, call_audio: Any
) -> None:
    gateway = gateway_factory(limits={"realtime_burst_s": BURST_S})
    agent, _ = channel_of(call_audio["billing"], "agent")
    customer, said = channel_of(call_audio["billing"], "customer")
    flood = agent[: int(FLOOD_S * 8000)]
    utterance = said[0]  # 6735-10475 ms: played on time from 500 ms before it
    other_audio = clip(customer, utterance["start"] - 500, utterance["end"] + 1000)
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as session:
        flood_url = await streaming_url(session, gateway.base_url, API_ID, API_SECRET, "flood")
        other_url = await streaming_url(session, gateway.base_url, API_ID, API_SECRET, "on-time")

        async def flooder() -> tuple[Any, float]:
            began = loop.time()
            result = await stream_audio(session, flood_url, flood, realtime=False)
            return result, loop.time() - began

        (flooded, flood_took), other = await asyncio.gather(
            flooder(), stream_audio(session, other_url, other_audio, realtime=True)
        )

    # 6 s of audio sent at once: the gateway took it no faster than real time after the 1 s burst, all of it
    assert flooded.final_response is not None
    assert flooded.final_response["summary"]["totalAudioBytes"] == len(flood) * 2
    assert FLOOD_S - BURST_S - 0.3 <= flood_took <= FLOOD_S + 10, flood_took
    assert flooded.transcripts, "the flooder's speech was transcribed too"
    # the on-time stream's utterance came back promptly after it was said
    assert len(other.transcripts) == 1, other.transcripts
    spoken_end = other.sent_at(500 + utterance["end"] - utterance["start"])
    assert other.received_at[0] - spoken_end < 2.5, other.received_at[0] - spoken_end

"""Speculative decode and the adaptive end of utterance over the direct WebSocket API, at real-time pace with
the real model: a finished sentence is answered well before the configured wait, a digit group read after the
speaker named a card waits longer."""

from __future__ import annotations

from typing import Any

import aiohttp
import numpy as np
import pytest

from mediagw.simulators.direct_ws import stream_audio, streaming_url
from tests.conftest import channel_of, clip
from tests.gateway import API_ID, API_SECRET

pytestmark = pytest.mark.e2e

WAIT_MS, FINISHED_MS, OPEN_MS = 2000, 200, 3000  # a long default wait, so that adapting it shows in the timing


async def test_a_finished_sentence_closes_early_and_a_digit_group_waits_longer(
    gateway_factory: Any, call_audio: Any
) -> None:
    gateway = gateway_factory(
        segmenter={"end_silence_ms": WAIT_MS, "end_silence_finished_ms": FINISHED_MS, "end_silence_open_ms": OPEN_MS}
    )
    samples, script = channel_of(call_audio["billing"], "customer")
    # "Great, can you refund it to my card?" / "Sure, it is 4527813.": digits one by one, after naming a card
    sentence, digits = script[2], script[1]
    first = clip(samples, sentence["start"] - 400, sentence["end"] + 1500)
    second = clip(samples, digits["start"] - 400, digits["end"] + OPEN_MS + 700)
    ends = [len(first) // 8 - 1500, len(first) // 8 + 400 + digits["end"] - digits["start"]]
    async with aiohttp.ClientSession() as session:
        url = await streaming_url(session, gateway.base_url, API_ID, API_SECRET, "speculative")
        result = await stream_audio(session, url, np.concatenate([first, second]), chunk_ms=20, realtime=True)
    assert result.final_response is not None and result.final_response["status"]["code"] == "1000"
    print(
        "SPEC",
        {
            o: gateway.metric("mediagw_speculative_decodes_total", outcome=o)
            for o in ("used", "wasted", "withdrawn", "skipped")
        },
        gateway.metric("mediagw_utterances_dropped_total", reason="no_speech"),
    )
    assert len(result.transcripts) == 2
    latency_ms = [1000 * (at - result.sent_at(end)) for at, end in zip(result.received_at, ends, strict=True)]
    # the sentence: speculated ~100 ms after the VAD's end, closed once decoded, not after WAIT_MS
    assert latency_ms[0] < WAIT_MS - 500, latency_ms
    # the digit group: its speculative text stops mid-number, a card is under way, so the wait grew past WAIT_MS
    assert latency_ms[1] >= OPEN_MS - 150, latency_ms
    assert gateway.metric("mediagw_speculative_decodes_total", outcome="used") == 2

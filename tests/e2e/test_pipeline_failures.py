"""A text stage that fails on one utterance: the direct API answers it with 4080 and goes on; stop-streaming
still succeeds and counts the utterances that were delivered."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from mediagw.core.frames import Frame
from mediagw.postprocess import TextOutput, TextStage
from mediagw.simulators.direct_ws import stream_audio, streaming_url
from tests.conftest import channel_of
from tests.e2e.api import control
from tests.gateway import API_ID, API_SECRET, GatewayThread

pytestmark = pytest.mark.e2e
GUID = "00002542391662063156"
UNABLE = {"code": "4080", "description": "Unable to transcribe the audio"}


class FailsFirst:
    """The gateway's text stage, raising on its first utterance with the text in the message."""

    def __init__(self, stage: TextStage) -> None:
        self._stage = stage
        self.calls = 0
        self.turns = stage.turns
        self.number_expected = stage.number_expected

    def process(self, text: str, **settings: Any) -> TextOutput:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError(f"formatter choked on {text!r}")
        return self._stage.process(text, **settings)


def break_text_stage(gateway: GatewayThread) -> FailsFirst:
    stage = FailsFirst(gateway.services.text_stage)
    gateway.services.text_stage = stage  # type: ignore[assignment]
    return stage


async def test_the_direct_api_answers_a_failed_utterance_with_4080_and_goes_on(
    gateway: GatewayThread, call_audio: Any
) -> None:
    break_text_stage(gateway)
    samples, script = channel_of(call_audio["billing"], "customer")
    async with aiohttp.ClientSession() as session:
        url = await streaming_url(session, gateway.base_url, API_ID, API_SECRET, "call-4080")
        result = await stream_audio(session, url, samples, realtime=False)
    assert result.final_response is not None and result.final_response["status"]["code"] == "1000"
    failed, *delivered = result.transcripts
    assert failed == {
        "message": "transcript",
        "start": failed["start"],
        "end": failed["end"],
        "utterance": [],
        "status": UNABLE,
    }
    assert abs(failed["start"] - script[0]["start"]) <= 150
    assert len(delivered) == len(script) - 1 and all("status" not in t for t in delivered)
    assert result.final_response["summary"]["transcripts"] == len(script) - 1
    registry = gateway.services.metrics.registry
    assert registry.get_sample_value("mediagw_errors_total", {"code": "4080"}) == 1
    assert registry.get_sample_value("mediagw_utterance_failures_total", {"ingress": "websocket", "stage": "text"}) == 1


async def test_stop_streaming_succeeds_after_a_text_stage_failure(gateway: GatewayThread, call_audio: Any) -> None:
    stage = break_text_stage(gateway)
    call = gateway.attach("siprec", GUID)
    customer, script = channel_of(call_audio["billing"], "customer")
    start = {"namespace": "siprec", "guid": GUID, "customerId": "c-1", "agentId": "a-1"}
    async with aiohttp.ClientSession() as session:
        assert (await control(session, gateway, "start", start))["status"] == 200

        def push_all() -> None:
            for offset in range(0, len(customer), 160):
                call.feed("customer", Frame.of_pcm(offset, customer[offset : offset + 160]))

        gateway.call_soon(push_all)
        stopped = await control(session, gateway, "stop", {"namespace": "siprec", "guid": GUID})
    assert stopped["status"] == 200 and stopped["isOk"] is True, stopped
    assert stage.calls == len(script)
    assert stopped["autotranscribeResponse"]["customer"]["summary"]["transcripts"] == len(script) - 1

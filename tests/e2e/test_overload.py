"""A node whose ASR backlog is over asr.max_backlog refuses new streams with 5002, and takes them again once
the backlog is worked off. The backlog is built deterministically: the recognizer waits on a gate."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import numpy as np
import pytest

from asr.recognizer import Recognition, RecognitionRequest
from mediagw.simulators.direct_ws import stream_audio, streaming_url
from tests.e2e.api import control
from tests.gateway import API_ID, API_SECRET, GatewayThread, make_config

pytestmark = pytest.mark.e2e
GUID = "00002542391662063156"
NO_INSTANCES = {"code": 5002, "description": "No instances available"}


class GatedRecognizer:
    """Stands in for the model: every decode waits until the gate opens."""

    languages = ["en"]
    model_name, model_path, device = "gated", "gated", "cpu"

    def __init__(self) -> None:
        self.gate = threading.Event()

    def recognize_batch(self, batch: list[RecognitionRequest]) -> list[Recognition]:
        self.gate.wait(60)
        return [Recognition("hello there") for _ in batch]


@pytest.fixture
def gated(tmp_path: Path) -> Iterator[tuple[GatewayThread, GatedRecognizer]]:
    recognizer = GatedRecognizer()
    config = make_config(tmp_path, asr={"max_backlog": 1, "max_batch": 1})  # two workers, one utterance each
    gateway = GatewayThread(config, recognizer).start()  # type: ignore[arg-type]
    try:
        yield gateway, recognizer
    finally:
        recognizer.gate.set()
        gateway.stop()


async def wait_for_backlog(gateway: GatewayThread, wanted: int, within_s: float = 10.0) -> None:
    pool = gateway.services.pool
    assert pool is not None
    deadline = time.monotonic() + within_s
    while pool.backlog != wanted:
        assert time.monotonic() < deadline, f"backlog {pool.backlog}, wanted {wanted}"
        await asyncio.sleep(0.01)


def queue_utterances(gateway: GatewayThread, count: int) -> None:
    services = gateway.services
    assert services.pool is not None
    pool = services.pool

    def submit() -> None:
        for index in range(count):
            request = RecognitionRequest(np.zeros(8000, dtype=np.int16))
            services.tasks.keep(pool.transcribe(request), name=f"load-{index}")

    gateway.call_soon(submit)


async def test_new_streams_are_refused_with_5002_while_the_backlog_is_over_the_bound(
    gated: tuple[GatewayThread, GatedRecognizer],
) -> None:
    gateway, recognizer = gated
    call = gateway.attach("siprec", GUID).media
    start = {"namespace": "siprec", "guid": GUID, "customerId": "c-1", "agentId": "a-1"}
    queue_utterances(gateway, 5)
    await wait_for_backlog(gateway, 3)  # two workers hold one each, three wait: over the bound of 1

    async with aiohttp.ClientSession() as session:
        refused = await control(session, gateway, "start", start)
        url = await streaming_url(session, gateway.base_url, API_ID, API_SECRET, "call-5002")
        direct = await stream_audio(session, url, np.zeros(1600, dtype=np.int16), realtime=False)
        assert not call.transcribing

        recognizer.gate.set()
        await wait_for_backlog(gateway, 0)
        started = await control(session, gateway, "start", start)
        stopped = await control(session, gateway, "stop", {"namespace": "siprec", "guid": GUID})

    assert refused["status"] == 200 and refused["isOk"] is False, refused
    streams = refused["autotranscribeResponse"]
    assert set(streams) == {"customer", "agent"}
    assert all(entry["status"] == NO_INSTANCES and entry["streamId"] for entry in streams.values())
    assert direct.start_response == {
        "message": "startResponse",
        "status": {"code": "5002", "description": "No instances available"},
    }
    assert direct.final_response is not None
    assert direct.final_response["status"] == {"code": "5002", "description": "No instances available"}
    assert direct.transcripts == []

    assert started["status"] == 200 and started["isOk"] is True, started
    for role in ("customer", "agent"):  # the refused start named the streams this start opens
        assert started["autotranscribeResponse"][role]["streamId"] == streams[role]["streamId"]
    assert stopped["status"] == 200
    registry = gateway.services.metrics.registry
    assert registry.get_sample_value("mediagw_errors_total", {"code": "5002"}) == 2

"""Amazon Connect end to end: start-streaming starts a boto3 GetMedia reader against a local KVS endpoint."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mediagw.evaluation import word_error_rate
from mediagw.simulators.kvs_endpoint import KvsEndpoint, KvsFragment, KvsStream
from tests.e2e.api import HEADERS, by_start, control, messages
from tests.e2e.kvs import ARN, customer_bytes, fragment_read, reader_done, start_body, stop_body
from tests.gateway import GatewayThread


@pytest.fixture
def gateway(gateway_factory: Any, kvs: KvsEndpoint) -> GatewayThread:
    started: GatewayThread = gateway_factory(amazon_connect={"endpoint_url": kvs.base_url, "retry_initial_s": 0.05})
    return started


async def transcribe(gateway: GatewayThread, contact: str, body: dict[str, Any]) -> list[Any]:
    """start-streaming, the whole stream read, stop-streaming: the contact's stored messages in call time."""
    async with aiohttp.ClientSession() as session:
        assert (await control(session, gateway, "start", body))["status"] == 200
        await reader_done(gateway, contact)
        assert (await control(session, gateway, "stop", stop_body(contact)))["status"] == 200
        return by_start(await messages(session, gateway, contact))


@pytest.mark.parametrize("fault", [None, "drop"])
async def test_a_contact_is_transcribed_from_kvs_and_a_dropped_connection_resumes_without_gap_or_duplicate(
    gateway: GatewayThread, kvs: KvsEndpoint, billing_fragments: list[KvsFragment], call_audio: Any, fault: str | None
) -> None:
    _, script = call_audio["billing"]
    kvs.streams[ARN] = KvsStream(ARN, billing_fragments, faults=[fault] if fault else [])
    contact = str(uuid.uuid4())
    messages = await transcribe(gateway, contact, start_body(contact))
    expected = script["utterances"]
    assert len(messages) == len(expected)
    assert word_error_rate([u["text"] for u in expected], [m["text"] for m in messages]) <= 0.2
    for message, utterance in zip(messages, expected, strict=True):
        assert message["sender"]["role"] == utterance["role"]
        assert abs(message["autotranscribeResponse"]["start"] - utterance["start"]) <= 150
    if fault:
        resumed = kvs.requests[-1]["StartSelector"]
        assert resumed["StartSelectorType"] == "FRAGMENT_NUMBER"  # reconnected after the last whole fragment
        assert resumed["AfterFragmentNumber"] == billing_fragments[0].number


async def test_the_sample_lambdas_start_and_stop_a_contact(
    gateway: GatewayThread, kvs: KvsEndpoint, billing_fragments: list[KvsFragment], monkeypatch: pytest.MonkeyPatch
) -> None:
    lambdas = _load_lambdas()
    kvs.streams[ARN] = KvsStream(ARN, billing_fragments[:3])
    monkeypatch.setenv("MEDIAGW_URL", gateway.base_url)
    monkeypatch.setenv("ASAPP_API_ID", HEADERS["asapp-api-id"])
    monkeypatch.setenv("ASAPP_API_SECRET", HEADERS["asapp-api-secret"])
    contact = str(uuid.uuid4())
    event = {
        "Details": {
            "ContactData": {
                "ContactId": contact,
                "CustomerEndpoint": {"Address": "+15555550100", "Type": "TELEPHONE_NUMBER"},
                "Attributes": {"agentId": "agent-7"},
                "MediaStreams": {
                    "Customer": {
                        "Audio": {
                            "StreamARN": ARN,
                            "StartFragmentNumber": billing_fragments[0].number,
                            "StartTimestamp": "1700000000000",
                        }
                    }
                },
            }
        }
    }
    assert await asyncio.to_thread(lambdas["start"].lambda_handler, event, None) == {"result": "ok"}
    await reader_done(gateway, contact)
    assert await asyncio.to_thread(lambdas["stop"].lambda_handler, event, None) == {"result": "ok"}
    request = kvs.requests[-1]["StartSelector"]
    assert request == {"StartSelectorType": "FRAGMENT_NUMBER", "AfterFragmentNumber": billing_fragments[0].number}
    audio = event["Details"]["ContactData"]["MediaStreams"]["Customer"]["Audio"]
    audio["StreamARN"] = ARN.replace("connect-contact-stream", "never-streamed")
    event["Details"]["ContactData"]["ContactId"] = str(uuid.uuid4())
    assert await asyncio.to_thread(lambdas["start"].lambda_handler, event, None) == {"result": "failed"}


def _load_lambdas() -> dict[str, Any]:
    import importlib.util
    import sys

    folder = Path(__file__).resolve().parents[2] / "samples" / "amazon-connect"
    sys.path.insert(0, str(folder))  # stop_streaming imports start_streaming, as in its Lambda package
    try:
        modules = {}
        for name in ("start", "stop"):
            spec = importlib.util.spec_from_file_location(f"{name}_streaming", folder / f"{name}_streaming.py")
            assert spec is not None and spec.loader is not None
            modules[name] = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(modules[name])
        return modules
    finally:
        sys.path.remove(str(folder))


async def test_stop_then_start_resumes_after_the_last_fragment_with_every_sample_once(
    gateway: GatewayThread, kvs: KvsEndpoint, billing_fragments: list[KvsFragment]
) -> None:
    kvs.streams[ARN] = KvsStream(ARN, billing_fragments)
    sent = customer_bytes(billing_fragments)
    contact = str(uuid.uuid4())
    stop = stop_body(contact)
    async with aiohttp.ClientSession() as session:
        assert (await control(session, gateway, "start", start_body(contact)))["status"] == 200
        await fragment_read(gateway, contact, billing_fragments[6])  # 14 s of the 42 s call, at 10x
        first = await control(session, gateway, "stop", stop)
        assert (await control(session, gateway, "start", start_body(contact)))["status"] == 200
        await reader_done(gateway, contact)
        second = await control(session, gateway, "stop", stop)
    resumed = kvs.requests[-1]["StartSelector"]
    assert resumed["StartSelectorType"] == "FRAGMENT_NUMBER"
    assert resumed["AfterFragmentNumber"] in {f.number for f in billing_fragments[:-1]}
    assert first["status"] == second["status"] == 200
    total = second["autotranscribeResponse"]["customer"]["summary"]["totalAudioBytes"]
    assert total == sent  # every customer sample once: no gap, no duplicate across the stop

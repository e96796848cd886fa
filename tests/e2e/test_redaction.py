"""Redaction end to end: real speech over the WebSocket API, both parties' streams sharing one conversation."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mediagw.evaluation import word_error_rate
from mediagw.simulators.direct_ws import StreamResult, stream_audio, streaming_url
from tests.conftest import channel_of, clip
from tests.e2e.masking import assert_masked, assert_shown
from tests.gateway import API_ID, API_SECRET, GatewayThread

pytestmark = pytest.mark.e2e
HEADERS = {"asapp-api-id": API_ID, "asapp-api-secret": API_SECRET}


async def say(
    gateway: GatewayThread, call: Any, role: str, index: int, conversation: str, **fields: Any
) -> StreamResult:
    samples, script = channel_of(call, role)
    utterance = script[index]
    audio = clip(samples, utterance["start"] - 500, utterance["end"] + 800)
    async with aiohttp.ClientSession() as session:
        url = await streaming_url(session, gateway.base_url, API_ID, API_SECRET, conversation)
        return await stream_audio(session, url, audio, role=role, realtime=False, start_fields=fields)


async def test_the_agents_question_gets_the_customers_card_number_redacted(
    gateway: GatewayThread, call_audio: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    travel = call_audio["travel"]
    asked = await say(gateway, travel, "agent", 3, "travel-1")  # "... Would you like to pay by card?"
    answer = await say(gateway, travel, "customer", 3, "travel-1")  # "Yes, the number is 4111 1111 1111 1111."
    _, agent = channel_of(travel, "agent")
    assert word_error_rate([agent[3]["text"]], [asked.transcripts[0]["utterance"][0]["text"]]) <= 0.3
    assert_masked(answer.transcripts[0]["utterance"][0]["text"])
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    # the card's digit groups, not the same digits inside a port number or a duration
    assert not re.search(r"(?<!\d)(?:4111|1111)(?!\d)|4111111|one one", logged), "unredacted text reached the logs"


async def test_redacted_and_unredacted_carries_both_texts(gateway: GatewayThread, call_audio: Any) -> None:
    result = await say(
        gateway, call_audio["travel"], "customer", 3, "travel-2", redactionOutput="redacted_and_unredacted"
    )
    utterance = result.transcripts[0]["utterance"][0]
    assert set(utterance) == {"text", "unredactedText"}
    assert_masked(utterance["text"])
    assert_shown(utterance["unredactedText"])


async def test_unredacted_output_is_formatted_but_not_masked(gateway: GatewayThread, call_audio: Any) -> None:
    result = await say(gateway, call_audio["travel"], "customer", 3, "travel-3", redactionOutput="unredacted")
    utterance = result.transcripts[0]["utterance"][0]
    assert set(utterance) == {"text"}
    assert_shown(utterance["text"])


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"smartFormatting": False}, "4092"),
        ({"smartFormatting": False, "redactionOutput": "redacted_and_unredacted"}, "4092"),
        ({"detailedToken": True}, "4093"),
    ],
)
async def test_redaction_rules_of_the_reference(
    gateway: GatewayThread, call_audio: Any, fields: Any, code: str
) -> None:
    result = await say(gateway, call_audio["travel"], "customer", 0, "c", **fields)
    assert result.final_response is not None and result.final_response["status"]["code"] == code
    assert result.transcripts == []


async def test_always_redact_refuses_unredacted_streams(gateway_factory: Any, call_audio: Any) -> None:
    gateway = gateway_factory(redaction={"always_redact": True})
    for output, code in (("unredacted", "4094"), ("redacted_and_unredacted", "4094"), ("redacted", "1000")):
        result = await say(gateway, call_audio["travel"], "customer", 0, "c", redactionOutput=output)
        assert result.final_response is not None and result.final_response["status"]["code"] == code


async def test_configuration_api_lists_changes_and_keeps_entities(gateway_factory: Any, tmp_path: Path) -> None:
    data = tmp_path / "kept"
    gateway = gateway_factory(data_dir=data)
    base = f"{gateway.base_url}/configuration/v1/redaction"
    async with aiohttp.ClientSession(headers=HEADERS) as session:
        async with session.get(f"{base}/redaction-entities") as response:
            listing = await response.json()
        assert listing["nextCursor"] is None and listing["prevCursor"] is None
        assert {e["id"]: e["active"] for e in listing["redactionEntities"]}["EMAIL"] is False
        async with session.patch(f"{base}/redaction-entity/EMAIL", json={"active": True}) as response:
            assert response.status == 200
            assert await response.json() == {
                "id": "EMAIL",
                "name": "EMAIL",
                "active": True,
                "description": "It redacts any well-formed email address (abc@asapp.com)",
            }
        async with session.patch(f"{base}/redaction-entity/CVV", json={"active": False}) as response:
            assert response.status == 403
            assert (await response.json())["error"]["code"] == "403-01"
        async with session.get(f"{base}/redaction-entity/NOPE") as response:
            assert response.status == 404
        async with session.patch(f"{base}/redaction-entity/PIN", data="nope") as response:
            assert response.status == 400
        async with session.get(f"{gateway.base_url}/configuration/v1/redaction-entities?active=true") as response:
            active = [e["id"] for e in (await response.json())["redactionEntities"]]
        assert active == ["CREDIT_CARD_NUMBER", "CVV", "PASSWORD", "PIN", "SSN", "EMAIL"]
    async with aiohttp.ClientSession() as session, session.get(f"{base}/redaction-entities") as response:
        assert response.status == 401
    gateway.stop()
    restarted = gateway_factory(data_dir=data)
    async with (
        aiohttp.ClientSession(headers=HEADERS) as session,
        session.get(f"{restarted.base_url}/configuration/v1/redaction-entities/EMAIL") as response,
    ):
        assert (await response.json())["active"] is True

"""Two-party payment calls through Twilio and SIPREC with default redaction: no digit of the card (but its last
four), its security code or the PIN reaches the store, GET messages or a webhook, whatever the model heard
(calls from bench/payment_calls.py: two voices each, questions without question marks among them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import soundfile

from bench.payment_calls import PaymentCall, Turn, outcome, siprec_guid, through_siprec, through_twilio
from mediagw.outputs.webhooks import WebhookTarget
from mediagw.simulators.webhook_receiver import Receiver
from tests.e2e.test_siprec import srs_address
from tests.gateway import GatewayThread
from tests.waits import eventually

pytestmark = pytest.mark.e2e
CALLS = Path(__file__).resolve().parent.parent / "fixtures" / "payment_calls"


def load(index: int) -> tuple[Any, PaymentCall]:
    spec = json.loads((CALLS / "calls.json").read_text())[index]
    call = PaymentCall(**{**spec, "turns": tuple(Turn(**t) for t in spec["turns"])})
    audio, _ = soundfile.read(CALLS / f"{call.name}.ogg", dtype="int16")
    return audio, call


@pytest.mark.parametrize("ingress", ["twilio", "siprec"])
async def test_no_secret_of_a_payment_call_is_stored_or_posted(gateway_factory: Any, ingress: str) -> None:
    receiver = await Receiver().start()
    gateway: GatewayThread = gateway_factory(webhooks={"targets": (WebhookTarget("hook", f"{receiver.url}/hook"),)})
    audio, call = load(0 if ingress == "twilio" else 1)
    try:
        async with aiohttp.ClientSession() as session:
            if ingress == "twilio":
                stored = await through_twilio(session, gateway.base_url, audio, call)
            else:
                stored = await through_siprec(
                    session, gateway.base_url, srs_address(gateway), audio, call, siprec_guid(1)
                )
        await eventually(lambda: len(receiver.received), lambda n: n >= len(stored), what="every message posted")
    finally:
        await receiver.stop()
    assert len(stored) >= 6  # the model heard the call
    result = outcome(call, stored)
    assert not result["leaked"], result
    posted = [
        {"text": m["autotranscribeResponse"]["utterance"][0]["text"], "sender": m["sender"], **m}
        for m in receiver.received
    ]
    assert not outcome(call, [{**m, "autotranscribeResponse": m["autotranscribeResponse"]} for m in posted])["leaked"]
    assert sum("#" in m["text"] for m in stored) >= 2  # the card and the PIN at least were masked

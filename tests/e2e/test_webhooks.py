"""The webhook publisher against real receivers: order, failures, drops, retries, auth, isolation."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from mediagw.outputs.webhooks import TargetPublisher, WebhookAuth, WebhookTarget
from mediagw.simulators.direct_ws import stream_audio, streaming_url
from mediagw.simulators.webhook_receiver import Receiver
from tests.conftest import channel_of
from tests.gateway import API_ID, API_SECRET
from tests.waits import eventually

pytestmark = pytest.mark.e2e


class Recorded:
    def __init__(self) -> None:
        self.failures: list[tuple[str, str, str, int, str]] = []

    async def __call__(self, utterance_id: str, target: str, outcome: str, attempts: int, detail: str) -> None:
        self.failures.append((utterance_id, target, outcome, attempts, detail))


def body(stream: str, index: int) -> bytes:
    return json.dumps({"type": "transcript", "streamId": stream, "n": index}).encode()


async def publish_and_wait(publisher: TargetPublisher, messages: list[tuple[str, int]]) -> None:
    for stream, index in messages:
        publisher.publish(f"u-{stream}-{index}", stream, body(stream, index))
    await eventually(lambda: publisher.backlog, lambda backlog: backlog == 0, what="backlog delivered")


async def test_each_stream_arrives_in_order_with_the_secret_in_a_header_or_the_url() -> None:
    receiver = await Receiver().start()
    for secret_in in ("header", "query"):
        auth = WebhookAuth("secret", "X-Token", "t0ps3cret", secret_in)
        publisher = TargetPublisher(WebhookTarget("crm", f"{receiver.url}/hook", auth), Recorded(), lambda s: None)
        receiver.received.clear()
        await publish_and_wait(publisher, [(s, i) for i in range(20) for s in ("a", "b", "c")])
        await publisher.close()
        for stream in ("a", "b", "c"):
            assert [m["n"] for m in receiver.received if m["streamId"] == stream] == list(range(20))
        where = receiver.headers[-1] if secret_in == "header" else receiver.queries[-1]
        assert where.get("X-Token") == "t0ps3cret"
    await receiver.stop()


@pytest.mark.parametrize(
    ("mode", "outcome", "detail"),
    [("error", "failed", "HTTP 500"), ("hang", "timeout", "no answer"), ("reset", "error", "")],
)
async def test_failed_deliveries_are_recorded_and_dropped(mode: str, outcome: str, detail: str) -> None:
    receiver = await Receiver(mode=mode).start()
    recorded = Recorded()
    publisher = TargetPublisher(WebhookTarget("t", f"{receiver.url}/hook", timeout_s=0.3), recorded, lambda s: None)
    await publish_and_wait(publisher, [("a", 0), ("a", 1)])
    await publisher.close()
    await receiver.stop()
    assert [(f[0], f[2]) for f in recorded.failures] == [("u-a-0", outcome), ("u-a-1", outcome)]
    assert detail in recorded.failures[0][4]
    assert publisher.failed == 2 and publisher.sent == 0


async def test_a_full_backlog_drops_the_oldest_first() -> None:
    receiver = await Receiver(mode="hang").start()
    recorded = Recorded()
    target = WebhookTarget("slow", f"{receiver.url}/hook", timeout_s=30, max_backlog=5)
    publisher = TargetPublisher(target, recorded, lambda s: None)
    for index in range(12):
        publisher.publish(f"u{index}", f"s{index % 3}", body("x", index))
    assert publisher.backlog == 5 and publisher.dropped == 7
    await eventually(lambda: len(recorded.failures) >= 7, what="the drops recorded")
    assert [f[0] for f in recorded.failures] == [f"u{i}" for i in range(7)]
    assert all(f[2] == "dropped" for f in recorded.failures)
    await publisher.close()
    await receiver.stop()


async def test_retries_back_off_and_keep_order() -> None:
    receiver = await Receiver(mode="flaky", flaky_failures=2).start()
    target = WebhookTarget("r", f"{receiver.url}/hook", retry=True, max_attempts=3, backoff_s=0.01)
    publisher = TargetPublisher(target, Recorded(), lambda s: None)
    await publish_and_wait(publisher, [("a", 0), ("a", 1)])
    await publisher.close()
    await receiver.stop()
    assert [m["n"] for m in receiver.received] == [0, 1] and receiver.calls == 4


async def test_oauth2_client_credentials_fetched_cached_and_refreshed_on_401() -> None:
    receiver = await Receiver(mode="oauth").start()
    auth = WebhookAuth("oauth2", token_url=f"{receiver.url}/token", client_id="mg", client_secret="s3cret")
    publisher = TargetPublisher(WebhookTarget("o", f"{receiver.url}/hook", auth), Recorded(), lambda s: None)
    await publish_and_wait(publisher, [("a", i) for i in range(4)])
    await publisher.close()
    await receiver.stop()
    assert [m["n"] for m in receiver.received] == [0, 1, 2, 3]
    assert receiver.tokens_issued == 3  # one fetched, one rotated by the receiver, one fetched again after the 401


async def test_a_hanging_receiver_never_holds_up_the_stream_or_the_healthy_one(
    gateway_factory: Any, call_audio: Any
) -> None:
    healthy, hanging = await Receiver().start(), await Receiver(mode="hang").start()
    targets = (
        WebhookTarget("healthy", f"{healthy.url}/hook"),
        WebhookTarget("hanging", f"{hanging.url}/hook", timeout_s=60),
    )
    gateway = gateway_factory(webhooks={"targets": targets}, websocket_api={"publish_webhooks": True})
    samples, script = channel_of(call_audio["billing"], "customer")
    async with aiohttp.ClientSession() as session:
        url = await streaming_url(session, gateway.base_url, API_ID, API_SECRET, "hooked-1")
        result = await stream_audio(session, url, samples, realtime=False, external_id="cust-9")
    await eventually(lambda: len(healthy.received) >= len(script), what="every transcript at the healthy target")
    assert len(result.transcripts) == len(script)
    assert [m["autotranscribeResponse"] for m in healthy.received] == result.transcripts
    assert healthy.received[0] == {
        "type": "transcript",
        "externalConversationId": "hooked-1",
        "streamId": result.start_response["streamID"],
        "sender": {"externalId": "cust-9", "role": "customer"},
        "autotranscribeResponse": result.transcripts[0],
    }
    assert hanging.calls >= 1 and not hanging.received
    await healthy.stop()
    gateway.stop()
    await hanging.stop()

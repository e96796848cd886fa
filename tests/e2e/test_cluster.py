"""Two gateway nodes and two ASR workers (processes started as the README documents), one Redis, one PostgreSQL:
a SIPREC call's media on node A, its start and stop sent to node B and forwarded, the answers relayed unchanged,
concurrent requests on both nodes behaving as on one; node A SIGKILLed mid-call and the SRC's new INVITE to node B
continuing the call on the same stream ids with every utterance stored before the kill still there (and its
summary counting what node A had counted); Redis restarted mid-call."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest

from mediagw.core.lifecycle import COUNTS_EVERY_SAMPLES
from mediagw.evaluation import word_error_rate
from mediagw.simulators.siprec_call import SiprecCall
from tests.asr_workers import AsrWorkerProcess, write_config
from tests.cluster import GatewayNode, node_config
from tests.e2e.api import HEADERS, by_start
from tests.redis_server import RedisServer
from tests.waits import eventually, wait_until

pytestmark = pytest.mark.e2e
GUID = "00002542391662063777"
SIPREC_PARAMS = {"siprecParams": {"mediaLineOrder": "CUSTOMER_FIRST"}}
REMOTE_ASR = {"backend": "redis", "remote": {"deadline_s": 60, "visibility_timeout_s": 2, "heartbeat_s": 0.2}}
LINGER_S = 4.0
ENDED = "call ended at its linger deadline"
KILL_MS = 20000  # billing.flac: between the agent's third utterance and the customer's third


@pytest.fixture
def nodes(
    request: pytest.FixtureRequest, tmp_path: Path, redis_url: str, postgres_url: str
) -> Iterator[list[GatewayNode]]:
    """Nodes a and b with `asr.backend: redis`, and two `mediagw asr-worker` processes decoding for both (more
    settings by indirect parametrisation: {section: values})."""
    sections: dict[str, Any] = getattr(request, "param", {})
    workers = [AsrWorkerProcess(write_config(tmp_path / "worker.yaml", redis_url), f"worker{i}") for i in range(2)]
    started: list[GatewayNode] = []
    try:
        for name in ("a", "b"):
            config = node_config(tmp_path / f"{name}.yaml", name, redis_url, postgres_url, asr=REMOTE_ASR, **sections)
            started.append(GatewayNode(config, name).start())
        for node in started:
            wait_until(lambda n=node: live_workers(n) == 2, timeout_s=180, what=f"two workers seen by {node.name}")
        yield started
    finally:
        for node in started:
            node.stop()
        for worker in workers:
            worker.stop()
    for node in started:
        assert "Traceback" not in node.output(), node.output()[-4000:]
        assert "r3dis-s3cret" not in node.output()  # the Redis password never reaches a log


def live_workers(node: GatewayNode) -> int:
    with urllib.request.urlopen(f"{node.base_url}/v1/health", timeout=5) as response:
        return int(json.loads(response.read())["asr"]["workers"])


async def control(session: aiohttp.ClientSession, node: GatewayNode, kind: str, body: dict[str, Any]) -> Any:
    url = f"{node.base_url}/mg-autotranscribe/v1/{kind}-streaming"
    async with session.post(url, json=body, headers=HEADERS) as response:
        return {"status": response.status, **(await response.json())}


async def messages(session: aiohttp.ClientSession, node: GatewayNode, guid: str) -> list[dict[str, Any]]:
    url = f"{node.base_url}/conversation/v1/conversation/messages"
    async with session.get(url, params={"externalId": guid}, headers=HEADERS) as response:
        return list((await response.json())["messages"])


def stream_ids(answer: dict[str, Any]) -> dict[str, str]:
    return {role: each["streamId"] for role, each in answer["autotranscribeResponse"].items()}


async def start_when_recording(session: aiohttp.ClientSession, node: GatewayNode, body: dict[str, Any]) -> Any:
    """start-streaming once the recording is attached on its node (the INVITE's 200 comes before the ACK that
    attaches it; on one node the ACK is read first, across nodes not always)."""
    return await eventually(
        lambda: control(session, node, "start", body),
        lambda a: a["status"] != 400 or a["error"]["code"] != "400-203",
        what="start-streaming after the recording is attached",
    )


def codes(answers: list[dict[str, Any]]) -> list[str]:
    """Each answer's code, OK first."""
    return sorted(("OK" if a["status"] == 200 else a["error"]["code"] for a in answers), key=lambda c: c != "OK")


async def test_start_and_stop_sent_to_another_node_reach_the_call_and_come_back_unchanged(
    nodes: list[GatewayNode], call_audio: Any
) -> None:
    a, b = nodes
    channels, script = call_audio["billing"]
    start = {"namespace": "siprec", "guid": GUID, "customerId": "c-1", "agentId": "a-1", **SIPREC_PARAMS}
    async with aiohttp.ClientSession() as session, SiprecCall(a.srs, GUID) as call:
        assert await call.invite() == 200
        started = await start_when_recording(session, b, start)  # forwarded to A, which holds the media
        assert started["status"] == 200 and started["isOk"], started
        again = await asyncio.gather(control(session, a, "start", start), control(session, b, "start", start))
        assert codes(again) == ["409-201", "409-201"]  # as one node answers a second start
        for forged in ("1:00", f"{time.time():.3f}:{'0' * 64}", f"{time.time() - 300:.3f}:x"):
            url = f"{b.base_url}/mg-autotranscribe/v1/stop-streaming"
            headers = {**HEADERS, "X-Mediagw-Forwarded": forged}  # only a node of the cluster can sign a hop
            async with session.post(url, json={"namespace": "siprec", "guid": GUID}, headers=headers) as response:
                assert response.status == 401, await response.text()
        await call.play(np.stack(channels, axis=1), speed=8.0)
        stops = await asyncio.gather(
            *(control(session, node, "stop", {"namespace": "siprec", "guid": GUID}) for node in (b, a))
        )
        assert codes(stops)[0] == "OK" and codes(stops)[1] in ("409-201", "409-202"), stops  # exactly one stops it
        stopped = next(s for s in stops if s["status"] == 200)
        assert await call.bye() == 200
        stored = await messages(session, b, GUID)  # read back from the node that never held the media
    assert stream_ids(stopped) == stream_ids(started)
    expected = script["utterances"]
    in_time = by_start(stored)
    assert len(in_time) == len(expected)
    assert word_error_rate([u["text"] for u in expected], [m["text"] for m in in_time]) <= 0.2
    summaries = stopped["autotranscribeResponse"]
    assert sum(summaries[role]["summary"]["transcripts"] for role in ("customer", "agent")) == len(stored)
    assert all(summaries[role]["summary"]["audioDurationMs"] > 0 for role in ("customer", "agent"))


async def test_concurrent_starts_on_two_nodes_behave_as_on_one(nodes: list[GatewayNode]) -> None:
    a, b = nodes
    async with aiohttp.ClientSession() as session, SiprecCall(a.srs, GUID) as call:
        assert await call.invite() == 200
        await start_when_recording(session, a, {"namespace": "siprec", "guid": GUID, "customerId": "c", "agentId": "a"})
        assert (await control(session, a, "stop", {"namespace": "siprec", "guid": GUID}))["status"] == 200
        for round_ in range(5):
            start = {"namespace": "siprec", "guid": GUID, "customerId": "c-1", "agentId": f"a-{round_}"}
            answers = await asyncio.gather(*(control(session, n, "start", {**start, **SIPREC_PARAMS}) for n in (a, b)))
            assert codes(answers)[0] == "OK" and codes(answers)[1] in ("409-201", "409-202"), answers
            stops = await asyncio.gather(*(control(session, n, "stop", start) for n in (b, a)))
            assert codes(stops)[0] == "OK" and codes(stops)[1] in ("409-201", "409-202"), stops
        assert await call.bye() == 200


async def _recorded_on_a_then_a_killed(
    session: aiohttp.ClientSession, nodes: list[GatewayNode], audio: Any, script: Any, start: dict[str, Any]
) -> tuple[Any, list[dict[str, Any]], float]:
    """A SIPREC call on node A, started through node B, `audio` played; once B serves its first utterances
    (those that ended 1.5 s before the kill), node A is SIGKILLed. The start's answer, what B served, and when
    A was killed (time.monotonic())."""
    a, b = nodes
    before = [u for u in script["utterances"] if u["end"] < KILL_MS - 1500]
    async with SiprecCall(a.srs, GUID) as call:
        assert await call.invite() == 200
        started = await start_when_recording(session, b, start)
        assert started["status"] == 200, started
        await call.play(audio, speed=8.0)
        stored = await eventually(
            lambda: messages(session, b, GUID), lambda m: len(m) >= len(before), what="the first utterances"
        )
        a.kill()
        killed = time.monotonic()
    return started, stored, killed


async def test_node_a_killed_mid_call_the_new_invite_to_node_b_continues_on_the_same_streams(
    nodes: list[GatewayNode], call_audio: Any
) -> None:
    a, b = nodes
    channels, script = call_audio["billing"]
    audio = np.stack(channels, axis=1)
    cut = KILL_MS * 8
    start = {"namespace": "siprec", "guid": GUID, "customerId": "c-1", "agentId": "a-1", **SIPREC_PARAMS}
    async with aiohttp.ClientSession() as session:
        started, stored_before, _ = await _recorded_on_a_then_a_killed(session, nodes, audio[:cut], script, start)
        async with SiprecCall(b.srs, GUID) as call:  # the SRC's failover: the next SRS on its list
            assert await call.invite() == 200
            await call.play(audio[cut:], speed=8.0)
            stopped = await control(session, b, "stop", {"namespace": "siprec", "guid": GUID})
            assert await call.bye() == 200
        stored = await messages(session, b, GUID)
    assert stopped["status"] == 200, stopped
    assert stream_ids(stopped) == stream_ids(started)  # the same leg and streams
    ids = {m["id"] for m in stored}
    assert {m["id"] for m in stored_before} <= ids  # nothing stored before the kill is lost
    after = [m for m in stored if m["id"] not in {s["id"] for s in stored_before}]
    assert after, "nothing transcribed on node B after the failover"
    assert {m["streamId"] for m in after} <= set(stream_ids(started).values())
    expected_after = [u["text"] for u in script["utterances"] if u["start"] > KILL_MS]
    assert word_error_rate(expected_after, [m["text"] for m in by_start(after)]) <= 0.35
    # the summary counts node A's part too, as A last wrote it (every COUNTS_EVERY_SAMPLES of audio, so at least
    # that much): more than node B alone could have received
    alone_ms = (len(audio) - cut) // 8
    assert KILL_MS >= COUNTS_EVERY_SAMPLES // 8
    for role, each in stopped["autotranscribeResponse"].items():
        assert each["summary"]["audioDurationMs"] > alone_ms, (role, each, alone_ms)
        assert each["summary"]["totalAudioBytes"] > alone_ms * 16


@pytest.mark.parametrize("nodes", [{"limits": {"call_linger_s": LINGER_S}}], indirect=True)
@pytest.mark.parametrize("stop_first", [False, True], ids=["stop-after-deadline", "stop-before-deadline"])
async def test_node_a_killed_mid_call_with_no_new_invite_node_b_ends_the_call_at_its_deadline_once(
    nodes: list[GatewayNode], call_audio: Any, stop_first: bool
) -> None:
    """No SRS takes the call over: the call's deadline (limits.call_linger_s after node A's last heartbeat, plus
    its expiry) is in Redis, and node B ends it there, once. A stop, before the deadline or after it (transcription
    was on: the record stays for it), is answered by node B from the record with the summary A last wrote, as the
    node holding the media would have answered; then the call is over (400-203)."""
    a, b = nodes
    channels, script = call_audio["billing"]
    audio, cut = np.stack(channels, axis=1), KILL_MS * 8
    start = {"namespace": "siprec", "guid": GUID, "customerId": "c-1", "agentId": "a-1", **SIPREC_PARAMS}
    call_id = {"namespace": "siprec", "guid": GUID}
    async with aiohttp.ClientSession() as session:
        started, _, killed = await _recorded_on_a_then_a_killed(session, nodes, audio[:cut], script, start)
        stopped = None
        if stop_first:  # 500-201 while node A still looks alive (its liveness key lapses NODE_TTL_S after its beat)
            stopped = await eventually(
                lambda: control(session, b, "stop", call_id), lambda s: s["status"] != 500, what="A known dead"
            )
        await eventually(lambda: ENDED in b.output(), timeout_s=60, interval_s=0.1, what="the call ended by node B")
        assert time.monotonic() - killed >= LINGER_S  # not before its deadline
        stopped = stopped or await control(session, b, "stop", call_id)
        again = await control(session, b, "stop", call_id)
        restart = await control(session, b, "start", start)
    assert stopped["status"] == 200 and stopped["isOk"], stopped
    assert stream_ids(stopped) == stream_ids(started)
    for role, each in stopped["autotranscribeResponse"].items():  # node A's counts, as it last wrote them
        assert each["status"]["code"] == 1000
        assert each["summary"]["audioDurationMs"] >= COUNTS_EVERY_SAMPLES // 8, (role, each)
    assert again["status"] == 400 and again["error"]["code"] == "400-203", again  # the call is over
    assert restart["status"] == 400 and restart["error"]["code"] == "400-203", restart
    assert b.output().count(ENDED) == 1 and ENDED not in a.output()


async def health(session: aiohttp.ClientSession, node: GatewayNode) -> tuple[int, str]:
    async with session.get(f"{node.base_url}/v1/health") as response:
        body = await response.json()
        return response.status, " ".join(body.get("problems", [])) or body["healthCheck"]


async def test_redis_restarted_mid_call_health_fails_meanwhile_and_the_call_goes_on(
    nodes: list[GatewayNode], redis_server: RedisServer, call_audio: Any
) -> None:
    a, b = nodes
    channels, script = call_audio["billing"]
    audio, cut = np.stack(channels, axis=1), KILL_MS * 8
    start = {"namespace": "siprec", "guid": GUID, "customerId": "c-1", "agentId": "a-1", **SIPREC_PARAMS}
    async with aiohttp.ClientSession() as session, SiprecCall(a.srs, GUID) as call:
        assert await call.invite() == 200
        started = await start_when_recording(session, b, start)
        assert started["status"] == 200, started
        await call.play(audio[:cut], speed=8.0)
        before = [u for u in script["utterances"] if u["end"] < KILL_MS - 1500]
        # what was said so far is decoded first: an ASR job inside a Redis that restarts empty is lost with it
        stored_before = await eventually(
            lambda: messages(session, b, GUID), lambda m: len(m) >= len(before), what="decoded"
        )
        redis_server.stop()  # an empty Redis comes back (no persistence)
        for node in nodes:
            status, problems = await eventually(
                lambda n=node: health(session, n), lambda h: "call registry unreachable" in h[1], what="FAILED"
            )
            assert status == 503 and "call registry unreachable (Redis at 127.0.0.1:" in problems
            assert "r3dis" not in problems
        await call.play(audio[cut:], speed=8.0)  # media keeps flowing meanwhile
        redis_server.start()
        for node in nodes:
            await eventually(lambda n=node: health(session, n), lambda h: h[0] == 200, what="healthy again")
        stopped = await eventually(  # the node holding the media has put its call back into the empty Redis
            lambda: control(session, b, "stop", {"namespace": "siprec", "guid": GUID}),
            lambda s: s["status"] != 400,
            what="stop-streaming once the record is back",
        )
        assert await call.bye() == 200
        stored = await messages(session, b, GUID)
    assert stopped["status"] == 200, stopped
    assert stream_ids(stopped) == stream_ids(started)
    assert {m["id"] for m in stored_before} <= {m["id"] for m in stored}  # nothing stored is lost
    after = [m for m in by_start(stored) if m["autotranscribeResponse"]["start"] > KILL_MS]
    assert len(after) >= 2, stored  # the call went on through and after the outage
    assert "Redis unreachable" in a.output()

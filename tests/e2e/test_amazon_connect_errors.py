"""Amazon Connect bad input and faults: each ends or resumes only its own call's reader, with a clear status.

A stream that fails at once (unknown, denied, wrong codec or rate, no Connect track, corrupt) is answered by
start-streaming itself: isOk false and the reference's Application Status Code on both streams. One that fails
later reports it in stop-streaming's statuses. Transient faults (throttling, a dropped or cut body) resume after
the last whole fragment with every sample once. Meanwhile a good contact on the same gateway goes on.
"""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
import numpy as np
import pytest

from mediagw.simulators.kvs_endpoint import KvsEndpoint, KvsFragment, KvsStream
from tests.e2e.api import HEADERS, control
from tests.e2e.kvs import ARN, customer_bytes, fragment_read, fragments, reader_done, start_body, stop_body
from tests.fixtures.kvs.make_mkv import mux, to_get_media
from tests.gateway import GatewayThread

SILENCE = np.zeros(8000 * 4, np.int16)
ABSURD_BLOCK = bytes([0xA3, 0x01, 0x00, 0x10, 0, 0, 0, 0, 0])  # a SimpleBlock claiming 2^44 bytes
SEGMENT = b"\x18\x53\x80\x67"


@pytest.fixture
def gateway(gateway_factory: Any, kvs: KvsEndpoint) -> GatewayThread:
    config = {"endpoint_url": kvs.base_url, "retry_initial_s": 0.05, "max_retries": 2, "start_check_s": 3.0}
    started: GatewayThread = gateway_factory(amazon_connect=config)
    return started


def bad_stream(kind: str) -> list[KvsFragment]:
    if kind == "wrong-codec":
        return fragments(to_get_media(mux(SILENCE, SILENCE, codec="pcm_s16be")))
    if kind == "wrong-rate":
        return fragments(to_get_media(mux(SILENCE, SILENCE, rate=16000)))
    if kind == "no-connect-track":
        return fragments(to_get_media(mux(SILENCE, SILENCE, names=("audio", "audio 2"))))
    first = fragments(to_get_media(mux(SILENCE, SILENCE)))[0]
    return [corrupted(first, first.data.index(SEGMENT))]  # before the Segment, so before its Tracks


def corrupted(fragment: KvsFragment, at: int) -> KvsFragment:
    return KvsFragment(fragment.number, fragment.data[:at] + ABSURD_BLOCK + fragment.data[at:], fragment.duration_s)


@pytest.mark.parametrize(
    ("kind", "code", "words"),
    [
        ("unknown-stream", 4080, "ResourceNotFoundException"),
        ("denied", 4080, "AccessDeniedException"),
        ("wrong-codec", 4051, "A_PCM/INT/BIG"),
        ("wrong-rate", 4053, "16000 Hz"),
        ("no-connect-track", 4082, "no AUDIO_FROM_CUSTOMER"),
        ("corrupt", 4082, "corrupt MKV"),
    ],
)
async def test_a_stream_that_fails_at_once_is_answered_by_start_streaming_and_other_calls_go_on(
    gateway: GatewayThread, kvs: KvsEndpoint, billing_fragments: list[KvsFragment], kind: str, code: int, words: str
) -> None:
    good_arn, bad_arn = ARN, ARN.replace("connect-contact-stream", "bad-stream")
    kvs.streams[good_arn] = KvsStream(good_arn, billing_fragments)
    if kind == "denied":
        kvs.streams[bad_arn] = KvsStream(bad_arn, billing_fragments, faults=["denied"])
    elif kind != "unknown-stream":
        kvs.streams[bad_arn] = KvsStream(bad_arn, bad_stream(kind))
    good, bad = str(uuid.uuid4()), str(uuid.uuid4())
    async with aiohttp.ClientSession() as session:
        assert (await control(session, gateway, "start", start_body(good)))["isOk"] is True
        refused = await control(session, gateway, "start", start_body(bad, streamArn=bad_arn))
        assert refused["status"] == 200 and refused["isOk"] is False
        for role in ("customer", "agent"):
            status = refused["autotranscribeResponse"][role]["status"]
            assert status["code"] == code and words in status["description"]
        not_started = await control(session, gateway, "stop", stop_body(bad))
        assert not_started["status"] == 409 and not_started["error"]["code"] == "409-201"
        await fragment_read(gateway, good, billing_fragments[0])  # the good contact's audio is coming in
        stopped = await control(session, gateway, "stop", stop_body(good))
    assert stopped["isOk"] is True
    assert stopped["autotranscribeResponse"]["customer"]["status"]["code"] == 1000
    assert stopped["autotranscribeResponse"]["customer"]["summary"]["totalAudioBytes"] > 0


@pytest.mark.parametrize("faults", [["throttle", "throttle"], ["drop"], ["truncate"]])
async def test_transient_faults_resume_after_the_last_whole_fragment_with_every_sample_once(
    gateway: GatewayThread, kvs: KvsEndpoint, billing_fragments: list[KvsFragment], faults: list[str]
) -> None:
    sent = billing_fragments[:4]
    kvs.speed = 0  # as fast as the reader takes it
    kvs.streams[ARN] = KvsStream(ARN, sent, faults=list(faults))
    contact = str(uuid.uuid4())
    async with aiohttp.ClientSession() as session:
        assert (await control(session, gateway, "start", start_body(contact)))["isOk"] is True
        await reader_done(gateway, contact)
        stopped = await control(session, gateway, "stop", stop_body(contact))
    assert len(kvs.requests) == len(faults) + 1
    assert stopped["autotranscribeResponse"]["customer"]["status"]["code"] == 1000
    assert stopped["autotranscribeResponse"]["customer"]["summary"]["totalAudioBytes"] == customer_bytes(sent)


@pytest.mark.parametrize(
    ("damage", "code", "words", "requests"),
    [("cut", 4082, "ended inside an MKV element", 3), ("absurd-size", 4082, "exceeds max_element_bytes", 1)],
)
async def test_a_stream_that_fails_later_ends_its_reader_and_stop_streaming_says_why(
    gateway: GatewayThread,
    kvs: KvsEndpoint,
    billing_fragments: list[KvsFragment],
    damage: str,
    code: int,
    words: str,
    requests: int,
) -> None:
    whole, last = billing_fragments[:2], billing_fragments[2]
    if damage == "cut":  # the body always ends there: retried max_retries times, then given up
        bad = KvsFragment(last.number, last.data[: len(last.data) // 2 + 1], last.duration_s)
    else:  # an absurd element size in the middle of a cluster: not retried, the bytes would be the same
        bad = corrupted(last, last.data.index(b"\xa3", len(last.data) // 2))
    kvs.speed = 4.0  # the bad fragment comes ~1 s after the tracks: the start check has answered by then
    kvs.streams[ARN] = KvsStream(ARN, [*whole, bad])
    contact = str(uuid.uuid4())
    async with aiohttp.ClientSession() as session:
        assert (await control(session, gateway, "start", start_body(contact)))["isOk"] is True
        await reader_done(gateway, contact)
        stopped = await control(session, gateway, "stop", stop_body(contact))
    assert stopped["status"] == 200 and stopped["isOk"] is True  # the stop itself succeeded
    status = stopped["autotranscribeResponse"]["agent"]["status"]
    assert status["code"] == code and words in status["description"]
    assert len(kvs.requests) == requests
    assert {r["StartSelector"].get("AfterFragmentNumber") for r in kvs.requests[1:]} <= {whole[1].number}
    assert stopped["autotranscribeResponse"]["customer"]["summary"]["totalAudioBytes"] >= customer_bytes(whole)


async def test_an_assumed_role_signs_get_media(
    gateway_factory: Any, kvs: KvsEndpoint, billing_fragments: list[KvsFragment], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", kvs.base_url)
    role = "arn:aws:iam::123456789012:role/kinesis-connect-access-role-for-mediagw"
    config = {"endpoint_url": kvs.base_url, "role_arn": role, "external_id": "ext-42"}
    gateway = gateway_factory(amazon_connect=config)
    kvs.streams[ARN] = KvsStream(ARN, billing_fragments[:2])
    contact = str(uuid.uuid4())
    async with aiohttp.ClientSession() as session:
        assert (await control(session, gateway, "start", start_body(contact)))["isOk"] is True
        assert (await control(session, gateway, "stop", stop_body(contact)))["status"] == 200
    assert [(a["RoleArn"], a["ExternalId"]) for a in kvs.assumed] == [(role, "ext-42")]
    assert kvs.signed_by and all(key.startswith("ASIA") for key in kvs.signed_by)  # not the chain's AKIDEXAMPLE


async def test_a_start_beyond_max_readers_is_refused_not_stalled(
    gateway_factory: Any, kvs: KvsEndpoint, billing_fragments: list[KvsFragment]
) -> None:
    gateway = gateway_factory(amazon_connect={"endpoint_url": kvs.base_url, "max_readers": 1})
    kvs.streams[ARN] = KvsStream(ARN, billing_fragments)
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    async with aiohttp.ClientSession() as session:
        assert (await control(session, gateway, "start", start_body(first)))["isOk"] is True
        refused = await control(session, gateway, "start", start_body(second))
        assert refused["isOk"] is False
        assert refused["autotranscribeResponse"]["customer"]["status"]["code"] == 5000
        assert (await control(session, gateway, "stop", stop_body(first)))["isOk"] is True
        assert (await control(session, gateway, "start", start_body(second)))["isOk"] is True  # a reader is free
        assert (await control(session, gateway, "stop", stop_body(second)))["isOk"] is True


async def test_a_draining_node_refuses_a_new_contact_with_5001_and_starts_no_reader(
    gateway: GatewayThread, kvs: KvsEndpoint, billing_fragments: list[KvsFragment]
) -> None:
    kvs.streams[ARN] = KvsStream(ARN, billing_fragments)
    contact = str(uuid.uuid4())
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{gateway.base_url}/v1/drain", headers=HEADERS) as drained:
            assert drained.status == 202
        refused = await control(session, gateway, "start", start_body(contact))
    assert refused["status"] == 200 and refused["isOk"] is False, refused
    streams = refused["autotranscribeResponse"]
    assert set(streams) == {"customer", "agent"}
    assert all(entry["status"] == {"code": 5001, "description": "Service shutting down"} for entry in streams.values())
    assert gateway.record("amazonconnect", contact) is None
    assert kvs.requests == []  # no reader asked KVS for the contact's media

"""The core without HTTP: call records round-trip through JSON, the registry swaps them by version, the start/stop
rules give the reference's codes, legs and summaries, and a source's gaps and overlaps meet the media clock."""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import replace

import numpy as np
import pytest

from asr.frame import Pcm
from mediagw.core.frames import Frame, fill_gap
from mediagw.core.media import CallMedia
from mediagw.core.record import CallRecord, Participant, StreamStats, TranscriptionParams
from mediagw.core.registry import InMemoryCallRegistry, change
from mediagw.core.rules import NO_INSTANCES, CallRefused, CallRules
from mediagw.ingress.kvs.params import ConnectParams
from mediagw.ingress.siprec.params import SiprecParams
from mediagw.ingress.twilio.params import TwilioParams
from tests.core import begin, handle, namespaces

ARN = "arn:aws:kinesisvideo:us-east-1:145051540001:stream/s/1696422764859"


def rules() -> CallRules:
    ids = itertools.count(1)
    return CallRules(stream_id=lambda: f"s{next(ids)}", leg_id=lambda: f"l{next(ids)}")


def test_a_record_round_trips_through_json_with_each_adapters_typed_parameters() -> None:
    registered = namespaces()
    for namespace, params in [
        ("twilio", TwilioParams((("inbound", "agent"), ("outbound", "customer")))),
        ("siprec", SiprecParams("AGENT_FIRST")),
        ("amazonconnect", ConnectParams(ARN, "FRAGMENT_NUMBER", "9134385233318")),
        ("genesysaudiohook", None),
    ]:
        record = CallRecord(namespace, "g-1")
        leg = rules().leg_for(record, "c-1", "a-1")
        leg = replace(leg, participants=(replace(leg.participants[0], stats=StreamStats(8000, 1.5, 2)),))
        record = replace(
            rules().started(record, leg, TranscriptionParams(language="es-US"), params),
            pending=True,
            media_samples={"customer": 16000, "agent": 8000},
            media_nodes={"customer": "node-a", "agent": "node-a"},
            version=7,
        )
        text = json.dumps(record.to_json())
        assert CallRecord.from_json(json.loads(text), registered.decode_params) == record


def test_each_adapter_checks_its_own_parameters_and_the_call_keeps_its_own() -> None:
    registered = namespaces()
    body = {"siprecParams": {"mediaLineOrder": "AGENT_FIRST"}, "twilioParams": {"trackMap": {"inbound": "agent"}}}
    assert registered.parse_params("siprec", body) == SiprecParams("AGENT_FIRST")
    assert registered.parse_params("twilio", body) == TwilioParams((("inbound", "agent"),))
    with pytest.raises(ValueError, match="amazonConnectParams.streamArn"):
        registered.parse_params("amazonconnect", {})  # its own are required
    with pytest.raises(ValueError, match="trackMap"):
        registered.parse_params("siprec", {"twilioParams": {"trackMap": {"inbound": "bystander"}}})
    assert registered.controlled == ("siprec", "twilio", "genesysaudiohook", "amazonconnect", "webrtc")


async def test_the_registry_swaps_only_the_version_it_was_given() -> None:
    registry = InMemoryCallRegistry()
    first = await registry.create(CallRecord("twilio", "CA1"))
    assert await registry.create(CallRecord("twilio", "CA1", started=True)) == first  # known: kept
    newer = await registry.swap(first, replace(first, pending=True))
    assert newer is not None and newer.pending and newer.version == first.version + 1
    assert await registry.swap(first, replace(first, ending=True)) is None  # another writer got there first
    edited = await change(registry, "twilio", "CA1", lambda r: replace(r, ending=True))
    assert edited is not None and edited.pending and edited.ending
    assert not await registry.remove("twilio", "CA1", version=first.version)
    assert await registry.remove("twilio", "CA1") and await registry.get("twilio", "CA1") is None


def test_start_and_stop_are_refused_with_the_documented_codes() -> None:
    call_rules = rules()
    record = CallRecord("siprec", "1")
    codes = []
    for check, each in [
        (call_rules.admit_start, None),
        (call_rules.admit_start, replace(record, ending=True, pending=True)),
        (call_rules.admit_start, replace(record, pending=True)),
        (call_rules.admit_start, replace(record, started=True)),
        (call_rules.admit_stop, record),
        (call_rules.claimed, replace(record, pending=True)),
    ]:
        with pytest.raises(CallRefused) as refused:
            check(each)
        codes.append(refused.value.code)
    assert codes == ["400-203", "409-203", "409-202", "409-201", "409-201", "409-202"]
    assert call_rules.claimed(record).pending and not call_rules.released(call_rules.claimed(record)).pending


def test_a_new_agent_begins_a_new_leg_and_the_summary_reports_what_each_stream_did() -> None:
    call_rules = rules()
    record = CallRecord("siprec", "1")
    leg = call_rules.leg_for(record, "c-1", "a-1")
    record = call_rules.started(record, leg, TranscriptionParams(), None)
    assert call_rules.leg_for(record, "c-2", "a-1") == leg  # same agent: same streams
    stats = {leg.participants[0].stream_id: StreamStats(16000, 2.6, 3)}
    record = call_rules.stopped(record, stats, {"customer": 24000, "agent": 24000})
    customer, agent = call_rules.reports(record, record.legs[-1], summary=True)
    assert customer.summary is not None and agent.summary is not None
    assert (customer.stream_id, customer.summary.total_audio_bytes) == (leg.participants[0].stream_id, 48000)
    assert (customer.summary.audio_duration_ms, customer.summary.streaming_seconds) == (2000, 3)
    assert customer.summary.transcripts == 3 and agent.summary.transcripts == 0 and not record.started
    second = call_rules.leg_for(record, "c-1", "a-2")
    assert second.id != leg.id and {p.stream_id for p in second.participants}.isdisjoint(
        p.stream_id for p in leg.participants
    )
    refused = call_rules.reports(record, second, NO_INSTANCES)
    assert all(report.status == NO_INSTANCES and report.summary is None for report in refused)


class Heard:
    def __init__(self) -> None:
        self.samples: list[Pcm] = []

    def push(self, samples: Pcm) -> None:
        self.samples.append(samples)

    def set_language(self, code: str) -> None:
        pass

    async def finish(self) -> int:
        return len(self.samples)


def test_a_gap_is_filled_an_overlap_dropped_and_audio_before_the_start_only_counted() -> None:
    source = handle("twilio", "CA1")
    tone = np.full(160, 1000, dtype=np.int16)
    source.feed("customer", Frame.of_pcm(0, tone))  # not started: counted only
    heard: dict[str, Heard] = {}

    def factory(_: CallMedia, participant: Participant) -> Heard:
        return heard.setdefault(participant.role, Heard())

    begin(source.media, TranscriptionParams(), factory)
    source.feed("customer", Frame.of_pcm(480, tone))  # 320 samples lost before it
    source.feed("customer", Frame.of_pcm(560, tone))  # half of it repeats what came
    source.feed("customer", Frame.of_pcm(400, tone[:80]))  # all of it came already: dropped
    source.feed("customer", Frame.silence(720, 160))  # paused audio keeps its place
    pushed = np.concatenate(heard["customer"].samples)
    assert source.media.clock["customer"] == 880 and len(pushed) == 720
    assert not pushed[:320].any() and (pushed[320:560] == 1000).all() and not pushed[560:].any()
    assert not fill_gap(40).any() and len(fill_gap(40)) == 40


def test_encoded_frames_are_decoded_only_while_transcribed() -> None:
    source = handle("twilio", "CA1")
    decoded: list[bytes] = []

    def decode(payload: bytes) -> Pcm:
        decoded.append(payload)
        return np.zeros(len(payload), dtype=np.int16)

    source.feed("agent", Frame.encoded(0, b"\xff" * 160, decode))
    assert decoded == [] and source.media.clock["agent"] == 160
    begin(source.media, TranscriptionParams(), lambda _, __: Heard())
    source.feed("agent", Frame.encoded(160, b"\xff" * 160, decode))
    assert decoded == [b"\xff" * 160]


async def test_a_source_that_goes_flushes_and_a_started_call_resumes_on_fresh_pipelines() -> None:
    source = handle("siprec", "1")
    made: list[Heard] = []

    def factory(_: CallMedia, __: Participant) -> Heard:
        made.append(Heard())
        return made[-1]

    begin(source.media, TranscriptionParams(), factory)
    source.feed("customer", Frame.of_pcm(0, np.zeros(160, dtype=np.int16)))
    await source.media.media_ended(("customer",), asyncio.get_running_loop().time())
    assert len(made) == 3 and source.media.transcribing  # the customer's stream goes on, on a new pipeline
    stats = await source.media.end(asyncio.get_running_loop().time())
    assert sorted(each.transcripts for each in stats.values()) == [0, 1]  # what the first pipeline delivered


async def test_halt_stops_an_adapters_own_streams_at_once_and_the_media_goes_on() -> None:
    media = CallMedia("genesysaudiohook", "c1")
    first, second = Heard(), Heard()
    now = asyncio.get_running_loop().time()
    media.run(Participant("customer", "s1", ""), first, now)
    media.take("customer", Frame.of_pcm(0, np.ones(160, dtype=np.int16)), 0)
    flushed = media.halt(("customer",), now)  # the streams go now, before their flush is awaited...
    media.run(Participant("customer", "s1", ""), second, now)  # ...so the next ones are never the ones flushed
    media.take("customer", Frame.silence(160, 160), 0)
    await flushed
    assert len(first.samples) == 1 and len(second.samples) == 1 and media.clock["customer"] == 320
    assert media.transcribing
    await media.halt(("customer",), now)
    assert not media.transcribing and media.stats()["s1"].transcripts == 2

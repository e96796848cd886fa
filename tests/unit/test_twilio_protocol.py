"""Twilio Media Streams core: bytes of JSON in, events out; the per-track clock under gaps and repeats."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest

from mediagw.audio.g711 import pcm_to_ulaw
from mediagw.ingress.twilio.protocol import (
    AudioReceived,
    CloseCode,
    Dropped,
    DtmfReceived,
    ProtocolFailed,
    StreamStarted,
    StreamStopped,
    TwilioStream,
)

CA, MZ, AC = "CA" + "1" * 32, "MZ" + "1" * 32, "AC" + "1" * 32  # Twilio SIDs: a prefix, 32 hex digits
START = {
    "event": "start",
    "sequenceNumber": "1",
    "streamSid": MZ,
    "start": {
        "accountSid": AC,
        "streamSid": MZ,
        "callSid": CA,
        "tracks": ["inbound", "outbound"],
        "customParameters": {"queue": "billing"},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    },
}


def media(track: str, chunk: int, timestamp: int, samples: int = 160, value: int = 1000) -> str:
    payload = base64.b64encode(pcm_to_ulaw(np.full(samples, value, dtype=np.int16))).decode()
    return json.dumps(
        {
            "event": "media",
            "streamSid": MZ,
            "media": {"track": track, "chunk": str(chunk), "timestamp": str(timestamp), "payload": payload},
        }
    )


def started() -> TwilioStream:
    stream = TwilioStream()
    assert stream.receive(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})) == []
    (event,) = stream.receive(json.dumps(START))
    assert event == StreamStarted(CA, MZ, AC, ("inbound", "outbound"), {"queue": "billing"})
    return stream


def test_audio_is_decoded_and_placed_on_its_track_clock() -> None:
    stream = started()
    (first,) = stream.receive(media("inbound", 1, 0))
    (second,) = stream.receive(media("outbound", 1, 0))
    (third,) = stream.receive(media("inbound", 2, 20))
    assert isinstance(first, AudioReceived) and first.position_ms == 0 and first.sample_count == 160
    assert abs(int(first.pcm()[0]) - 1000) < 40
    assert isinstance(second, AudioReceived) and second.track == "outbound" and second.position_ms == 0
    assert isinstance(third, AudioReceived) and third.position_ms == 20


def test_a_gap_is_filled_with_silence_and_repeats_or_late_chunks_are_dropped() -> None:
    stream = started()
    stream.receive(media("inbound", 1, 0))
    (gap,) = stream.receive(media("inbound", 2, 100))  # 80 ms went missing
    assert isinstance(gap, AudioReceived) and gap.filled == 640 and gap.position_ms == 20
    assert gap.sample_count == 640 + 160 and not gap.pcm()[:640].any()
    assert stream.receive(media("inbound", 2, 100)) == [Dropped("inbound", "repeated chunk")]
    assert stream.receive(media("inbound", 3, 40)) == [Dropped("inbound", "late chunk")]
    (overlap,) = stream.receive(media("inbound", 4, 110))  # half of it was already played
    assert isinstance(overlap, AudioReceived) and overlap.position_ms == 120 and overlap.sample_count == 80


def test_odd_payload_sizes_keep_the_clock_in_samples() -> None:
    stream = started()
    (a,) = stream.receive(media("inbound", 1, 0, samples=161))
    (b,) = stream.receive(media("inbound", 2, 20, samples=159))  # 20 ms = 160 samples: one sample overlaps
    assert isinstance(a, AudioReceived) and isinstance(b, AudioReceived)
    assert a.sample_count + b.sample_count == 160 + 159  # the second ends 159 samples after 20 ms


def test_dtmf_mark_and_stop() -> None:
    stream = started()
    dtmf = json.dumps({"event": "dtmf", "streamSid": MZ, "dtmf": {"track": "inbound_track", "digit": "5"}})
    assert stream.receive(dtmf) == [DtmfReceived("inbound_track", "5")]
    assert stream.receive(json.dumps({"event": "stop", "streamSid": MZ, "stop": {"callSid": CA}})) == [StreamStopped()]
    assert stream.stopped


@pytest.mark.parametrize(
    ("messages", "code"),
    [
        (["{nope"], CloseCode.UNSUPPORTED_DATA),
        (["[1]"], CloseCode.UNSUPPORTED_DATA),
        ([media("inbound", 1, 0)], CloseCode.PROTOCOL_ERROR),  # media before start
        ([json.dumps(START), json.dumps({"event": "dance"})], CloseCode.UNSUPPORTED_DATA),
        ([json.dumps(START), json.dumps(START)], CloseCode.PROTOCOL_ERROR),
        (
            [
                json.dumps(
                    {
                        **START,
                        "start": {
                            **START["start"],
                            "mediaFormat": {"encoding": "audio/x-opus", "sampleRate": 48000, "channels": 1},
                        },
                    }
                )
            ],
            CloseCode.UNSUPPORTED_DATA,
        ),
        (
            [
                json.dumps(START),
                json.dumps(
                    {
                        "event": "media",
                        "media": {"track": "inbound", "chunk": "1", "timestamp": "0", "payload": "!!notbase64"},
                    }
                ),
            ],
            CloseCode.UNSUPPORTED_DATA,
        ),
        (
            [
                json.dumps(START),
                json.dumps(
                    {"event": "media", "media": {"track": "sideways", "chunk": "1", "timestamp": "0", "payload": ""}}
                ),
            ],
            CloseCode.PROTOCOL_ERROR,
        ),
        (
            [
                json.dumps(START),
                json.dumps(
                    {"event": "media", "media": {"track": "inbound", "chunk": "x", "timestamp": "0", "payload": ""}}
                ),
            ],
            CloseCode.UNSUPPORTED_DATA,
        ),
    ],
)
def test_bad_input_fails_with_a_close_code(messages: list[str], code: CloseCode) -> None:
    stream = TwilioStream()
    events: list[Any] = []
    for message in messages:
        events = stream.receive(message)
    assert len(events) == 1 and isinstance(events[0], ProtocolFailed) and events[0].code is code

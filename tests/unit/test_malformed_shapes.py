"""Every protocol core answers valid JSON of the wrong shape with its documented code, and a bug with its internal
error (no details for the client, a log record for us): no exception ever leaves a core."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from mediagw.ingress.audiohook.protocol import AudioHookSession, ErrorCode, Send
from mediagw.ingress.audiohook.protocol import ProtocolFailed as AudioHookFailed
from mediagw.ingress.twilio.protocol import CloseCode, TwilioStream
from mediagw.ingress.twilio.protocol import ProtocolFailed as TwilioFailed
from mediagw.ingress.websocket_api.protocol import DirectStreamProtocol, StreamFailed, VocabularyLimits
from mediagw.ingress.websocket_api.status import Status
from tests.unit.test_audiohook_protocol import STEREO, Client, opened
from tests.unit.test_twilio_protocol import START

ODD = [None, True, 7, 1.5, "", "x", [], [{}], [[1]], {}, {"a": [1]}]
TOO_DEEP = "[" * 50_000  # valid-looking JSON the parser cannot nest


def twilio_start(**start: Any) -> str:
    return json.dumps({**START, "start": {**START["start"], **start}})


def twilio_failure(*messages: str) -> TwilioFailed:
    stream = TwilioStream()
    events: list[Any] = []
    for message in messages:
        events = stream.receive(message)
    (failed,) = events
    assert isinstance(failed, TwilioFailed)
    return failed


@pytest.mark.parametrize("tracks", [[{}], [[1]], [None], ["inbound", {}], {}, "inbound", 3])
def test_twilio_start_with_odd_tracks_is_unsupported_data(tracks: object) -> None:
    failed = twilio_failure(twilio_start(tracks=tracks))
    assert (failed.code, failed.reason) == (CloseCode.UNSUPPORTED_DATA, "start.tracks must be inbound and/or outbound")


@pytest.mark.parametrize("value", ODD)
@pytest.mark.parametrize("field", ["tracks", "customParameters", "mediaFormat", "callSid", "streamSid"])
def test_twilio_start_fields_of_any_shape_never_raise(field: str, value: object) -> None:
    events = TwilioStream().receive(twilio_start(**{field: value}))
    assert all(not isinstance(e, TwilioFailed) or e.code is not CloseCode.INTERNAL for e in events)


@pytest.mark.parametrize("value", ODD)
@pytest.mark.parametrize("event", ["media", "dtmf", "mark"])
def test_twilio_event_bodies_of_any_shape_never_raise(event: str, value: object) -> None:
    stream = TwilioStream()
    stream.receive(json.dumps(START))
    events = stream.receive(json.dumps({"event": event, event: value}))
    assert all(not isinstance(e, TwilioFailed) or e.code is not CloseCode.INTERNAL for e in events)


def test_twilio_json_nested_too_deeply_is_unsupported_data() -> None:
    assert twilio_failure(TOO_DEEP).code is CloseCode.UNSUPPORTED_DATA


def test_a_twilio_bug_closes_with_1011_without_details(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: TwilioStream, message: dict[str, Any]) -> list[Any]:
        raise TypeError("secret detail")

    monkeypatch.setattr(TwilioStream, "_start", broken)
    with caplog.at_level(logging.ERROR):
        failed = twilio_failure(json.dumps(START))
    assert (failed.code, failed.reason) == (CloseCode.INTERNAL, "internal error")
    assert any(record.exc_info and "secret detail" in str(record.exc_info[1]) for record in caplog.records)


def direct() -> DirectStreamProtocol:
    return DirectStreamProtocol(["en"], VocabularyLimits())


START_STREAM = {"message": "startStream", "sender": {"role": "customer", "externalId": "c-1"}}


@pytest.mark.parametrize(
    ("message", "status"),
    [
        ({**START_STREAM, "samplingRate": "\u00b2"}, Status.MESSAGE_FORMAT),  # a digit to str.isdigit, not to int()
        ({**START_STREAM, "sender": [1]}, Status.MESSAGE_FORMAT),
        ({**START_STREAM, "language": ["en-US"]}, Status.MESSAGE_FORMAT),
        ({"message": ["startStream"]}, Status.MESSAGE_FORMAT),
    ],
)
def test_direct_api_odd_shapes_get_their_documented_status(message: dict[str, Any], status: Status) -> None:
    (failed,) = direct().receive_text(json.dumps(message))
    assert isinstance(failed, StreamFailed) and failed.status is status


def test_direct_api_json_nested_too_deeply_is_a_format_error() -> None:
    (failed,) = direct().receive_text(TOO_DEEP)
    assert isinstance(failed, StreamFailed) and failed.status is Status.MESSAGE_FORMAT


def test_a_direct_api_bug_ends_the_stream_with_5000(monkeypatch: pytest.MonkeyPatch) -> None:
    protocol = direct()

    def broken(message: dict[str, Any]) -> list[Any]:
        raise KeyError("secret detail")

    monkeypatch.setattr(protocol, "_start", broken)
    assert protocol.receive_text(json.dumps(START_STREAM)) == [StreamFailed(Status.INTERNAL_ERROR, "internal error")]


@pytest.mark.parametrize("value", ODD)
@pytest.mark.parametrize("field", ["media", "participant", "customConfig", "language", "supportedLanguages"])
def test_audiohook_open_fields_of_any_shape_never_raise(field: str, value: object) -> None:
    session = AudioHookSession(0.0)
    offers: Any = value if field == "media" else [STEREO]
    events = Client(session).open(offers, **({} if field == "media" else {field: value}))
    assert all(not isinstance(e, AudioHookFailed) or e.code != ErrorCode.INTERNAL for e in events)


@pytest.mark.parametrize("value", ODD)
@pytest.mark.parametrize("kind", ["resumed", "discarded", "ping", "update", "error"])
def test_audiohook_message_parameters_of_any_shape_never_raise(kind: str, value: object) -> None:
    _, client = opened([STEREO])
    client.send("paused")
    events = client.send(kind, {"start": value, "discarded": value, "rtt": value, "language": value, "code": value})
    assert all(not isinstance(e, AudioHookFailed) or e.code != ErrorCode.INTERNAL for e in events)


def test_audiohook_json_nested_too_deeply_after_a_failure_is_ignored() -> None:
    session = AudioHookSession(0.0)
    session.receive_text("[1]", now=1.0)  # a failure: only close is answered from now on
    assert session.receive_text(TOO_DEEP, now=1.0) == []


def test_an_audiohook_bug_on_audio_is_the_protocols_internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    session, _ = opened([STEREO])

    def broken(data: bytes) -> list[Any]:
        raise IndexError("secret detail")

    monkeypatch.setattr(session, "_audio", broken)
    send, failed = session.receive_binary(bytes(320), now=1.0)
    assert isinstance(send, Send) and json.loads(send.text)["parameters"] == {
        "reason": "error",
        "info": "internal error",
    }
    assert failed == AudioHookFailed("internal error", ErrorCode.INTERNAL)

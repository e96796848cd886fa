"""AudioHook session core: client JSON and audio frames in, server messages and events out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mediagw.ingress.audiohook.protocol import (
    NULL_UUID,
    AudioHookSession,
    AudioReceived,
    ClientError,
    Discarded,
    ErrorCode,
    Event,
    LanguageUpdated,
    Participant,
    Paused,
    ProbeOpened,
    ProtocolFailed,
    Resumed,
    RttReported,
    Send,
    SessionClosed,
    SessionOpened,
)

SESSION = "30b0e395-84d3-4570-ac13-9a62d8f514c0"
ORGANIZATION = "d7934305-0972-4844-938e-9060eef73d05"
CONVERSATION = "090eaa2f-72fa-480a-83e0-8667ff89c0ec"
PARTICIPANT = {
    "id": "883efee8-3d6c-4537-b500-6d7ca4b92fa0",
    "ani": "+13175550000",
    "aniName": "John Doe",
    "dnis": "+18005550000",
}
STEREO = {"type": "audio", "format": "PCMU", "channels": ["external", "internal"], "rate": 8000}
EXTERNAL = {"type": "audio", "format": "PCMU", "channels": ["external"], "rate": 8000}
INTERNAL = {"type": "audio", "format": "PCMU", "channels": ["internal"], "rate": 8000}


class Client:
    """Writes messages as Genesys does: seq counts from 1, serverseq is the last server seq it has seen."""

    def __init__(self, session: AudioHookSession) -> None:
        self.session = session
        self.seq = 0
        self.serverseq = 0

    def send(self, kind: str, parameters: dict[str, Any] | None = None, **header: Any) -> list[Event]:
        self.seq += 1
        message = {"version": "2", "id": SESSION, "type": kind, "seq": self.seq, "serverseq": self.serverseq}
        message |= {"position": "PT0S", "parameters": parameters or {}} | header
        return self.receive(self.session.receive_text(json.dumps(message), now=1.0))

    def receive(self, events: list[Event]) -> list[Event]:
        for message in replies(events):
            self.serverseq = message["seq"]
        return events

    def open(self, media: list[dict[str, Any]], conversation: str = CONVERSATION, **extra: Any) -> list[Event]:
        parameters = {"organizationId": ORGANIZATION, "conversationId": conversation, "participant": PARTICIPANT}
        return self.send("open", parameters | {"media": media, "language": "en-US", "customConfig": {}} | extra)


def replies(events: list[Event]) -> list[dict[str, Any]]:
    return [json.loads(event.text) for event in events if isinstance(event, Send)]


def others(events: list[Event]) -> list[Event]:
    return [event for event in events if not isinstance(event, Send)]


def opened(media: list[dict[str, Any]], **session_options: Any) -> tuple[AudioHookSession, Client]:
    session = AudioHookSession(0.0, session_id=SESSION, **session_options)
    client = Client(session)
    client.open(media)
    return session, client


def failure(events: list[Event]) -> tuple[dict[str, Any], ProtocolFailed]:
    (disconnect,) = replies(events)
    (failed,) = others(events)
    assert disconnect["type"] == "disconnect" and isinstance(failed, ProtocolFailed)
    return disconnect, failed


def test_a_full_session_from_open_to_close() -> None:
    session = AudioHookSession(0.0, session_id=SESSION)
    client = Client(session)
    events = client.open([STEREO, EXTERNAL, INTERNAL], customConfig={"queue": "billing"})
    assert replies(events) == [
        {
            "version": "2",
            "id": SESSION,
            "type": "opened",
            "seq": 1,
            "clientseq": 1,
            "parameters": {"startPaused": False, "media": [STEREO]},
        }
    ]
    participant = Participant(PARTICIPANT["id"], "+13175550000", "John Doe", "+18005550000")
    channels = ("external", "internal")
    assert others(events) == [
        SessionOpened(SESSION, ORGANIZATION, CONVERSATION, participant, channels, "en-US", 0, {"queue": "billing"})
    ]

    events = client.send("ping", {"rtt": "PT0.052S"})
    assert [(m["type"], m["seq"], m["clientseq"], m["parameters"]) for m in replies(events)] == [("pong", 2, 2, {})]
    assert others(events) == [RttReported(0.052)]

    frame = bytes(range(256)) + bytes(64)  # 160 stereo samples: external, internal, external, ...
    assert session.receive_binary(frame, now=1.02) == [AudioReceived(frame[0::2], frame[1::2], 0)]
    assert session.receive_binary(frame, now=1.04) == [AudioReceived(frame[0::2], frame[1::2], 160)]

    assert client.send("paused") == [Paused(320)]
    assert client.send("resumed", {"start": "PT0.04S", "discarded": "PT2S"}) == [Resumed(320, 16_000)]
    assert session.receive_binary(frame, now=3.06) == [AudioReceived(frame[0::2], frame[1::2], 16_320)]

    assert client.send("discarded", {"start": "PT2.06S", "discarded": "PT0.5S"}) == [Discarded(16_480, 4000)]
    assert session.receive_binary(frame, now=3.6)[0] == AudioReceived(frame[0::2], frame[1::2], 20_480)
    assert session.position == 20_640

    assert client.send("update", {"language": "es-ES"}) == [LanguageUpdated("es-ES")]
    error = {"code": 429, "message": "Too many requests", "retryAfter": "PT1.5S"}
    assert client.send("error", error) == [ClientError(429, "Too many requests", 1.5)]

    events = client.send("close", {"reason": "end"})
    assert [(m["type"], m["seq"], m["clientseq"], m["parameters"]) for m in replies(events)] == [("closed", 3, 8, {})]
    assert others(events) == [SessionClosed("end")]
    assert session.receive_binary(frame, now=4.0) == []
    assert client.send("ping") == []


def test_a_connection_probe_is_answered_and_reported_as_a_probe() -> None:
    session = AudioHookSession(0.0)
    client = Client(session)
    nobody = {"id": NULL_UUID, "ani": "", "aniName": "", "dnis": ""}
    events = client.open([STEREO, EXTERNAL], conversation=NULL_UUID, participant=nobody)
    assert [m["type"] for m in replies(events)] == ["opened"]
    assert replies(events)[0]["parameters"]["media"] == [STEREO]
    assert others(events) == [ProbeOpened(SESSION, ORGANIZATION)]
    assert session.probe
    events = client.send("close", {"reason": "end"})
    assert [m["type"] for m in replies(events)] == ["closed"] and others(events) == [SessionClosed("end")]


@pytest.mark.parametrize(
    ("media", "channels"),
    [
        ([EXTERNAL, INTERNAL], ("external",)),
        ([INTERNAL], ("internal",)),
        ([INTERNAL, {**STEREO, "channels": ["internal", "external"]}], ("internal", "external")),
    ],
)
def test_mono_offers_are_accepted_and_stereo_preferred(media: list[dict[str, Any]], channels: tuple[str, ...]) -> None:
    session = AudioHookSession(0.0, session_id=SESSION)
    events = Client(session).open(media)
    assert replies(events)[0]["parameters"]["media"] == [{**STEREO, "channels": list(channels)}]
    assert session.channels == channels


def test_mono_audio_is_named_by_its_channel() -> None:
    frame = bytes(range(160))
    session, _ = opened([EXTERNAL])
    assert session.receive_binary(frame, now=1.0) == [AudioReceived(frame, None, 0)]
    session, _ = opened([INTERNAL])
    assert session.receive_binary(frame, now=1.0) == [AudioReceived(None, frame, 0)]


def test_stereo_with_internal_first_is_deinterleaved_by_the_offered_order() -> None:
    session, _ = opened([{**STEREO, "channels": ["internal", "external"]}])
    frame = bytes([1, 2] * 80)
    assert session.receive_binary(frame, now=1.0) == [AudioReceived(bytes([2] * 80), bytes([1] * 80), 0)]


def test_an_offer_without_pcmu_at_8khz_is_refused_with_disconnect() -> None:
    session = AudioHookSession(0.0, session_id=SESSION)
    client = Client(session)
    events = client.open([{**STEREO, "format": "L16"}, {**EXTERNAL, "rate": 16000}, {"type": "video"}])
    disconnect, failed = failure(events)
    assert disconnect["parameters"]["reason"] == "error"
    assert failed.code == ErrorCode.UNSUPPORTED_MEDIA
    assert session.receive_binary(bytes(160), now=1.0) == []
    assert [m["type"] for m in replies(client.send("close", {"reason": "disconnect"}))] == ["closed"]


def test_a_seq_out_of_order_is_a_protocol_failure() -> None:
    session, client = opened([STEREO])
    client.seq += 1  # skips 2
    disconnect, failed = failure(client.send("ping"))
    assert failed == ProtocolFailed("seq 3 does not follow 1", ErrorCode.BAD_REQUEST)
    assert (disconnect["seq"], disconnect["clientseq"], disconnect["parameters"]["reason"]) == (2, 1, "error")
    assert client.send("ping") == [] and session.receive_binary(bytes(320), now=2.0) == []
    closing = client.send("close", {"reason": "error"})
    assert [(m["type"], m["clientseq"]) for m in replies(closing)] == [("closed", 5)]
    assert others(closing) == [SessionClosed("error")]


def test_a_serverseq_we_never_sent_is_a_protocol_failure() -> None:
    _, client = opened([STEREO])
    client.serverseq = 7
    assert failure(client.send("ping"))[1].reason == "serverseq 7 is not one we sent (last 1)"


def test_malformed_json_is_a_protocol_failure() -> None:
    session = AudioHookSession(0.0, session_id=SESSION)
    disconnect, failed = failure(session.receive_text('{"version": "2", "type": "op', now=1.0))
    assert failed == ProtocolFailed("message is not JSON", ErrorCode.BAD_REQUEST)
    assert (disconnect["id"], disconnect["seq"], disconnect["clientseq"]) == (SESSION, 1, 0)
    assert failure(AudioHookSession(0.0).receive_text("[1, 2]", now=1.0))[0]["id"] == NULL_UUID


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ({"type": "dance"}, "unknown message type 'dance'"),
        ({"version": "1"}, "protocol version '1' is not '2'"),
        ({"id": "2c2b7a2e-0cf1-4b4f-a0a5-2c4a8c0f5a1b"}, "id is not this session's id"),
        ({"position": "5 seconds"}, "position is not a duration like 'PT1.5S'"),
        ({"parameters": "none"}, "parameters is not an object"),
    ],
)
def test_a_malformed_header_is_a_protocol_failure(header: dict[str, Any], reason: str) -> None:
    _, client = opened([STEREO])
    assert failure(client.send("ping", **header))[1] == ProtocolFailed(reason, ErrorCode.BAD_REQUEST)


def test_audio_before_opened_is_a_protocol_failure() -> None:
    session = AudioHookSession(0.0, session_id=SESSION)
    disconnect, failed = failure(session.receive_binary(bytes(320), now=1.0))
    assert failed == ProtocolFailed("audio before the session is open", ErrorCode.CONFLICT)
    assert disconnect["parameters"] == {"reason": "error", "info": "audio before the session is open"}


def test_a_stereo_frame_of_odd_size_is_a_protocol_failure() -> None:
    session, _ = opened([STEREO])
    failed = failure(session.receive_binary(bytes(321), now=1.0))[1]
    assert failed == ProtocolFailed("audio frame of 321 bytes does not hold whole 2-channel samples", 400)


def test_a_second_open_and_messages_before_open_are_protocol_failures() -> None:
    _, client = opened([STEREO])
    assert failure(client.open([STEREO]))[1] == ProtocolFailed("open sent twice", ErrorCode.CONFLICT)
    client = Client(AudioHookSession(0.0, session_id=SESSION))
    assert failure(client.send("paused"))[1] == ProtocolFailed("'paused' before open", ErrorCode.CONFLICT)


def test_audio_while_paused_is_a_protocol_failure() -> None:
    session, client = opened([STEREO])
    client.send("paused")
    assert client.send("paused") == []  # repeated, as an answer to our pause
    assert failure(session.receive_binary(bytes(320), now=1.0))[1].code == ErrorCode.CONFLICT


def test_an_organization_other_than_the_connections_is_refused_as_unauthorized() -> None:
    session = AudioHookSession(0.0, session_id=SESSION, organization_id="e9b4d1a6-3a8b-4d0e-9d43-0c2b4bb3c9a7")
    disconnect, failed = failure(Client(session).open([STEREO]))
    assert disconnect["parameters"]["reason"] == "unauthorized" and failed.code == ErrorCode.UNAUTHORIZED


def test_a_text_message_too_large_is_a_protocol_failure() -> None:
    session = AudioHookSession(0.0, session_id=SESSION)
    assert failure(session.receive_text(" " * 70_000, now=1.0))[1].code == ErrorCode.TOO_LARGE


def test_an_internal_error_is_reported_without_details(monkeypatch: pytest.MonkeyPatch) -> None:
    session, client = opened([STEREO])

    def broken(*_: object) -> list[Event]:
        raise KeyError("secret detail")

    monkeypatch.setattr(session, "_on_ping", broken)
    disconnect, failed = failure(client.send("ping"))
    assert failed == ProtocolFailed("internal error", ErrorCode.INTERNAL)
    assert disconnect["parameters"]["info"] == "internal error"


def test_supported_languages_are_listed_when_the_client_asks() -> None:
    session = AudioHookSession(0.0, session_id=SESSION, supported_languages=("en-US", "es-ES"))
    events = Client(session).open([STEREO], supportedLanguages=True)
    assert replies(events)[0]["parameters"]["supportedLanguages"] == ["en-US", "es-ES"]


def test_a_server_disconnect_is_followed_by_the_clients_close() -> None:
    session, client = opened([STEREO])
    with pytest.raises(ValueError, match="disconnect reason"):
        session.disconnect("bored")
    message = json.loads(session.disconnect("completed", "transcription finished"))
    assert message == {
        "version": "2",
        "id": SESSION,
        "type": "disconnect",
        "seq": 2,
        "clientseq": 1,
        "parameters": {"reason": "completed", "info": "transcription finished"},
    }
    with pytest.raises(RuntimeError):
        session.disconnect("error")
    assert session.receive_binary(bytes(320), now=1.0) == [AudioReceived(bytes(160), bytes(160), 0)]  # in flight
    client.serverseq = message["seq"]
    events = client.send("close", {"reason": "disconnect"})
    assert [(m["type"], m["seq"]) for m in replies(events)] == [("closed", 3)]
    assert others(events) == [SessionClosed("disconnect")]


def test_server_pause_and_resume_messages() -> None:
    session, client = opened([STEREO])
    assert json.loads(session.pause())["type"] == "pause"
    client.serverseq = 2
    assert client.send("paused") == [Paused(0)]
    assert json.loads(session.resume())["type"] == "resume"
    assert client.send("resumed", {"start": "PT0S", "discarded": "PT3S"}) == [Resumed(0, 24_000)]

"""AudioHook Transcription Connector: the session core's connector rules and the transcript entity's shape."""

from __future__ import annotations

import re

from mediagw.ingress.audiohook.entities import duration, shown_words, transcript_entity
from mediagw.ingress.audiohook.protocol import (
    AudioHookSession,
    ProtocolFailed,
    Send,
    SessionClosed,
    SessionOpened,
    State,
)
from mediagw.transcripts import Token, Transcript
from tests.unit.test_audiohook_protocol import EXTERNAL, STEREO, Client, replies

DURATION = re.compile(r"PT\d+(\.\d{1,3})?S")


def connector(languages: tuple[str, ...] = ("en-US",)) -> Client:
    return Client(AudioHookSession(0.0, supported_languages=languages, connector=True))


def transcript(text: str, timings: tuple[Token, ...], start: int = 1000, end: int = 2000) -> Transcript:
    return Transcript("s", 0, start, end, text, None, 0.0, 0.0, confidence=0.8, timings=timings)


def test_an_unsupported_language_at_open_is_refused_with_the_protocols_error() -> None:
    client = connector()
    events = client.open([STEREO], language="fr-FR")
    [message] = replies(events)
    assert message["type"] == "disconnect" and message["parameters"]["reason"] == "error"
    assert "fr-FR" in message["parameters"]["info"] and "en-US" in message["parameters"]["info"]
    assert any(isinstance(event, ProtocolFailed) for event in events)
    assert not any(isinstance(event, SessionOpened) for event in events)


def test_a_monitor_session_takes_any_language_and_a_probe_is_answered_whatever_its_own() -> None:
    assert any(isinstance(e, SessionOpened) for e in Client(AudioHookSession(0.0)).open([STEREO], language="fr-FR"))
    probe = connector().open([STEREO], conversation="00000000-0000-0000-0000-000000000000", language="xx-XX")
    assert replies(probe)[0]["type"] == "opened"


def test_update_to_an_unsupported_language_and_a_malformed_update_disconnect() -> None:
    for parameters in ({"language": "de-DE"}, {"language": 7}, {}):
        client = connector(("en-US", "es-US"))
        client.open([STEREO])
        assert replies(client.send("update", {"language": "es-MX"})) == []  # Spanish is loaded
        [message] = replies(client.send("update", parameters))
        assert message["type"] == "disconnect" and message["parameters"]["reason"] == "error"


def test_an_event_from_the_client_is_a_protocol_error() -> None:
    client = connector()
    client.open([STEREO])
    events = client.send("event", {"entities": []})
    assert replies(events)[0]["type"] == "disconnect"
    assert [e.reason for e in events if isinstance(e, ProtocolFailed)] == ["'event' is a server message"]


def test_unsupported_media_is_refused_with_415() -> None:
    l16 = {"type": "audio", "format": "L16", "channels": ["external", "internal"], "rate": 8000}
    events = connector().open([l16])
    assert [e.code for e in events if isinstance(e, ProtocolFailed)] == [415]


def test_close_is_answered_after_the_last_events() -> None:
    client = connector()
    client.open([EXTERNAL])
    events = client.send("close", {"reason": "end"})
    assert events == [SessionClosed("end", answered=False)]
    assert client.session.state is State.CLOSING
    assert client.session.receive_binary(b"\xff" * 160, 1.0) == []  # nothing is taken after close
    event = client.session.event([{"type": "transcript", "data": {}}])
    closed = client.session.closed()
    assert event is not None
    assert [replies([Send(text)])[0]["seq"] for text in (event, closed)] == [2, 3]  # opened 1, event 2, closed 3
    assert client.session.event([]) is None


def test_the_entity_follows_genesys_schema_on_the_session_clock() -> None:
    words = (Token("Hi", 1000, 1300, confidence=0.9), Token("there", 1400, 1900, confidence=0.7))
    entity = transcript_entity(
        transcript("Hi there.", words), channel_id=1, shift_ms=18_000, language="en-US", words=True
    )
    assert entity["type"] == "transcript"
    data = entity["data"]
    assert set(data) == {"id", "channelId", "isFinal", "offset", "duration", "alternatives"}
    assert (data["channelId"], data["isFinal"], data["offset"], data["duration"]) == (1, True, "PT19S", "PT1S")
    [alternative] = data["alternatives"]
    assert alternative["confidence"] == 0.8 and alternative["languages"] == ["en-US"]
    [interpretation] = alternative["interpretations"]
    assert interpretation["type"] == "display" and interpretation["transcript"] == "Hi there."
    tokens = interpretation["tokens"]
    assert [(t["value"], t["offset"], t["duration"], t["confidence"]) for t in tokens] == [
        ("Hi", "PT19S", "PT0.3S", 0.9),
        ("there.", "PT19.4S", "PT0.5S", 0.7),
    ]
    assert all(DURATION.fullmatch(t["offset"]) and t["type"] == "word" for t in tokens)
    no_words = transcript_entity(transcript("Hi", words), channel_id=0, shift_ms=0, language="en-US", words=False)
    assert "tokens" not in no_words["data"]["alternatives"][0]["interpretations"][0]


def test_redacted_words_take_the_times_of_the_spoken_words_they_replace() -> None:
    spoken = ("my", "card", "is", "four", "one", "one", "one", "two")
    timings = tuple(Token(w, 100 * i, 100 * i + 80, confidence=0.5 + i / 20) for i, w in enumerate(spoken))
    shown = shown_words(transcript("My card is #####", timings, 0, 800), 0, 0.8)
    assert [w.value for w in shown] == ["My", "card", "is", "#####"]
    masked = shown[-1]
    assert masked.offset_ms >= 200 and masked.offset_ms + masked.duration_ms == 780  # over the spoken digits
    assert masked.confidence <= 0.85  # the least of the words under it
    offsets = [w.offset_ms for w in shown]
    assert offsets == sorted(set(offsets))  # unique and rising


def test_duration_format() -> None:
    assert [duration(ms) for ms in (0, 1, 1500, 61_020)] == ["PT0S", "PT0.001S", "PT1.5S", "PT61.02S"]

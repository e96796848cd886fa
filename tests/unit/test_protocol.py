"""The direct WebSocket API's sans-I/O core: messages in, events out."""

from __future__ import annotations

import json

import pytest

from mediagw.ingress.websocket_api import messages
from mediagw.ingress.websocket_api.protocol import (
    AudioDropped,
    AudioReceived,
    DirectStreamProtocol,
    FinishRequested,
    State,
    StreamFailed,
    StreamStarted,
    VocabularyAccepted,
    VocabularyLimits,
    VocabularyRejected,
)
from mediagw.ingress.websocket_api.status import Status
from mediagw.languages import model_language
from mediagw.transcripts import Token, Transcript

START = json.dumps({"message": "startStream", "sender": {"role": "customer", "externalId": "JD232442"}})


def protocol() -> DirectStreamProtocol:
    return DirectStreamProtocol(["en"], VocabularyLimits(max_phrases=3, max_phrase_chars=20, max_sounds_like=2))


def test_start_applies_the_documented_defaults() -> None:
    events = protocol().receive_text(START)
    assert len(events) == 1 and isinstance(events[0], StreamStarted)
    params = events[0].params
    assert (params.role, params.external_id, params.language, params.sampling_rate, params.encoding) == (
        "customer",
        "JD232442",
        "en-US",
        8000,
        "L16",
    )
    assert params.smart_formatting and not params.detailed_token and not params.audio_recording_allowed
    assert params.redaction_output == "redacted"


def test_full_sequence() -> None:
    p = protocol()
    p.receive_text(START)
    assert p.receive_binary(b"\x00\x00") == [AudioReceived(b"\x00\x00")]
    vocabulary = json.dumps(
        {"message": "updateVocabulary", "phrases": [{"phrase": "IEEE", "soundsLike": ["I triple E"]}]}
    )
    (accepted,) = p.receive_text(vocabulary)
    assert isinstance(accepted, VocabularyAccepted) and accepted.phrases[0].sounds_like == ("i triple e",)
    assert p.receive_text('{"message": "finishStream"}') == [FinishRequested()]
    assert p.state is State.FINISHING
    assert p.receive_binary(b"\x00\x00") == [AudioDropped(2)]
    (failed,) = p.receive_text('{"message": "finishStream"}')
    assert isinstance(failed, StreamFailed) and failed.status is Status.WRONG_MESSAGE_ORDER
    assert p.state is State.CLOSED
    assert p.receive_binary(b"\x00") == [] and p.receive_text(START) == []


def test_vocabulary_limit_counts_across_messages() -> None:
    p = protocol()
    p.receive_text(START)
    two = json.dumps({"message": "updateVocabulary", "phrases": [{"phrase": "a"}, {"phrase": "b"}]})
    assert isinstance(p.receive_text(two)[0], VocabularyAccepted)
    (rejected,) = p.receive_text(two)
    assert isinstance(rejected, VocabularyRejected) and rejected.status is Status.VOCABULARY_LIMIT
    assert p.state is State.STREAMING


@pytest.mark.parametrize(
    ("entry", "status"),
    [
        ({"phrase": "ok", "soundsLike": "not a list"}, Status.VOCABULARY_FORMAT),
        ({"phrase": "ok", "soundsLike": ["日本"]}, Status.VOCABULARY_FORMAT),
        ({"phrase": "ok", "soundsLike": ["a", "b", "c"]}, Status.VOCABULARY_LIMIT),
        ({"phrase": "a phrase that is far too long"}, Status.VOCABULARY_LIMIT),
        ({"soundsLike": ["x"]}, Status.VOCABULARY_FORMAT),
    ],
)
def test_vocabulary_entries_are_validated(entry: dict[str, object], status: Status) -> None:
    p = protocol()
    p.receive_text(START)
    (event,) = p.receive_text(json.dumps({"message": "updateVocabulary", "phrases": [entry]}))
    assert isinstance(event, VocabularyRejected) and event.status is status


def test_language_tags_map_to_model_codes() -> None:
    assert model_language("en-US") == "en"
    assert model_language("es-US") == "es"
    assert model_language("not a tag") == ""


def test_sample_rate_given_as_a_string_of_digits_is_accepted() -> None:
    start = json.dumps(
        {"message": "startStream", "sender": {"role": "agent", "externalId": "a"}, "samplingRate": "8000"}
    )
    assert isinstance(protocol().receive_text(start)[0], StreamStarted)


def test_server_messages_have_the_reference_shape() -> None:
    assert json.loads(messages.start_response("128342213")) == {
        "message": "startResponse",
        "streamID": "128342213",
        "status": {"code": "1000", "description": "OK"},
    }
    transcript = Transcript("s", 0, 0, 1000, "Hi, my ID is 123.", None, 0.0, 0.0)
    assert json.loads(messages.transcript(transcript)) == {
        "message": "transcript",
        "start": 0,
        "end": 1000,
        "utterance": [{"text": "Hi, my ID is 123."}],
    }
    detailed = Transcript("s", 0, 0, 300, "is?", (Token("is", 170, 200, "", "?"),), 0.0, 0.0)
    assert json.loads(messages.transcript(detailed))["utterance"][0]["tokens"] == [
        {"content": "is", "start": 170, "end": 200, "punctuationAfter": "?"}
    ]
    final = json.loads(messages.final_response("1", Status.OK, messages.StreamSummary(300, 6000, 6, 10)))
    assert final["summary"] == {
        "totalAudioBytes": 300,
        "audioDurationMs": 6000,
        "streamingSeconds": 6,
        "transcripts": 10,
    }
    assert json.loads(messages.vocabulary_response(Status.VOCABULARY_FORMAT))["status"] == {
        "code": "4091",
        "description": "Invalid vocabulary format",
    }

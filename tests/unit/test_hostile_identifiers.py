"""Client identifiers are checked for their format and bounded before anything keeps or logs them (issue 15.4)."""

from __future__ import annotations

import json

import pytest

from mediagw.api.control import parse_call
from mediagw.ingress.audiohook.auth import AuthError, Credentials, ReplayCache, sign_upgrade, verify_upgrade
from mediagw.ingress.audiohook.fields import Invalid, bounded_config, bounded_language, parse_participant
from mediagw.ingress.twilio.protocol import CloseCode, ProtocolFailed, StreamStarted, TwilioStream
from mediagw.ingress.websocket_api.protocol import ProtocolError, parse_start_stream
from mediagw.ingress.websocket_api.status import Status
from tests.core import namespaces

CA, MZ, AC = "CA" + "ab" * 16, "MZ" + "cd" * 16, "AC" + "ef" * 16
HUGE = "a" * 60_000


def twilio_start(**start: object) -> list[object]:
    fields = {"callSid": CA, "streamSid": MZ, "accountSid": AC, "tracks": ["inbound"]} | start
    return list(TwilioStream().receive(json.dumps({"event": "start", "streamSid": MZ, "start": fields})))


def test_a_twilio_start_with_well_formed_sids_starts() -> None:
    (event,) = twilio_start(customParameters={"queue": "billing"})
    assert event == StreamStarted(CA, MZ, AC, ("inbound",), {"queue": "billing"})


@pytest.mark.parametrize(
    "start",
    [
        {"callSid": "CA" + HUGE},
        {"callSid": "CA1"},
        {"callSid": "XX" + "ab" * 16},
        {"streamSid": "MZ" + HUGE},
        {"streamSid": "MZ1"},
        {"accountSid": "AC" + HUGE},
        {"customParameters": {"k": HUGE}},
        {"customParameters": {f"k{i}": "v" for i in range(65)}},
    ],
)
def test_a_twilio_start_with_a_malformed_or_oversized_field_closes_with_1003(start: dict[str, object]) -> None:
    (event,) = twilio_start(**start)
    assert isinstance(event, ProtocolFailed) and event.code is CloseCode.UNSUPPORTED_DATA
    assert len(event.reason) < 200


def test_start_streaming_checks_a_twilio_guid_as_the_adapter_does() -> None:
    assert parse_call({"namespace": "twilio", "guid": CA}, namespaces("auto")) == ("twilio", CA)
    with pytest.raises(Exception, match="guid is not a valid twilio"):
        parse_call({"namespace": "twilio", "guid": "CA" + HUGE}, namespaces("auto"))


def test_direct_api_external_id_is_bounded() -> None:
    start = {"type": "startStream", "sender": {"role": "customer", "externalId": HUGE}}
    with pytest.raises(ProtocolError) as error:
        parse_start_stream(start, ["en-US"])
    assert error.value.status is Status.MESSAGE_FORMAT


def test_audiohook_fields_are_bounded() -> None:
    with pytest.raises(Invalid):
        parse_participant({"id": HUGE, "ani": "", "aniName": "", "dnis": ""})
    with pytest.raises(Invalid):
        bounded_language(HUGE, required=True)
    with pytest.raises(Invalid):
        bounded_config({"k": HUGE})
    assert bounded_language(None, required=False) is None and bounded_config({"k": "v"}) == {"k": "v"}


def test_audiohook_correlation_id_is_bounded() -> None:
    identity = Credentials("key", "d7934305-0972-4844-938e-9060eef73d05", "30b0e395-84d3-4570-ac13-9a62d8f514c0", HUGE)
    headers = sign_upgrade(identity, None, path_with_query="/", authority="h", now=0)
    with pytest.raises(AuthError) as error:
        verify_upgrade("GET", "/", headers, api_keys={"key": None}, now=0, replay=ReplayCache(since=0))
    assert error.value.status == 400

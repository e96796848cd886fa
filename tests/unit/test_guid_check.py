"""One siprec guid check: whatever guid_of names a call by, start/stop-streaming accept; configurations that
could never name a call are refused at start-up."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mediagw.api.control import parse_call
from mediagw.api.errors import ApiError
from mediagw.config import ConfigError, SiprecConfig, load_config
from mediagw.ingress.siprec.dialog import Recording
from mediagw.ingress.siprec.recording import guid_of
from mediagw.ingress.siprec.transactions import Peer
from tests.core import namespaces

UCID_UUI = "00FA080002D3DF63111234;encoding=hex"
CALL_ID = "a84b4c76e66710@pc33.atlanta.example.com"


def recording(headers: dict[str, str], call_id: str = CALL_ID) -> Recording:
    return Recording(
        call_id, "a", "b", "sip:src@127.0.0.1", [], "sip:srs", "sip:src", Peer(("127.0.0.1", 5060), "udp"),
        {name.lower(): value for name, value in headers.items()}, None, [], 1,
    )  # fmt: skip


CONFIGS = [
    SiprecConfig(),
    SiprecConfig(guid_source="avaya-ucid"),
    SiprecConfig(guid_source="cisco-guid"),
    SiprecConfig(guid_source="call-id"),
    SiprecConfig(guid_source="header", guid_header="X-Call-Ref"),
    SiprecConfig(guid_source="metadata"),
]
HEADERS = [
    {},
    {"User-to-User": UCID_UUI},
    {"Cisco-Guid": "33B6C93601ED2571846E000000222222"},
    {"X-UCID": "not a ucid"},
    {"X-Call-Ref": "ref 42 with spaces"},
    {"X-Call-Ref": "ref-42@pbx"},
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.guid_source)
@pytest.mark.parametrize("headers", HEADERS)
@pytest.mark.parametrize("call_id", [CALL_ID, "x" * 300])
def test_every_guid_a_call_is_named_by_is_accepted_by_start_streaming(
    config: SiprecConfig, headers: dict[str, str], call_id: str
) -> None:
    guid = guid_of(recording(headers, call_id), config)
    assert parse_call({"namespace": "siprec", "guid": guid}, namespaces(config.guid_source)) == ("siprec", guid)


def test_sources_name_calls_as_configured() -> None:
    assert guid_of(recording({"User-to-User": UCID_UUI}), SiprecConfig()) == "00002542391662063156"
    assert guid_of(recording({}), SiprecConfig(guid_source="call-id")) == CALL_ID
    header = SiprecConfig(guid_source="header", guid_header="X-Call-Ref")
    assert guid_of(recording({"X-Call-Ref": "ref-42@pbx"}), header) == "ref-42@pbx"
    fallback = guid_of(recording({}), SiprecConfig())  # no id at all: a decimal guid from the Call-ID
    assert fallback.isdigit() and fallback == guid_of(recording({}), SiprecConfig(guid_source="cisco-guid"))


@pytest.mark.parametrize("guid", ["not-a-guid", CALL_ID])
def test_decimal_sources_still_refuse_raw_guids(guid: str) -> None:
    with pytest.raises(ApiError) as refused:
        parse_call({"namespace": "siprec", "guid": guid}, namespaces("auto"))
    assert refused.value.code == "400-201"
    assert parse_call({"namespace": "siprec", "guid": guid}, namespaces("call-id")) == ("siprec", guid)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"MEDIAGW_SIPREC__GUID_SOURCE": "header"}, "needs siprec.guid_header"),
        ({"MEDIAGW_SIPREC__GUID_HEADER": "X-UCID"}, "not read with siprec.guid_source auto"),
        ({"MEDIAGW_SIPREC__GUID_SOURCE": "call-id", "MEDIAGW_SIPREC__GUID_HEADER": "X-Ref"}, "not read with"),
        ({"MEDIAGW_SIPREC__GUID_SOURCE": "header", "MEDIAGW_SIPREC__GUID_HEADER": "X@Ref"}, "not a SIP header"),
        ({"MEDIAGW_SIPREC__GUID_SOURCE": "ucid"}, "must be one of auto, header"),
    ],
)
def test_impossible_guid_settings_are_refused_at_start_up(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(environ=settings)


def test_check_config_names_the_impossible_guid_setting() -> None:
    env = {**os.environ, "MEDIAGW_SIPREC__GUID_SOURCE": "header"}
    out = subprocess.run([sys.executable, "-m", "mediagw.cli", "check-config"], capture_output=True, text=True, env=env)
    assert out.returncode == 2 and "siprec.guid_source header needs siprec.guid_header" in out.stderr

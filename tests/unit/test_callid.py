"""Call guid: Avaya UCID and Cisco GUID in the reference's decimal forms, from headers or metadata."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mediagw.ingress.siprec.callid import avaya_ucid_decimal, cisco_guid_decimal, extract_guid
from mediagw.ingress.siprec.metadata import RecordingMetadata

AVAYA = "00002542391662063156"  # the reference's example: node 2, sequence 54239, timestamp 1662063156
AVAYA_UUI = "00FA080002D3DF63111234;encoding=hex"
CISCO = "0867617078-0032318833-2221801472-0002236962"  # the reference's example
CISCO_HEX = "33B6C93601ED2571846E000000222222"


def lookup(values: dict[str, str]) -> Callable[[str], str | None]:
    """Header access as the SIP layer gives it: case-insensitive, None when absent."""
    return lambda name: values.get(name.lower())


@pytest.mark.parametrize(
    "value",
    [
        AVAYA,
        AVAYA_UUI,
        "00fa080002d3df63111234",  # no encoding parameter, lower case
        "0002D3DF63111234",  # the bare UCID
        "00FA080002D3DF63111234C8041234ABCD;encoding=hex;purpose=isdn-uui;content=isdn-uui",  # more IEs after
        "00C8021234FA080002D3DF63111234;encoding=hex",  # another IE before
        " 04FA080002D3DF63111234 ; encoding=hex",
    ],
)
def test_avaya_ucid_forms(value: str) -> None:
    assert avaya_ucid_decimal(value) == AVAYA


def test_avaya_ucid_field_layout() -> None:
    assert avaya_ucid_decimal("00FA080019001C4F5E2D3F;encoding=hex") == "00025000281331572031"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("hello", "neither a 20-digit decimal UCID nor hex"),
        ("00C8021234;encoding=hex", "no UCID IE"),
        ("00FA060002D3DF6311;encoding=hex", "UCID IE is 6 bytes"),
        ("00FA080002D3DF6311;encoding=hex", "truncated"),
        ("00FA080002D3DF63111234;encoding=ascii", "encoding 'ascii' is not supported"),
        ("99999000001662063156", "out of range"),
        ("0002542391662063156", "neither"),  # 19 digits
    ],
)
def test_avaya_ucid_errors(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        avaya_ucid_decimal(value)


@pytest.mark.parametrize(
    "value",
    [
        CISCO,
        CISCO_HEX,
        CISCO_HEX.lower(),
        "33B6C936-01ED2571-846E0000-00222222",
        "33B6C936-01ED-2571-846E-000000222222",
        "867617078-32318833-2221801472-2236962",  # unpadded decimal
    ],
)
def test_cisco_guid_forms(value: str) -> None:
    assert cisco_guid_decimal(value) == CISCO


@pytest.mark.parametrize(
    "value", ["", "1-2-3", "4294967296-0000000000-0000000000-0000000000", "33B6C936-01ED2571-846E0000"]
)
def test_cisco_guid_errors(value: str) -> None:
    with pytest.raises(ValueError, match="Cisco-Guid"):
        cisco_guid_decimal(value)


def test_extract_guid_from_each_source() -> None:
    values = {"user-to-user": AVAYA_UUI, "cisco-guid": CISCO_HEX, "call-id": "abc@10.0.0.1", "x-ucid": " 42 "}
    headers = lookup(values)
    metadata = RecordingMetadata(extension_data={"ucid": "00FA080002D3DF63111234;encoding=hex", "tenant": "acme"})
    assert extract_guid("avaya-ucid", headers, None) == AVAYA
    assert extract_guid("cisco-guid", headers, None) == CISCO
    assert extract_guid("call-id", headers, None) == "abc@10.0.0.1"
    assert extract_guid("header", headers, None, "X-UCID") == "42"
    assert extract_guid("metadata", headers, metadata) == AVAYA
    assert extract_guid("metadata", headers, metadata, "Tenant") == "acme"


def test_extract_guid_absent_and_fallbacks() -> None:
    nothing = lookup({})
    metadata = RecordingMetadata(extension_data={"ucid": AVAYA})
    assert extract_guid("avaya-ucid", nothing, None) is None
    assert extract_guid("avaya-ucid", nothing, metadata) == AVAYA
    assert extract_guid("cisco-guid", nothing, metadata) is None
    assert extract_guid("metadata", nothing, None) is None
    assert extract_guid("header", nothing, None, "X-Guid") is None
    assert extract_guid("call-id", lookup({"i": "compact@host"}), None) == "compact@host"
    # A User-to-User without a UCID does not hide the metadata's.
    other_uui = lookup({"user-to-user": "00C8021234;encoding=hex"})
    assert extract_guid("avaya-ucid", other_uui, metadata) == AVAYA


def test_extract_guid_errors() -> None:
    bad = lookup({"user-to-user": "00C8021234;encoding=hex", "cisco-guid": "nonsense"})
    with pytest.raises(ValueError, match="no UCID IE"):
        extract_guid("avaya-ucid", bad, None)
    with pytest.raises(ValueError, match="Cisco-Guid"):
        extract_guid("cisco-guid", bad, None)
    with pytest.raises(ValueError, match="needs a header name"):
        extract_guid("header", bad, None)
    with pytest.raises(ValueError, match="not one of"):
        extract_guid("ucid", bad, None)

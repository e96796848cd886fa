"""The call's guid in the decimal form start/stop-streaming expects: Avaya UCID, Cisco GUID, or a raw value.

Cisco example: `0867617078-0032318833-2221801472-0002236962`; Avaya example: `00002542391662063156`.
`valid_guid` is the one check of a siprec guid: start/stop-streaming accept exactly what the adapter names
calls by under the configured `siprec.guid_source`.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Callable

from mediagw.ingress.siprec.metadata import RecordingMetadata

SOURCES = ("header", "avaya-ucid", "cisco-guid", "metadata", "call-id")
CONFIG_SOURCES = ("auto", *SOURCES)
DECIMAL_SOURCES = ("auto", "avaya-ucid", "cisco-guid")  # these name calls by the reference's decimal forms only
HEADER_SOURCES = ("header", "avaya-ucid", "cisco-guid", "metadata")  # those that read siprec.guid_header
_DECIMAL_GUID = re.compile(r"[0-9]{1,40}|[0-9]{10}(?:-[0-9]{10}){3}")  # Avaya UCID and the like, Cisco GUID
_RAW_GUID = re.compile(r"[!-~]{1,256}")  # a Call-ID or header value as sent: printable ASCII, no spaces
_HEADER_NAME = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+")  # RFC 3261 token
UCID_IE = 0xFA  # Avaya's UCID information element in User-to-User data
UCID_BYTES = 8  # network node id (2), sequence number (2), timestamp (4)
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
_DECIMAL_UCID = re.compile(r"([0-9]{5})([0-9]{5})([0-9]{10})")
_DECIMAL_WORD = re.compile(r"[0-9]{1,10}")
_HEX_WORD = re.compile(r"[0-9A-Fa-f]{8}")


def avaya_ucid_decimal(value: str) -> str:
    """20 decimal digits (node 5, sequence 5, timestamp 10) from a decimal UCID, a bare 16-hex-digit
    UCID, or User-to-User data carrying the UCID IE (`00FA08<16 hex digits>[more IEs];encoding=hex`)."""
    text = value.strip()
    if match := _DECIMAL_UCID.fullmatch(text):
        node, sequence, timestamp = (int(group) for group in match.groups())
        if node > 0xFFFF or sequence > 0xFFFF or timestamp > 0xFFFFFFFF:
            raise ValueError(f"decimal UCID {text!r} has a field out of range")
        return text
    node, sequence, timestamp = struct.unpack("!HHI", _ucid_bytes(text))
    return f"{node:05d}{sequence:05d}{timestamp:010d}"


def _ucid_bytes(text: str) -> bytes:
    data_text, _, parameters = text.partition(";")
    data_text = data_text.strip()
    encoding = _parameter(parameters, "encoding")
    if encoding is not None and encoding.lower() != "hex":
        raise ValueError(f"User-to-User encoding {encoding!r} is not supported, expected hex")
    if not _HEX.fullmatch(data_text):
        raise ValueError(f"{text!r} is neither a 20-digit decimal UCID nor hex UCID data")
    data = bytes.fromhex(data_text)
    if len(data) == UCID_BYTES:
        return data  # the bare UCID: User-to-User data with the UCID IE is at least 11 bytes
    pos = 0 if data[0] == UCID_IE else 1  # skip the protocol discriminator (00 or 04)
    while pos + 2 <= len(data):
        element, length = data[pos], data[pos + 1]
        content = data[pos + 2 : pos + 2 + length]
        if len(content) < length:
            raise ValueError(f"User-to-User IE 0x{element:02X} at byte {pos} is truncated")
        if element == UCID_IE:
            if length != UCID_BYTES:
                raise ValueError(f"UCID IE is {length} bytes, expected {UCID_BYTES}")
            return content
        pos += 2 + length
    raise ValueError(f"User-to-User data {data_text!r} has no UCID IE (0x{UCID_IE:02X})")


def _parameter(parameters: str, name: str) -> str | None:
    for item in parameters.split(";"):
        key, _, value = item.partition("=")
        if key.strip().lower() == name:
            return value.strip().strip('"')
    return None


def _looks_like_hex_ucid(value: str) -> bool:
    data_text, _, parameters = value.strip().partition(";")
    data_text = data_text.strip().upper()
    if not _HEX.fullmatch(data_text):
        return False
    return len(data_text) == 2 * UCID_BYTES or "FA08" in data_text[:6] or _parameter(parameters, "encoding") is not None


def cisco_guid_decimal(value: str) -> str:
    """Four 10-digit decimal words joined by `-`, from the Cisco-Guid in decimal (4 groups) or 32 hex
    digits (bare, 8-8-8-8 or 8-4-4-4-12)."""
    text = value.strip()
    groups = text.split("-")
    if len(groups) == 4 and all(len(group) == 10 and group.isascii() and group.isdigit() for group in groups):
        words = [int(group) for group in groups]
    elif _is_hex_guid(text, groups):
        compact = text.replace("-", "")
        words = [int(compact[i : i + 8], 16) for i in range(0, 32, 8)]
    elif len(groups) == 4 and all(_DECIMAL_WORD.fullmatch(group) for group in groups):
        words = [int(group) for group in groups]
    else:
        raise ValueError(f"Cisco-Guid {text!r} is neither 4 decimal groups nor 32 hex digits")
    if any(word > 0xFFFFFFFF for word in words):
        raise ValueError(f"Cisco-Guid {text!r} has a group over 32 bits")
    return "-".join(f"{word:010d}" for word in words)


def _is_hex_guid(text: str, groups: list[str]) -> bool:
    if [len(group) for group in groups] not in ([32], [8, 8, 8, 8], [8, 4, 4, 4, 12]):
        return False
    return all(_HEX.fullmatch(group) for group in groups)


def extract_guid(
    source: str,
    headers: Callable[[str], str | None],
    metadata: RecordingMetadata | None,
    header_name: str = "",
) -> str | None:
    """The guid from the configured `source`; None when absent, ValueError when present but malformed.

    `headers(name)` returns the INVITE's header value or None. `header_name` is the header to read for
    "header" (required), "avaya-ucid" (default User-to-User) and "cisco-guid" (default Cisco-Guid), and
    the extension-data key for "metadata" (default `ucid`).
    """
    if source == "header":
        if not header_name:
            raise ValueError("guid source 'header' needs a header name")
        value = headers(header_name)
        return value.strip() if value and value.strip() else None
    if source == "avaya-ucid":
        return _avaya_guid(headers(header_name or "User-to-User"), _extension(metadata, "ucid"))
    if source == "cisco-guid":
        value = headers(header_name or "Cisco-Guid")
        return cisco_guid_decimal(value) if value and value.strip() else None
    if source == "metadata":
        value = _extension(metadata, header_name or "ucid")
        if value is None:
            return None
        return avaya_ucid_decimal(value) if _looks_like_hex_ucid(value) else value
    if source == "call-id":
        value = headers("Call-ID") or headers("i")  # `i` is the compact form (RFC 3261 §7.3.3)
        return value.strip() if value and value.strip() else None
    raise ValueError(f"guid source {source!r} is not one of {', '.join(SOURCES)}")


def _avaya_guid(header_value: str | None, metadata_value: str | None) -> str | None:
    """The UCID from User-to-User, else from the metadata; the header's error stands if neither has one."""
    if header_value and header_value.strip():
        try:
            return avaya_ucid_decimal(header_value)
        except ValueError:
            if metadata_value is None:
                raise
    return avaya_ucid_decimal(metadata_value) if metadata_value is not None else None


def _extension(metadata: RecordingMetadata | None, key: str) -> str | None:
    if metadata is None:
        return None
    if (value := metadata.extension_data.get(key)) is not None:
        return value
    folded = key.lower()
    return next((v for k, v in metadata.extension_data.items() if k.lower() == folded), None)


def valid_guid(guid: str, guid_source: str) -> bool:
    """A siprec guid start/stop-streaming accepts: the decimal forms, and raw values (Call-IDs, header values)
    when `guid_source` names calls by them. `guid_of` names every call by a guid that passes."""
    if _DECIMAL_GUID.fullmatch(guid):
        return True
    return guid_source not in DECIMAL_SOURCES and _RAW_GUID.fullmatch(guid) is not None


def fallback_guid(call_id: str, guid_source: str) -> str:
    """The guid of a call whose configured source gave none: its Call-ID where raw guids are taken; else the
    decimal of the first 16 bytes of SHA-256 of the Call-ID, so the call can still be started."""
    if guid_source not in DECIMAL_SOURCES and _RAW_GUID.fullmatch(call_id):
        return call_id
    return str(int.from_bytes(hashlib.sha256(call_id.encode()).digest()[:16], "big"))


def guid_config_problem(guid_source: str, guid_header: str) -> str | None:
    """Why siprec.guid_source and siprec.guid_header cannot work together, or None."""
    if guid_source not in CONFIG_SOURCES:
        return f"siprec.guid_source must be one of {', '.join(CONFIG_SOURCES)}"
    if guid_source == "header" and not guid_header:
        return "siprec.guid_source header needs siprec.guid_header (the INVITE header that carries the guid)"
    if guid_header and guid_source not in HEADER_SOURCES:
        return f"siprec.guid_header is not read with siprec.guid_source {guid_source}: leave it empty"
    if guid_header and guid_source != "metadata" and not _HEADER_NAME.fullmatch(guid_header):
        return f"siprec.guid_header {guid_header[:40]!r} is not a SIP header name"
    return None

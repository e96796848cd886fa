"""The AudioHook protocol's field types and their parsers: durations, UUIDs, participants, media offers.

A malformed field raises `Invalid` with the protocol's error code; the session answers it with `disconnect`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum
from typing import Any, TypeGuard

RATE = 8000
PREFERRED_CHANNELS = (("external", "internal"), ("internal", "external"), ("external",), ("internal",))
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_DURATION = re.compile(r"PT(\d{1,10}(?:\.\d{0,9})?|\.\d{1,9})S")
MAX_FIELD_CHARS = 256  # a participant's id, ani, aniName or dnis, a language tag: kept per session, so bounded
MAX_CUSTOM_CONFIG_CHARS = 4096  # open's customConfig, as JSON


class ErrorCode(IntEnum):
    """The protocol's HTTP-style codes (as in its `error` message), carried by `ProtocolFailed`."""

    BAD_REQUEST = 400
    UNAUTHORIZED = 401
    CONFLICT = 409
    TOO_LARGE = 413
    UNSUPPORTED_MEDIA = 415
    INTERNAL = 500


@dataclass(frozen=True)
class Participant:
    id: str
    ani: str
    ani_name: str
    dnis: str


class Invalid(Exception):
    """A client message breaks the protocol: answered with `disconnect` carrying `reason` (and `code` in the log)."""

    def __init__(self, reason: str, code: int = ErrorCode.BAD_REQUEST) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


def parse_message(text: str) -> dict[str, Any]:
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        raise Invalid("message is not JSON") from None
    if not isinstance(message, dict):
        raise Invalid("message is not a JSON object")
    return message


def is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_uuid(value: object, name: str) -> str:
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise Invalid(f"{name} is not a UUID")
    return value


def duration_samples(value: object, name: str) -> int:
    """An ISO 8601 duration of seconds ("PT1.25S") as samples at 8 kHz."""
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise Invalid(f"{name} is not a duration like 'PT1.5S'")
    return round(Decimal(match.group(1)) * RATE)


def parse_participant(value: object) -> Participant:
    if not isinstance(value, dict):
        raise Invalid("participant is not an object")
    fields = [value.get(key) for key in ("id", "ani", "aniName", "dnis")]
    if not all(isinstance(item, str) for item in fields):
        raise Invalid("participant needs id, ani, aniName and dnis")
    if any(len(str(item)) > MAX_FIELD_CHARS for item in fields):
        raise Invalid(f"participant fields are at most {MAX_FIELD_CHARS} characters")
    return Participant(*(str(item) for item in fields))


def bounded_language(value: object, required: bool) -> str | None:
    """A language tag as sent (None when absent and not required); not a short string: Invalid."""
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_FIELD_CHARS:
        raise Invalid("language is missing or malformed")
    return value


def bounded_config(value: object) -> dict[str, Any]:
    if not isinstance(value, dict) or len(json.dumps(value, default=str)) > MAX_CUSTOM_CONFIG_CHARS:
        raise Invalid(f"customConfig is not an object of at most {MAX_CUSTOM_CONFIG_CHARS} characters")
    return value


def choose_channels(offers: object) -> tuple[str, ...]:
    """PCMU at 8 kHz, both channels preferred, then external alone, then internal alone; other offers are skipped."""
    if not isinstance(offers, list):
        raise Invalid("media is not a list")
    usable = {_pcmu_channels(offer) for offer in offers}
    for channels in PREFERRED_CHANNELS:
        if channels in usable:
            return channels
    raise Invalid("no media offer this server accepts (PCMU at 8000 Hz)", ErrorCode.UNSUPPORTED_MEDIA)


def _pcmu_channels(offer: object) -> tuple[str, ...]:
    """The channels of an offer of PCMU audio at 8 kHz; () for any other offer."""
    if not isinstance(offer, dict) or [offer.get(key) for key in ("type", "format", "rate")] != ["audio", "PCMU", RATE]:
        return ()
    channels = offer.get("channels")
    if not isinstance(channels, list) or not all(isinstance(channel, str) for channel in channels):
        return ()
    return tuple(channels)

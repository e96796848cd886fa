"""Twilio's namespace: calls named by their Call SID, and start-streaming's `twilioParams` (trackMap)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from mediagw.config import TwilioConfig
from mediagw.core.adapters import Namespace, ParamsInvalid
from mediagw.core.record import ROLES
from mediagw.ingress.twilio.protocol import valid_call_sid

NAMESPACE = "twilio"
DEFAULT_TRACK_MAP = (("inbound", "customer"), ("outbound", "agent"))


@dataclass(frozen=True)
class TwilioParams:
    track_map: tuple[tuple[str, str], ...] = DEFAULT_TRACK_MAP  # (track, role)

    @cached_property
    def roles(self) -> dict[str, str]:
        """track -> role (looked up for every media message)."""
        return dict(self.track_map)

    def role_of(self, track: str) -> str | None:
        return self.roles.get(track)

    @classmethod
    def parse(cls, raw: Any) -> TwilioParams:
        track_map = raw.get("trackMap") if isinstance(raw, dict) else None
        if (
            not isinstance(track_map, dict)
            or set(track_map) - {"inbound", "outbound"}
            or not set(track_map.values()) <= set(ROLES)
            or len(set(track_map.values())) != len(track_map)
        ):
            raise ParamsInvalid("twilioParams.trackMap maps inbound and outbound to customer and agent")
        return cls(tuple(track_map.items()))

    def to_json(self) -> dict[str, Any]:
        return {"trackMap": dict(self.track_map)}


DEFAULT_PARAMS = TwilioParams()


def twilio_namespace(config: TwilioConfig) -> Namespace:
    return Namespace(NAMESPACE, valid_call_sid, "twilioParams", TwilioParams.parse, start_grace_s=config.start_grace_s)

"""The `webrtc` namespace: calls named by the guid of their WHIP URL, and start-streaming's `webrtcParams`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mediagw.core.adapters import Namespace, ParamsInvalid
from mediagw.core.record import ROLES

NAMESPACE = "webrtc"
MAX_TRACKS = 2
DEFAULT_TRACK_ROLES = ("customer", "agent")  # the offer's first audio section is the customer, its second the agent
_GUID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def valid_guid(guid: str) -> bool:
    """A WHIP URL's guid: 1 to 128 letters, digits and `._:-`, starting with a letter or digit."""
    return _GUID.fullmatch(guid) is not None


@dataclass(frozen=True)
class WebrtcParams:
    track_roles: tuple[str, ...] = DEFAULT_TRACK_ROLES  # role of the offer's audio sections, in their order

    def role_of(self, track: int) -> str | None:
        return self.track_roles[track] if track < len(self.track_roles) else None

    def roles(self, tracks: int) -> tuple[str, ...]:
        return self.track_roles[:tracks]

    @classmethod
    def parse(cls, raw: Any) -> WebrtcParams:
        roles = raw.get("trackRoles") if isinstance(raw, dict) else None
        if (
            not isinstance(roles, list)
            or not 1 <= len(roles) <= MAX_TRACKS
            or not all(isinstance(role, str) and role in ROLES for role in roles)
            or len(set(roles)) != len(roles)
        ):
            raise ParamsInvalid("webrtcParams.trackRoles lists the role (customer, agent) of each audio track in order")
        return cls(tuple(roles))

    def to_json(self) -> dict[str, Any]:
        return {"trackRoles": list(self.track_roles)}


DEFAULT_PARAMS = WebrtcParams()


def webrtc_namespace() -> Namespace:
    return Namespace(NAMESPACE, valid_guid, "webrtcParams", WebrtcParams.parse)

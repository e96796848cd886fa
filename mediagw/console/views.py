"""What the console shows of a call: its record and, per role, the media this node holds (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asr.frame import SAMPLE_RATE
from mediagw.core.media import CallMedia
from mediagw.core.record import ROLES, CallRecord

NO_MEDIA, CONNECTED, TRANSCRIBING, PAUSED, ENDING = "no media", "connected", "transcribing", "paused", "ending"
STATES = (NO_MEDIA, CONNECTED, TRANSCRIBING, PAUSED, ENDING)


@dataclass(frozen=True)
class RoleView:
    role: str
    state: str  # one of STATES
    media_ms: int  # audio received for the role, transcribed or not
    stream_id: str  # of the call's newest leg ("" before any start)
    node: str  # the node holding its media ("" none)
    last_transcript_at: float | None  # wall clock of its last transcript on that node

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "state": self.state,
            "mediaMs": self.media_ms,
            "streamId": self.stream_id,
            "node": self.node,
            "lastTranscriptAt": self.last_transcript_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RoleView:
        last = data["lastTranscriptAt"]
        return cls(
            str(data["role"]),
            str(data["state"]),
            int(data["mediaMs"]),
            str(data["streamId"]),
            str(data["node"]),
            None if last is None else float(last),
        )


@dataclass(frozen=True)
class CallView:
    namespace: str
    guid: str
    legs: int
    started: bool
    pending: bool
    ending: bool
    customer_id: str
    agent_id: str
    roles: tuple[RoleView, ...]

    @property
    def key(self) -> str:
        return key_of(self.namespace, self.guid)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "namespace": self.namespace,
            "guid": self.guid,
            "legs": self.legs,
            "started": self.started,
            "pending": self.pending,
            "ending": self.ending,
            "customerId": self.customer_id,
            "agentId": self.agent_id,
            "roles": [role.to_json() for role in self.roles],
        }


def key_of(namespace: str, guid: str) -> str:
    return f"{namespace}/{guid}"


def role_state(media: CallMedia | None, role: str, ending: bool) -> str:
    if ending:
        return ENDING
    if media is None or media.connected.get(role, 0) <= 0:
        return NO_MEDIA
    if media.paused.get(role, False):
        return PAUSED
    return TRANSCRIBING if role in media.running_roles else CONNECTED


def local_role(record: CallRecord | None, media: CallMedia | None, role: str, node: str) -> RoleView:
    """A role as this node sees it: its media if held here, else what the record says."""
    ending = record is not None and record.ending
    leg = record.leg if record is not None else None
    stream_id = leg.participant(role).stream_id if leg is not None else ""
    if media is not None:
        return RoleView(
            role,
            role_state(media, role, ending),
            media.media_ms(role),
            stream_id,
            node if media.connected.get(role, 0) > 0 else "",
            media.last_transcript_at.get(role),
        )
    samples = record.media_samples.get(role, 0) if record is not None else 0
    owner = record.media_nodes.get(role, "") if record is not None else ""
    return RoleView(role, ENDING if ending else NO_MEDIA, samples * 1000 // SAMPLE_RATE, stream_id, owner, None)


def call_view(
    record: CallRecord | None, media: CallMedia | None, node: str, remote: dict[str, RoleView] | None = None
) -> CallView | None:
    """The call's row, or None when neither its record nor its media is known here. `remote`: roles whose media
    another node holds, as that node last said (a cluster)."""
    if record is None and media is None:
        return None
    namespace = record.namespace if record is not None else media.namespace  # type: ignore[union-attr]
    guid = record.guid if record is not None else media.guid  # type: ignore[union-attr]
    roles = []
    for role in ROLES:
        here = media is not None and media.connected.get(role, 0) > 0
        elsewhere = remote.get(role) if remote else None
        roles.append(elsewhere if elsewhere is not None and not here else local_role(record, media, role, node))
    leg = record.leg if record is not None else None
    return CallView(
        namespace,
        guid,
        len(record.legs) if record is not None else 0,
        record.started if record is not None else bool(media and media.transcribing),
        record.pending if record is not None else False,
        record.ending if record is not None else False,
        leg.customer_id if leg is not None else "",
        leg.agent_id if leg is not None else "",
        tuple(roles),
    )

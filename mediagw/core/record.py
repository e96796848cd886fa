"""A call record: what any node must know of a call, as plain frozen data that round-trips through JSON.

A record never holds a running object. Node media (pipelines, sockets, readers) lives in `core/media.py` on the
node named by `media_nodes`; the record says which node that is, so a registry shared by several nodes (Redis,
issue 19) can forward start/stop there. Every change is a new record; the registry swaps them by version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from asr.frame import SAMPLE_RATE

ROLES = ("customer", "agent")
LOCAL_NODE = "local"  # the one node of the single-process default
REDACTION_OUTPUTS = ("redacted", "unredacted", "redacted_and_unredacted")


class AdapterParams(Protocol):
    """An adapter's own start-streaming parameters (twilioParams, siprecParams...), typed by the adapter."""

    def to_json(self) -> dict[str, Any]: ...


ParamsDecoder = Callable[[str, Mapping[str, Any]], AdapterParams | None]  # (namespace, JSON) -> the adapter's type


@dataclass(frozen=True)
class TranscriptionParams:
    language: str = ""  # IETF tag; empty: none named, the call's media language (else en-US) applies
    detailed_token: bool = False
    audio_recording_allowed: bool = False
    redaction_output: str = "redacted"
    smart_formatting: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "detailedToken": self.detailed_token,
            "audioRecordingAllowed": self.audio_recording_allowed,
            "redactionOutput": self.redaction_output,
            "smartFormatting": self.smart_formatting,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TranscriptionParams:
        return cls(
            data["language"],
            data["detailedToken"],
            data["audioRecordingAllowed"],
            data["redactionOutput"],
            data["smartFormatting"],
        )


@dataclass(frozen=True)
class StreamStats:
    """What one participant's stream did while transcription was on, for stop-streaming's summary."""

    audio_samples: int = 0  # processed: received while transcription was on
    streaming_s: float = 0.0
    transcripts: int = 0

    @property
    def audio_ms(self) -> int:
        return self.audio_samples * 1000 // SAMPLE_RATE


@dataclass(frozen=True)
class Participant:
    role: str
    stream_id: str
    external_id: str
    stats: StreamStats = StreamStats()


@dataclass(frozen=True)
class Leg:
    """One agent's part of the call: a changed agentId on a start begins a new leg with new stream ids."""

    id: str
    agent_id: str
    customer_id: str
    participants: tuple[Participant, ...]  # in ROLES order

    def participant(self, role: str) -> Participant:
        return next(p for p in self.participants if p.role == role)


@dataclass(frozen=True)
class CallRecord:
    namespace: str
    guid: str
    legs: tuple[Leg, ...] = ()
    params: TranscriptionParams = TranscriptionParams()
    adapter_params: AdapterParams | None = None  # the last start's parameters for the call's own adapter
    started: bool = False  # transcription on (start-streaming answered OK, no stop since)
    pending: bool = False  # a start or stop is being processed: another one is 409-202
    ending: bool = False  # the media is ending (SIPREC BYE): 409-203
    media_samples: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(ROLES, 0))  # as of the last stop
    media_nodes: Mapping[str, str] = field(default_factory=dict)  # role -> the node holding its media
    version: int = 0  # bumped by the registry on every swap (compare-and-set)

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.guid)

    @property
    def leg(self) -> Leg | None:
        return self.legs[-1] if self.legs else None

    def roles_of(self, node: str) -> tuple[str, ...]:
        """The roles whose counts `node` writes: those whose media it holds, and those nobody holds."""
        return tuple(role for role in ROLES if self.media_nodes.get(role, node) == node)

    def with_leg(self, leg: Leg) -> CallRecord:
        """`leg` replaces the leg of its id, or is appended as the newest."""
        if any(each.id == leg.id for each in self.legs):
            return replace(self, legs=tuple(leg if each.id == leg.id else each for each in self.legs))
        return replace(self, legs=(*self.legs, leg))

    def to_json(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "guid": self.guid,
            "legs": [_leg_json(leg) for leg in self.legs],
            "params": self.params.to_json(),
            "adapterParams": self.adapter_params.to_json() if self.adapter_params is not None else None,
            "started": self.started,
            "pending": self.pending,
            "ending": self.ending,
            "mediaSamples": dict(self.media_samples),
            "mediaNodes": dict(self.media_nodes),
            "version": self.version,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], decode_params: ParamsDecoder) -> CallRecord:
        raw_params = data["adapterParams"]
        return cls(
            data["namespace"],
            data["guid"],
            tuple(_leg_of(leg) for leg in data["legs"]),
            TranscriptionParams.from_json(data["params"]),
            decode_params(data["namespace"], raw_params) if raw_params is not None else None,
            data["started"],
            data["pending"],
            data["ending"],
            {str(role): int(n) for role, n in data["mediaSamples"].items()},
            {str(role): str(node) for role, node in data["mediaNodes"].items()},
            data["version"],
        )


def _leg_json(leg: Leg) -> dict[str, Any]:
    return {
        "id": leg.id,
        "agentId": leg.agent_id,
        "customerId": leg.customer_id,
        "participants": [
            {
                "role": p.role,
                "streamId": p.stream_id,
                "externalId": p.external_id,
                "audioSamples": p.stats.audio_samples,
                "streamingSeconds": p.stats.streaming_s,
                "transcripts": p.stats.transcripts,
            }
            for p in leg.participants
        ],
    }


def _leg_of(data: Mapping[str, Any]) -> Leg:
    participants = tuple(
        Participant(
            p["role"],
            p["streamId"],
            p["externalId"],
            StreamStats(p["audioSamples"], p["streamingSeconds"], p["transcripts"]),
        )
        for p in data["participants"]
    )
    return Leg(data["id"], data["agentId"], data["customerId"], participants)

"""The start/stop rules of a call, as pure functions of its record: which request a call takes (the 400/409
codes), which leg a start continues, and what a start or stop reports per stream. No I/O, no HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from mediagw.core.record import ROLES, AdapterParams, CallRecord, Leg, Participant, StreamStats, TranscriptionParams


class CallRefused(Exception):
    """A start or stop the call does not take: the API's status and documented code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class StreamStatus:
    """A stream's status in a start/stop answer: an Application Status Code from the reference and its text."""

    code: int
    description: str


OK = StreamStatus(1000, "OK")
NO_INSTANCES = StreamStatus(5002, "No instances available")  # the ASR backlog is over asr.max_backlog
SHUTTING_DOWN = StreamStatus(5001, "Service shutting down")  # draining: no new pulled media


@dataclass(frozen=True)
class StreamSummary:
    total_audio_bytes: int  # all received, started or not, as 16-bit PCM
    audio_duration_ms: int  # received while transcription was on
    streaming_seconds: int
    transcripts: int


@dataclass(frozen=True)
class StreamReport:
    role: str
    stream_id: str
    status: StreamStatus
    summary: StreamSummary | None = None


def _new_stream_id() -> str:
    return str(uuid.uuid1())


def _new_leg_id() -> str:
    return str(uuid.uuid4())


class CallRules:
    def __init__(self, stream_id: Callable[[], str] = _new_stream_id, leg_id: Callable[[], str] = _new_leg_id) -> None:
        self._stream_id = stream_id
        self._leg_id = leg_id

    @staticmethod
    def admit(record: CallRecord | None) -> CallRecord:
        """A start or stop may act on the call now (400-203, 409-203, 409-202 otherwise)."""
        if record is None:
            raise CallRefused(400, "400-203", "No call with specified guid found")
        if record.ending:
            raise CallRefused(409, "409-203", "SIPREC BYE being processed")
        if record.pending:
            raise CallRefused(409, "409-202", "Another API request for same guid is pending")
        return record

    def admit_start(self, record: CallRecord | None) -> CallRecord:
        record = self.admit(record)
        if record.started:
            raise CallRefused(409, "409-201", "Call transcription already started")
        return record

    def admit_stop(self, record: CallRecord | None) -> CallRecord:
        record = self.admit(record)
        if not record.started:
            raise CallRefused(409, "409-201", "Call transcription already stopped")
        return record

    def claimed(self, record: CallRecord) -> CallRecord:
        """The edit that marks a start or stop in progress (checked again on the record it applies to)."""
        return replace(self.admit(record), pending=True)

    @staticmethod
    def released(record: CallRecord) -> CallRecord:
        return replace(record, pending=False)

    @staticmethod
    def lingered_out(record: CallRecord) -> CallRecord | None:
        """A call whose media did not come back by its linger deadline (core/node.py), as the node holding it would
        leave it: forgotten (None) unless transcription is on; a started call keeps its record, counts included,
        for its stop (answered from the record), with no node holding its media and no request or BYE left in
        progress by a node that died."""
        if not record.started:
            return None
        return replace(record, media_nodes={}, pending=False, ending=False)

    def leg_for(self, record: CallRecord, customer_id: str, agent_id: str) -> Leg:
        """The leg a start with these ids continues (same agent) or begins (new stream ids)."""
        leg = record.leg
        if leg is not None and leg.agent_id == agent_id:
            return leg
        participants = tuple(
            Participant(role, self._stream_id(), customer_id if role == "customer" else agent_id) for role in ROLES
        )
        return Leg(self._leg_id(), agent_id, customer_id, participants)

    @staticmethod
    def started(
        record: CallRecord, leg: Leg, params: TranscriptionParams, adapter_params: AdapterParams | None
    ) -> CallRecord:
        return replace(record.with_leg(leg), params=params, adapter_params=adapter_params, started=True)

    @staticmethod
    def counted(
        record: CallRecord, stats: Mapping[str, StreamStats], media_samples: Mapping[str, int], roles: tuple[str, ...]
    ) -> CallRecord:
        """One node's share of the call's counts: `roles`' streams keep what they did (`stats` by stream id,
        cumulative) and their media clocks; another node's roles keep what it wrote."""
        leg = record.leg
        if leg is not None:
            participants = tuple(
                replace(p, stats=stats.get(p.stream_id, p.stats)) if p.role in roles else p for p in leg.participants
            )
            record = record.with_leg(replace(leg, participants=participants))
        clock = {**record.media_samples, **{role: n for role, n in media_samples.items() if role in roles}}
        return replace(record, media_samples=clock)

    @classmethod
    def stopped(
        cls,
        record: CallRecord,
        stats: Mapping[str, StreamStats],
        media_samples: Mapping[str, int],
        roles: tuple[str, ...] = ROLES,
    ) -> CallRecord:
        """Transcription off; `roles`' counts as `counted`."""
        return replace(cls.counted(record, stats, media_samples, roles), started=False)

    @staticmethod
    def reports(
        record: CallRecord, leg: Leg, status: StreamStatus = OK, summary: bool = False
    ) -> tuple[StreamReport, ...]:
        """Each participant's answer: its stream id and status, and after a stop what it did."""
        return tuple(
            StreamReport(
                p.role,
                p.stream_id,
                status,
                StreamSummary(
                    record.media_samples.get(p.role, 0) * 2,
                    p.stats.audio_ms,
                    round(p.stats.streaming_s),
                    p.stats.transcripts,
                )
                if summary
                else None,
            )
            for p in leg.participants
        )

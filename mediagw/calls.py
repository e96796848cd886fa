"""Calls of the media gateway namespaces and the start/stop gate on their two streams.

A call is identified by (namespace, guid) and is known once its media has connected (the ingress adapter
registers it). start-streaming opens transcription on both participants' streams; stop-streaming pauses it.
A changed agentId on a later start begins a new leg with new stream ids; within a leg they stay the same.
Media keeps flowing in between: it is counted, never transcribed, while stopped.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from asr.frame import SAMPLE_RATE, Pcm
from mediagw.languages import DEFAULT_LANGUAGE, model_language

ROLES = ("customer", "agent")


@dataclass(frozen=True)
class TranscriptionParams:
    language: str = ""  # IETF tag; empty: none named, the call's media language (else en-US) applies
    detailed_token: bool = False
    audio_recording_allowed: bool = False
    redaction_output: str = "redacted"
    smart_formatting: bool = True


@dataclass(frozen=True)
class MediaError:
    """Why a call's media stopped coming (a pulled stream that failed): an Application Status Code from the
    reference (4051, 4053, 4080, 4082, 5000) and a description, returned as the streams' status."""

    code: int
    description: str


@dataclass
class StreamStats:
    """What one participant's stream did while transcription was on, for stop-streaming's summary."""

    audio_samples: int = 0  # processed: received while transcription was on

    @property
    def audio_ms(self) -> int:
        return self.audio_samples * 1000 // SAMPLE_RATE

    streaming_s: float = 0.0
    transcripts: int = 0


@dataclass
class Participant:
    role: str
    stream_id: str
    external_id: str
    stats: StreamStats = field(default_factory=StreamStats)


@dataclass
class Leg:
    id: str
    agent_id: str
    customer_id: str
    participants: dict[str, Participant]


class Transcription(Protocol):
    """A participant's running pipeline, as the gate sees it."""

    def push(self, samples: Pcm) -> None: ...

    def set_language(self, code: str) -> None:
        """Decode (and format) the utterances that close from now on in this ISO 639-1 language."""

    async def finish(self) -> int:
        """Flush; return the number of transcripts it delivered."""


TranscriptionFactory = Callable[["Call", Participant], Transcription]


@dataclass(slots=True)
class Running:
    """A participant's transcription while started, and since when (for streamingDurationSeconds)."""

    transcription: Transcription
    participant: Participant
    since: float


class Call:
    def __init__(self, namespace: str, guid: str, extra: dict[str, Any] | None = None) -> None:
        self.namespace = namespace
        self.guid = guid
        self.extra = extra or {}  # adapter details (SIPREC m-line order, Twilio tracks...)
        self.legs: list[Leg] = []
        self.params = TranscriptionParams()
        self.transcribing = False
        self.pending = False  # a start or stop is being processed: another one is 409-202
        self.ending = False  # SIPREC BYE being processed: 409-203
        self._running: dict[str, Running] = {}
        self.media_samples = dict.fromkeys(ROLES, 0)  # per role: audio received since its first, started or not
        self.media_sources = 0  # connected media streams (sockets, RTP sessions) feeding this call
        self.media_error: MediaError | None = None  # the media source failed (Amazon Connect's KVS reader)
        self.media_language = ""  # the language the media's own signalling names (AudioHook open/update, Twilio)
        self._factory: TranscriptionFactory | None = None
        self._draining: list[asyncio.Future[None]] = []
        self.on_started: list[Callable[[Call], Awaitable[None]]] = []  # e.g. Amazon Connect starts its reader
        self.on_stopping: list[Callable[[Call], Awaitable[None]]] = []  # before stop-streaming flushes

    def media_ms(self, role: str) -> int:
        return self.media_samples[role] * 1000 // SAMPLE_RATE

    @property
    def language(self) -> str:
        """The language transcribed, as an ISO 639-1 code: start-streaming's, else the media's, else en-US's."""
        return model_language(self.params.language or self.media_language or DEFAULT_LANGUAGE)

    def media_language_changed(self, tag: str) -> bool:
        """The media says its language changed (AudioHook `update`): running streams follow it unless the start
        named a language (that one was asked for). True when the streams follow it."""
        self.media_language = tag
        if self.params.language:
            return False
        for running in self._running.values():
            running.transcription.set_language(self.language)
        return True

    @property
    def leg(self) -> Leg | None:
        return self.legs[-1] if self.legs else None

    def begin(
        self, customer_id: str, agent_id: str, params: TranscriptionParams, factory: TranscriptionFactory, now: float
    ) -> Leg:
        """start-streaming: same leg (same stream ids) unless the agent changed."""
        leg = self.leg_for(customer_id, agent_id)
        self.params = params
        self.transcribing = True
        self._factory = factory
        self._running = {role: Running(factory(self, p), p, now) for role, p in leg.participants.items()}
        return leg

    def leg_for(self, customer_id: str, agent_id: str) -> Leg:
        """The leg a start with these ids continues (same agent) or begins; a refused start names its streams."""
        leg = self.leg
        if leg is None or leg.agent_id != agent_id:
            participants = {
                role: Participant(role, str(uuid.uuid1()), customer_id if role == "customer" else agent_id)
                for role in ROLES
            }
            leg = Leg(str(uuid.uuid4()), agent_id, customer_id, participants)
            self.legs.append(leg)
        return leg

    async def media_ended(self, roles: tuple[str, ...], now: float) -> None:
        """A media source for `roles` went away: what it said so far is flushed and transcribed; a source
        that comes back (a new socket for the same call) continues on fresh pipelines of the same streams."""
        flushes = []
        for role in roles:
            running = self._running.pop(role, None)
            if running is None:
                continue
            if self.transcribing and self._factory is not None:
                participant = running.participant
                self._running[role] = Running(self._factory(self, participant), participant, now)
            flushes.append(asyncio.ensure_future(self._flush(running, now)))
        self._draining.extend(flushes)
        try:
            await asyncio.gather(*flushes)
        finally:
            for flush in flushes:
                self._draining.remove(flush)

    @staticmethod
    async def _flush(running: Running, now: float) -> None:
        stats = running.participant.stats
        stats.transcripts += await running.transcription.finish()
        stats.streaming_s += now - running.since

    async def end(self, now: float) -> Leg:
        """stop-streaming: flush both streams (pending audio is transcribed), keep their statistics."""
        leg = self.leg
        assert leg is not None
        self.transcribing = False
        if self._draining:  # streams that ended just before: their last utterances belong in this summary
            await asyncio.gather(*self._draining, return_exceptions=True)
        running, self._running = self._running, {}
        for each in running.values():
            await self._flush(each, now)
        return leg

    def push(self, role: str, samples: Pcm) -> None:
        """Media from the adapter: always advances the clock, transcribed only while started."""
        transcription = self.count(role, len(samples))
        if transcription is not None:
            transcription.push(samples)

    def count(self, role: str, sample_count: int) -> Transcription | None:
        """Advance `role`'s clock by `sample_count`; return its transcription when that audio is wanted, so an
        adapter decodes only the audio that will be transcribed."""
        if role not in self.media_samples:
            return None
        self.media_samples[role] += sample_count
        running = self._running.get(role)
        if running is None:
            return None
        running.participant.stats.audio_samples += sample_count
        return running.transcription


class CallRegistry(Protocol):
    """Where calls live: in memory for one node; a shared (Redis) registry for several."""

    def get(self, namespace: str, guid: str) -> Call | None: ...

    def add(self, call: Call) -> None: ...

    def remove(self, namespace: str, guid: str) -> None: ...

    def __iter__(self) -> Iterator[Call]: ...


class InMemoryCallRegistry:
    def __init__(self) -> None:
        self._calls: dict[tuple[str, str], Call] = {}

    def get(self, namespace: str, guid: str) -> Call | None:
        return self._calls.get((namespace, guid))

    def add(self, call: Call) -> None:
        self._calls[(call.namespace, call.guid)] = call

    def remove(self, namespace: str, guid: str) -> None:
        self._calls.pop((namespace, guid), None)

    def __iter__(self) -> Iterator[Call]:
        return iter(list(self._calls.values()))

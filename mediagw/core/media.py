"""A call's node media: what only the node holding the call's media has (running transcriptions, the media
clock, the media's own language and failures). It never leaves its node; the call record says where it is."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from asr.frame import SAMPLE_RATE, Pcm
from mediagw.core.frames import Frame, fill_gap
from mediagw.core.record import ROLES, AdapterParams, Participant, StreamStats, TranscriptionParams
from mediagw.core.rules import StreamStatus
from mediagw.languages import DEFAULT_LANGUAGE, model_language


class Transcription(Protocol):
    """A participant's running pipeline, as the media sees it."""

    def push(self, samples: Pcm) -> None: ...

    def set_language(self, code: str) -> None:
        """Decode (and format) the utterances that close from now on in this ISO 639-1 language."""

    async def finish(self) -> int:
        """Flush; return the number of transcripts it delivered."""


TranscriptionFactory = Callable[["CallMedia", Participant], Transcription]


def _nothing() -> None:
    pass


@dataclass(slots=True)
class LiveStats:
    """A stream's running statistics (StreamStats once frozen into the record at a stop)."""

    audio_samples: int = 0
    streaming_s: float = 0.0
    transcripts: int = 0

    def frozen(self) -> StreamStats:
        return StreamStats(self.audio_samples, self.streaming_s, self.transcripts)

    def absorb(self, stats: StreamStats) -> None:
        """Counts the record kept (another node's share, before a failover) are where these go on from."""
        self.audio_samples = max(self.audio_samples, stats.audio_samples)
        self.streaming_s = max(self.streaming_s, stats.streaming_s)
        self.transcripts = max(self.transcripts, stats.transcripts)


@dataclass(slots=True)
class Running:
    """A participant's transcription while started, and since when (for streamingDurationSeconds)."""

    transcription: Transcription
    participant: Participant
    stats: LiveStats
    since: float


class CallMedia:
    def __init__(self, namespace: str, guid: str, on_change: Callable[[], None] | None = None) -> None:
        self.namespace = namespace
        self.guid = guid
        self.clock = dict.fromkeys(ROLES, 0)  # per role: samples received since its first, started or not
        self.sources = 0  # attached media sources (sockets, SIPREC recordings, KVS readers)
        self.connected = dict.fromkeys(ROLES, 0)  # per role: the attached sources carrying it
        self.paused = dict.fromkeys(ROLES, False)  # per role: its last frame was silence (a pause, keyed DTMF)
        self.last_transcript_at: dict[str, float] = {}  # per role: wall clock of its last transcript out
        self._on_change = on_change or _nothing  # its watchers (core/watch.py): what they show changed
        self.error: StreamStatus | None = None  # the media source failed (a pulled stream: Amazon Connect)
        self.media_language = ""  # the language the media's own signalling names (AudioHook, Twilio)
        self.params = TranscriptionParams()
        self.adapter_params: AdapterParams | None = None  # the start's, for the adapter (trackMap...)
        self.transcribing = False
        self._running: dict[str, Running] = {}
        self._stats: dict[str, LiveStats] = {}  # by stream id: what a leg's streams did, across starts
        self._factory: TranscriptionFactory | None = None
        self._draining: list[asyncio.Future[None]] = []

    @property
    def conversation_id(self) -> str:
        return f"{self.namespace}:{self.guid}"

    @property
    def running_roles(self) -> tuple[str, ...]:
        """The roles being transcribed now."""
        return tuple(self._running)

    def changed(self) -> None:
        self._on_change()

    def media_ms(self, role: str) -> int:
        return self.clock[role] * 1000 // SAMPLE_RATE

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

    def begin(
        self,
        participants: Iterable[Participant],
        params: TranscriptionParams,
        adapter_params: AdapterParams | None,
        factory: TranscriptionFactory,
        now: float,
    ) -> None:
        """Transcription on for the participants (start-streaming); `adapter_params` None keeps the last start's."""
        self.params = params
        self.adapter_params = adapter_params or self.adapter_params
        self.transcribing = True
        self._factory = factory
        self._running = {p.role: self._run(factory(self, p), p, now) for p in participants}
        self._on_change()

    def run(self, participant: Participant, transcription: Transcription, now: float) -> None:
        """A stream its own adapter started (the direct API's startStream): no restart when its media goes."""
        self.transcribing = True
        self._running[participant.role] = self._run(transcription, participant, now)
        self._on_change()

    def _run(self, transcription: Transcription, participant: Participant, now: float) -> Running:
        stats = self._stats.setdefault(participant.stream_id, LiveStats())
        stats.absorb(participant.stats)
        return Running(transcription, participant, stats, now)

    def absorb_clock(self, media_samples: Mapping[str, int], roles: Iterable[str]) -> None:
        """The media of `roles` moved here: their clocks go on from what the record kept (totalAudioBytes)."""
        for role in roles:
            if role in self.clock:
                self.clock[role] = max(self.clock[role], media_samples.get(role, 0))

    @property
    def audio_samples(self) -> int:
        """Transcribed audio so far of the stream that has the most (what a periodic write of the counts compares:
        each stream's counts are then at most that interval behind, whatever the number of streams)."""
        return max((live.audio_samples for live in self._stats.values()), default=0)

    def take(self, role: str, frame: Frame, gap: int) -> None:
        """Media from an adapter, `gap` samples after where its source left off (negative: an overlap, whose
        repeated part is dropped). Always advances the clock; transcribed only while started."""
        count = frame.sample_count + gap
        if count <= 0 or role not in self.clock:
            return
        self.clock[role] += count
        if (frame.payload is None) is not self.paused[role]:
            self.paused[role] = frame.payload is None
            self._on_change()
        running = self._running.get(role)
        if running is None:
            return
        running.stats.audio_samples += count
        transcription = running.transcription
        if gap > 0:
            transcription.push(fill_gap(gap))
        samples = frame.pcm()
        transcription.push(samples if gap >= 0 else samples[-gap:])

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
                self._running[role] = self._run(self._factory(self, participant), participant, now)
            flushes.append(asyncio.ensure_future(self._flush(running, now)))
        if self._factory is None and not self._running:  # a self-started stream (direct API) is over
            self.transcribing = False
        self._draining.extend(flushes)
        try:
            await asyncio.gather(*flushes)
        finally:
            for flush in flushes:
                self._draining.remove(flush)

    def halt(self, roles: tuple[str, ...], now: float) -> asyncio.Future[list[None]]:
        """Self-started streams stop here (at once: streams started next are not touched) and flush (an AudioHook
        connector's pause); the media goes on. Await the result for their last transcripts."""
        running = [self._running.pop(role) for role in roles if role in self._running]
        if self._factory is None and not self._running:
            self.transcribing = False
        if running:
            self._on_change()
        return asyncio.gather(*(self._flush(each, now) for each in running))

    @staticmethod
    async def _flush(running: Running, now: float) -> None:
        running.stats.transcripts += await running.transcription.finish()
        running.stats.streaming_s += now - running.since

    async def end(self, now: float) -> dict[str, StreamStats]:
        """stop-streaming: flush every stream (pending audio is transcribed); what each did, by stream id."""
        self.transcribing = False
        self._factory = None
        self._on_change()
        if self._draining:  # streams that ended just before: their last utterances belong in this summary
            await asyncio.gather(*self._draining, return_exceptions=True)
        running, self._running = self._running, {}
        for each in running.values():
            await self._flush(each, now)
        return self.stats()

    def stats(self) -> dict[str, StreamStats]:
        return {stream_id: live.frozen() for stream_id, live in self._stats.items()}

"""The spool of untranscribed audio: what the shutdown deadline left undecoded, kept to transcribe after a restart.

Each such utterance is a row of the store's `untranscribed` table (its stream, hence call and role; its speech's
media time span; the stream's transcription settings; its state) and, where the stream allowed recording
(`audioRecordingAllowed`), a WAV file in `data_dir/spool/`, 0600 like every file under data_dir.

Why WAV files beside the database rather than FLAC or blobs: the spool is written at the worst moment, the
shutdown deadline, so writing must cost no CPU and no codec (8 kHz 16-bit mono is 16 kB a second, and a spool holds
seconds to minutes of it); the standard library writes and reads it; an operator can play a file; and the database
stays small, its rows kept by the store interface with the transcripts.

States: `spooled` (audio kept, to transcribe), `lost` (recording not allowed: the record of what went
untranscribed, no audio), `delivered` (transcribed after a restart: `utterance_id` names the late utterance,
committed in the same transaction, so it is delivered once), `empty` (the audio held no words), `failed` (given up
after `MAX_ATTEMPTS` restarts that could not transcribe it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import wave
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from ulid import ULID

from asr.frame import SAMPLE_RATE, Pcm
from mediagw.outputs.files import private_directory, private_fd
from mediagw.outputs.store import PendingUntranscribed, TranscriptStore, Untranscribed

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
SPOOLED, LOST, DELIVERED, EMPTY, FAILED = "spooled", "lost", "delivered", "empty", "failed"


class UntranscribedAudio(Protocol):
    """What the pipeline hands over (mediagw.pipeline.UtteranceUntranscribed)."""

    @property
    def stream_id(self) -> str: ...
    @property
    def start_ms(self) -> int: ...
    @property
    def end_ms(self) -> int: ...
    @property
    def audio_start_ms(self) -> int: ...
    @property
    def samples(self) -> Pcm: ...
    @property
    def language(self) -> str: ...


@dataclass(frozen=True)
class SpoolSettings:
    """How a stream's spooled utterances are transcribed and delivered: its start's parameters."""

    smart_formatting: bool = True
    redaction_output: str = "redacted"
    detailed_token: bool = False
    keep_audio: bool = False  # audioRecordingAllowed
    language: str = "en"  # ISO 639-1: the utterance's (rows kept before languages existed read English)


@dataclass(frozen=True)
class SpooledUtterance:
    """A row waiting for a restart to transcribe it, with what its delivery needs from its stream."""

    id: str
    stream_id: str
    start_ms: int
    end_ms: int
    audio_start_ms: int
    audio_file: str
    settings: SpoolSettings
    attempts: int
    namespace: str
    conversation_external_id: str
    role: str
    participant_id: str


class AudioSpool:
    def __init__(self, directory: Path, store: TranscriptStore) -> None:
        self.directory = directory
        self._store = store

    async def keep(self, utterance: UntranscribedAudio, settings: SpoolSettings) -> str:
        """Record an untranscribed utterance (and its audio, where allowed); returns its state."""
        item_id = str(ULID())
        audio_file = None
        if settings.keep_audio:
            audio_file = f"{item_id}.wav"
            await asyncio.to_thread(self._write, audio_file, utterance.samples)
        state = SPOOLED if audio_file else LOST
        await self._store.add_untranscribed(
            Untranscribed(
                item_id,
                utterance.stream_id,
                utterance.start_ms,
                utterance.end_ms,
                utterance.audio_start_ms,
                audio_file,
                json.dumps(asdict(settings)),
                state,
            )
        )
        return state

    async def pending(self, limit: int = 100) -> list[SpooledUtterance]:
        """Spooled utterances still to transcribe, oldest first."""
        return [_spooled(row) for row in await self._store.pending_untranscribed(SPOOLED, limit)]

    def read_audio(self, item: SpooledUtterance) -> Pcm:
        """The utterance's samples (blocking: call it off the loop)."""
        with wave.open(str(self.directory / item.audio_file), "rb") as wav:
            return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.int16)

    async def settle(self, item: SpooledUtterance, state: str) -> None:
        """An outcome without a delivery: `empty`, or a failed attempt (`failed` after MAX_ATTEMPTS)."""
        retry = state == FAILED and item.attempts + 1 < MAX_ATTEMPTS
        await self._store.settle_untranscribed(item.id, None if retry else state)

    async def sweep(self) -> int:
        """Remove audio files whose utterance is no longer waiting (delivered, given up, purged by retention)."""
        waiting = await self._store.untranscribed_audio(SPOOLED)
        return await asyncio.to_thread(self._remove_all_but, waiting)

    def _write(self, audio_file: str, samples: Pcm) -> None:
        private_directory(self.directory)
        _write_wav(self.directory / audio_file, samples)

    def _remove_all_but(self, waiting: set[str]) -> int:
        if not self.directory.is_dir():
            return 0
        removed = 0
        for path in self.directory.glob("*.wav"):
            if path.name not in waiting:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def _spooled(row: PendingUntranscribed) -> SpooledUtterance:
    return SpooledUtterance(
        row.id,
        row.stream_id,
        row.start_ms,
        row.end_ms,
        row.audio_start_ms,
        row.audio_file,
        SpoolSettings(**json.loads(row.settings)),
        row.attempts,
        row.namespace,
        row.conversation_external_id,
        row.role,
        row.participant_id,
    )


def _write_wav(path: Path, samples: Pcm) -> None:
    with os.fdopen(private_fd(path), "wb") as file, wave.open(file, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(samples.astype("<i2").tobytes())

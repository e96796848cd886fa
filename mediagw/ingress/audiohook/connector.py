"""A Transcription Connector session's transcription: the session's own open, pause, resume, update and close drive
it (Genesys calls no start-streaming for a connector). Each utterance is stored, posted to the webhooks as a Monitor
call's would be, then sent back on the socket as an `event` with a transcript entity (entities.py).

Times: the call's media clock and the session's position clock advance together (audio, and the paused or discarded
stretches as silence), so an utterance's place on the session clock is its stream time plus a constant per role.
A pause or a language update flushes the utterance in progress (it is decoded as it was said, in its language);
transcription continues on fresh pipelines of the same streams.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from mediagw.core.node import MediaHandle
from mediagw.core.record import Participant, TranscriptionParams
from mediagw.ingress.audiohook.entities import transcript_entity
from mediagw.ingress.audiohook.params import NAMESPACE
from mediagw.ingress.audiohook.protocol import AudioHookSession, SessionOpened
from mediagw.languages import DEFAULT_LANGUAGE, model_language
from mediagw.outputs.store_schema import StreamRecord
from mediagw.services import Services
from mediagw.streams import StreamSpec
from mediagw.transcripts import Transcript

log = logging.getLogger(__name__)
RATE = 8000
CHANNEL_OF_ROLE = {"customer": "external", "agent": "internal"}
Send = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class ConnectorSettings:
    """An API key's settings for its connector sessions (audiohook.api_keys[] in the configuration)."""

    redaction_output: str = "redacted"
    smart_formatting: bool = True
    words: bool = True


class ConnectorTranscription:
    def __init__(
        self,
        services: Services,
        handle: MediaHandle,
        session: AudioHookSession,
        opened: SessionOpened,
        settings: ConnectorSettings,
        send: Send,
        log_extra: dict[str, object],
    ) -> None:
        self._services = services
        self._handle = handle
        self._session = session
        self._settings = settings
        self._send = send
        self._log = log_extra
        self._language = opened.language or DEFAULT_LANGUAGE
        self._conversation_id = opened.conversation_id
        self._roles = handle.roles
        self._channel_ids = {role: opened.channels.index(CHANNEL_OF_ROLE[role]) for role in self._roles}
        # where each role's stream clock 0 sits on the session clock (the session may start at a later position)
        start_ms = opened.position * 1000 // RATE
        self._shift = {role: start_ms - handle.media.media_ms(role) for role in self._roles}
        ids = {"customer": opened.participant.id, "agent": ""}
        self._participants = {role: Participant(role, str(uuid.uuid4()), ids[role]) for role in self._roles}
        self._flushing: set[asyncio.Future[list[None]]] = set()
        self.running = False
        self.events_sent = 0
        self._recorded: asyncio.Future[None] | None = None

    def open(self) -> None:
        """Transcription starts with the session, fed from the next audio on; its streams are recorded meanwhile
        (not awaited here: the socket goes on being read; the first utterance waits for the record)."""
        self._recorded = asyncio.ensure_future(self._record())
        self._run()
        log.info("audiohook connector transcribing %s", self._language[:20], extra=self._log)

    async def _record(self) -> None:
        store = self._services.store
        if store is not None:
            records = [
                StreamRecord(p.stream_id, NAMESPACE, self._conversation_id, p.role, p.external_id)
                for p in self._participants.values()
            ]
            try:
                await store.open_stream(*records)
            except Exception:  # the utterances are still saved and sent; say so once
                log.exception("audiohook connector streams could not be recorded", extra=self._log)

    def _run(self) -> None:
        media = self._handle.media
        for role, participant in self._participants.items():
            spec = StreamSpec(
                stream_id=participant.stream_id,
                ingress=NAMESPACE,
                context_id=media.conversation_id,
                role=role,
                params=TranscriptionParams(
                    self._language,
                    redaction_output=self._settings.redaction_output,
                    smart_formatting=self._settings.smart_formatting,
                ),
                language=model_language(self._language),
                on_transcript=partial(self._deliver, role, self._language),
                origin_ms=media.media_ms(role),
                on_delivered=self._services.pipelines.watched(media, role),  # the ops console
                word_timings=self._settings.words,
            )
            self._handle.transcribe(participant, self._services.pipelines.build(spec))
        self.running = True

    def pause(self) -> None:
        """`paused`: what was said so far is transcribed now, not when the pause ends."""
        if self.running:
            self.running = False
            self._halt()

    def resume(self) -> None:
        """`resumed` (after the paused stretch is on the clock as silence): fresh pipelines from here."""
        if not self.running:
            self._run()

    def update(self, language: str) -> None:
        """`update`: the utterance in progress ends in the old language, the next ones are decoded in the new."""
        self._language = language
        if self.running:
            self._halt()
            self._run()

    def _halt(self) -> None:
        """The running streams stop now; their flush goes on beside the next ones (awaited at close)."""
        flush = self._handle.halt(self._roles)
        self._flushing.add(flush)
        flush.add_done_callback(self._flushing.discard)

    async def close(self) -> None:
        """`close`: every utterance said is transcribed and its event sent before the session's `closed`."""
        self.running = False
        await self._handle.halt(self._roles)
        if self._flushing:
            await asyncio.gather(*self._flushing, return_exceptions=True)

    async def _deliver(self, role: str, language: str, transcript: Transcript) -> None:
        if self._recorded is not None:  # the streams' record first: their utterances belong to them
            await asyncio.shield(self._recorded)
        participant = self._participants[role]
        sender = {"externalId": participant.external_id, "role": role}
        await self._services.delivery.store_and_publish(transcript, self._conversation_id, sender, publish=True)
        entity = transcript_entity(
            transcript,
            channel_id=self._channel_ids[role],
            shift_ms=self._shift[role],
            language=language,
            words=self._settings.words,
        )
        text = self._session.event([entity])
        if text is None:
            return  # the session is over: the transcript is stored and posted all the same
        try:
            await self._send(text)
            self.events_sent += 1
        except (ConnectionError, RuntimeError) as error:
            log.info("audiohook connector event not sent (%s)", type(error).__name__, extra=self._log)

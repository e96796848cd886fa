"""What the routes and adapters share: configuration, ASR, metrics, token signing, open sessions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from asr.pool import AsrPool
from asr.recognizer import Recognizer
from mediagw.config import Config
from mediagw.metrics import Metrics
from mediagw.outputs.store import SqliteStore
from mediagw.outputs.webhooks import WebhookPublisher
from mediagw.postprocess import TextStage
from mediagw.tokens import TokenSigner
from redaction.settings import EntitySettings

log = logging.getLogger(__name__)


class Session(Protocol):
    def shutdown(self) -> None:
        """Stop taking media, flush what was received, tell the client (5001) and close."""

    async def wait_closed(self) -> None: ...


@dataclass
class Services:
    config: Config
    metrics: Metrics
    signer: TokenSigner
    entity_settings: EntitySettings
    text_stage: TextStage
    recognizer: Recognizer | None = None
    pool: AsrPool | None = None
    store: SqliteStore | None = None
    publisher: WebhookPublisher | None = None
    sessions: set[Session] = field(default_factory=set)
    shutting_down: bool = False
    _background: set[asyncio.Task[Any]] = field(default_factory=set)

    @property
    def languages(self) -> list[str]:
        return self.recognizer.languages if self.recognizer is not None else ["en"]

    def keep(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        """Run work that outlives its connection (an abandoned stream's last utterances) to completion."""
        task = asyncio.create_task(work, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def stop_keeping(self, name: str) -> None:
        """Cancel kept work by name (endless loops such as the retention purge)."""
        for task in list(self._background):
            if task.get_name() == name:
                task.cancel()

    async def drain_background(self) -> None:
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

"""The webhook delivery journal: each message's record with each target, written to the store in group commits.

A message is `queued` when its utterance is committed (same transaction), `in_flight` before its POST starts (the
POST waits for that commit, so a kill leaves a true record), then `delivered`, `dropped` (never sent), or a
failure (`failed`, `timeout`, `error`, `token`: sent, not acknowledged). At start-up the store turns what a kill
left `in_flight` into `unknown` and what it left `queued` into `not_sent`; a graceful stop records them so itself.

Records that arrive while a commit runs go together into the next one, so under load a commit carries many
messages and the store's write cost per message stays small.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from mediagw.outputs.store import DeliveryRecord

log = logging.getLogger(__name__)

WriteRecords = Callable[[list[DeliveryRecord]], Awaitable[None]]


class DeliveryJournal:
    def __init__(self, write: WriteRecords) -> None:
        self._write = write
        self._batch: list[DeliveryRecord] = []
        self._committed: asyncio.Future[None] | None = None  # resolved when the current batch is written
        self._writer: asyncio.Task[None] | None = None

    def record(self, record: DeliveryRecord) -> None:
        """Write `record` with the next commit; nothing waits for it."""
        self._batch.append(record)
        self._kick()

    async def commit(self, record: DeliveryRecord) -> None:
        """Write `record` and wait until it is committed (a POST waits so for its in_flight record)."""
        self._batch.append(record)
        if self._committed is None:
            self._committed = asyncio.get_running_loop().create_future()
        committed = self._committed
        self._kick()
        await asyncio.shield(committed)

    async def flush(self) -> None:
        """Wait until everything recorded so far is written."""
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)

    def _kick(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_batches(), name="delivery-journal")

    async def _write_batches(self) -> None:
        while self._batch:
            batch, self._batch = self._batch, []
            committed, self._committed = self._committed, None
            try:
                await self._write(batch)
            except Exception:  # a store fault must not stop delivery: the message goes out, its record is lost
                log.exception("delivery records not written (%d)", len(batch))
            finally:
                if committed is not None and not committed.done():
                    committed.set_result(None)

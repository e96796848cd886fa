"""Amazon Connect calls: start-streaming attaches the call's media and starts its KVS reader, stop-streaming
stops it. The reader's frames go to the core like any adapter's."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from asr.frame import Pcm
from mediagw.core.adapters import Namespace
from mediagw.core.frames import Frame
from mediagw.core.media import CallMedia
from mediagw.core.node import MediaHandle
from mediagw.core.record import ROLES
from mediagw.core.rules import StreamStatus
from mediagw.ingress.kvs.clients import KvsClients
from mediagw.ingress.kvs.params import NAMESPACE, ConnectParams, connect_namespace
from mediagw.ingress.kvs.reader import INTERNAL_ERROR, KvsReader, ReaderFailed, ReadPosition
from mediagw.services import Services

log = logging.getLogger(__name__)


class ConnectReaders:
    """The running readers by call; a call's read position survives a stop so the next start resumes it."""

    def __init__(self, services: Services) -> None:
        self._services = services
        config = services.config.amazon_connect
        self._executor = ThreadPoolExecutor(max_workers=config.max_readers, thread_name_prefix="kvs")
        self._clients = KvsClients(config)
        self._handles: dict[str, MediaHandle] = {}
        self._positions: dict[str, ReadPosition] = {}
        self._running: dict[str, tuple[KvsReader, asyncio.Task[None]]] = {}

    def namespace(self) -> Namespace:
        return connect_namespace(pull=self.attach, on_start=self.start, on_stop=self.stop)

    @property
    def in_progress(self) -> int:
        """Readers running now (calls in progress, for a drain)."""
        return len(self._running)

    def drain(self) -> None:
        """A draining node refuses new contacts at start-streaming (the lifecycle); readers go on."""

    def position(self, guid: str) -> ReadPosition | None:
        return self._positions.get(guid)

    async def attach(self, guid: str) -> None:
        """start-streaming for a new contact: the call exists from now on (its media is pulled, not pushed)."""
        self._handles[guid] = await self._services.media.attach(NAMESPACE, guid, ROLES)

    async def start(self, media: CallMedia) -> None:
        """Start the call's reader and wait up to `start_check_s` for its tracks or its failure: an unknown
        stream, a denied role or a wrong codec is then answered by this start-streaming (`media.error`)."""
        params, handle = media.adapter_params, self._handles.get(media.guid)
        assert isinstance(params, ConnectParams) and handle is not None
        position = self._positions.setdefault(media.guid, ReadPosition())
        if params.start_selector_type == "FRAGMENT_NUMBER":  # told where to start: that wins over a resume
            position.selector, position.after_fragment = "FRAGMENT_NUMBER", params.after_fragment_number
            position.delivered_ms.clear()
        config = self._services.config.amazon_connect
        media.error = None
        if len(self._running) >= config.max_readers:  # its thread would never come: refuse, don't stall
            media.error = StreamStatus(INTERNAL_ERROR, f"all {config.max_readers} KVS readers are busy")
            log.warning("kvs reader refused: max_readers reached", extra={"call_id": media.guid})
            return

        def feed(role: str, samples: Pcm) -> None:  # already PCM: counted, and transcribed while started
            handle.feed(role, Frame.of_pcm(handle.position(role), samples))

        reader = KvsReader(params.stream_arn, position, config, self._clients, feed, self._executor)
        task = asyncio.create_task(self._run(media, reader), name=f"kvs-{media.guid}")
        self._running[media.guid] = (reader, task)
        found = asyncio.create_task(reader.tracks_found.wait())
        await asyncio.wait({task, found}, timeout=config.start_check_s, return_when=asyncio.FIRST_COMPLETED)
        found.cancel()

    async def _run(self, media: CallMedia, reader: KvsReader) -> None:
        extra = {"ingress": NAMESPACE, "call_id": media.guid}
        log.info("kvs reader started for %s", reader.stream_arn, extra=extra)
        try:
            await reader.run()
            log.info("kvs stream ended", extra=extra)
        except ReaderFailed as error:
            media.error = StreamStatus(error.code, str(error))  # returned as the streams' status
            self._services.metrics.errors.labels("kvs-reader").inc()
            log.warning("kvs reader failed: %s", error, extra=extra)
        except Exception:  # a bug: recorded without details, never a hung or silent task
            media.error = StreamStatus(INTERNAL_ERROR, "Internal service error")
            self._services.metrics.errors.labels("kvs-reader").inc()
            log.exception("kvs reader crashed", extra=extra)
        finally:
            self._running.pop(media.guid, None)

    def reading(self, guid: str) -> bool:
        return guid in self._running

    async def stop(self, media: CallMedia) -> None:
        await self._stop(media.guid)

    async def _stop(self, guid: str) -> None:
        running = self._running.pop(guid, None)
        if running is None:
            return
        reader, task = running
        await asyncio.get_running_loop().run_in_executor(None, reader.stop)  # closing a body may block; not our pool
        await asyncio.wait({task}, timeout=5)

    async def close(self) -> None:
        for guid in list(self._running):
            await self._stop(guid)
        self._executor.shutdown(wait=False, cancel_futures=True)

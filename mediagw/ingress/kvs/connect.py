"""Amazon Connect calls: start-streaming creates the call and starts its KVS reader, stop-streaming stops it."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from mediagw.calls import Call, MediaError
from mediagw.ingress.kvs.clients import KvsClients
from mediagw.ingress.kvs.reader import INTERNAL_ERROR, KvsReader, ReaderFailed, ReadPosition
from mediagw.services import Services

log = logging.getLogger(__name__)
NAMESPACE = "amazonconnect"


class ConnectReaders:
    """The running readers by call; a call's read position survives a stop so the next start resumes it."""

    def __init__(self, services: Services) -> None:
        self._services = services
        config = services.config.amazon_connect
        self._executor = ThreadPoolExecutor(max_workers=config.max_readers, thread_name_prefix="kvs")
        self._clients = KvsClients(config)
        self._running: dict[str, tuple[KvsReader, asyncio.Task[None]]] = {}

    @property
    def active(self) -> int:
        """Readers running now (calls in progress, for a drain)."""
        return len(self._running)

    def call_for(self, guid: str) -> Call:
        """start-streaming for a contact: the call exists from now on (its media is pulled, not pushed)."""
        call = self._services.calls.get(NAMESPACE, guid) or self._services.attach_media(NAMESPACE, guid)
        if self.start not in call.on_started:
            call.on_started.append(self.start)
            call.on_stopping.append(self.stop)
        return call

    async def start(self, call: Call) -> None:
        """Start the call's reader and wait up to `start_check_s` for its tracks or its failure: an unknown
        stream, a denied role or a wrong codec is then answered by this start-streaming (`call.media_error`)."""
        params = call.extra["amazonConnect"]
        position: ReadPosition = call.extra.setdefault("kvsPosition", ReadPosition())
        if params["startSelectorType"] == "FRAGMENT_NUMBER":  # told where to start: that wins over a resume
            position.selector, position.after_fragment = "FRAGMENT_NUMBER", params["afterFragmentNumber"]
            position.delivered_ms.clear()
        config = self._services.config.amazon_connect
        call.media_error = None
        if len(self._running) >= config.max_readers:  # its thread would never come: refuse, don't stall
            call.media_error = MediaError(INTERNAL_ERROR, f"all {config.max_readers} KVS readers are busy")
            log.warning("kvs reader refused: max_readers reached", extra={"call_id": call.guid})
            return
        reader = KvsReader(
            params["streamArn"],
            position,
            config,
            self._clients,
            call.push,  # already PCM: counted, and transcribed while started
            self._executor,
        )
        task = asyncio.create_task(self._run(call, reader), name=f"kvs-{call.guid}")
        self._running[call.guid] = (reader, task)
        found = asyncio.create_task(reader.tracks_found.wait())
        await asyncio.wait({task, found}, timeout=config.start_check_s, return_when=asyncio.FIRST_COMPLETED)
        found.cancel()

    async def _run(self, call: Call, reader: KvsReader) -> None:
        extra = {"ingress": NAMESPACE, "call_id": call.guid}
        log.info("kvs reader started for %s", reader.stream_arn, extra=extra)
        try:
            await reader.run()
            log.info("kvs stream ended", extra=extra)
        except ReaderFailed as error:
            call.media_error = MediaError(error.code, str(error))  # returned as the streams' status
            self._services.metrics.errors.labels("kvs-reader").inc()
            log.warning("kvs reader failed: %s", error, extra=extra)
        except Exception:  # a bug: recorded without details, never a hung or silent task
            call.media_error = MediaError(INTERNAL_ERROR, "Internal service error")
            self._services.metrics.errors.labels("kvs-reader").inc()
            log.exception("kvs reader crashed", extra=extra)
        finally:
            self._running.pop(call.guid, None)

    def reading(self, guid: str) -> bool:
        return guid in self._running

    async def stop(self, call: Call) -> None:
        running = self._running.pop(call.guid, None)
        if running is None:
            return
        reader, task = running
        await asyncio.get_running_loop().run_in_executor(None, reader.stop)  # closing a body may block; not our pool
        await asyncio.wait({task}, timeout=5)

    async def close(self) -> None:
        for guid in list(self._running):
            call = self._services.calls.get(NAMESPACE, guid)
            if call is not None:
                await self.stop(call)
        self._executor.shutdown(wait=False, cancel_futures=True)

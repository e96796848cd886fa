"""The media this node holds, and the adapters' one way in: attach media for (namespace, guid, roles), feed
frames on the handle, detach. The call's record (registry) learns which node holds its media."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import replace
from functools import partial
from typing import Any

from mediagw.core.adapters import Namespaces
from mediagw.core.frames import Frame
from mediagw.core.media import CallMedia, Transcription
from mediagw.core.record import LOCAL_NODE, AdapterParams, CallRecord, Participant, StreamStats
from mediagw.core.registry import CallRegistry, LingerDeadlines, RegistryUnavailable, change
from mediagw.core.rules import CallRules
from mediagw.languages import supported
from mediagw.metrics import Metrics

log = logging.getLogger(__name__)
CALL_LINGER_S = 900.0  # limits.call_linger_s' default: a call whose media went is kept this long for a resume
LINGER_RETRY_S = 1.0  # a deadline the shared registry could not take is written again this often
WAIT_POLL_S = 0.05  # a start waiting for its call's media reads the registry this often (it may attach elsewhere)
Keep = Callable[[Coroutine[Any, Any, Any], str], None]  # run to completion, registered by name (tasks.py)


def _held_by(record: CallRecord, nodes: dict[str, str]) -> CallRecord:
    return replace(record, media_nodes={**record.media_nodes, **nodes})


def _counted(
    record: CallRecord, stats: dict[str, StreamStats], clock: dict[str, int], node: str, ending: bool
) -> CallRecord:
    """A source went: this node's share of the counts, and the call's media ends (ending) or not."""
    record = CallRules.counted(record, stats, clock, record.roles_of(node))
    return replace(record, ending=record.ending and not ending)


class MediaHandle:
    """One adapter's attachment to a call's media (a socket, a SIPREC recording, a KVS reader)."""

    __slots__ = ("_media", "_next", "_node", "roles")

    def __init__(self, node: NodeMedia, media: CallMedia, roles: tuple[str, ...], position: int = 0) -> None:
        self._node = node
        self._media = media
        self._next = dict.fromkeys(media.clock, position)  # per role: where this source's next audio starts
        self.roles = roles

    @property
    def guid(self) -> str:
        return self._media.guid

    @property
    def media(self) -> CallMedia:
        return self._media

    @property
    def params(self) -> AdapterParams | None:
        """The last start's parameters for this namespace (None before any)."""
        return self._media.adapter_params

    def position(self, role: str) -> int:
        """Where `role`'s next frame from this source continues its audio (samples)."""
        return self._next.get(role, 0)

    def feed(self, role: str, frame: Frame) -> None:
        """`frame`'s position is checked against this source's clock: a gap is filled, an overlap dropped."""
        expected = self._next.get(role, 0)
        end = frame.position + frame.sample_count
        if end > expected:
            self._next[role] = end
        self._media.take(role, frame, frame.position - expected)

    def transcribe(self, participant: Participant, transcription: Transcription) -> None:
        """A stream its own adapter started (the direct API's startStream), transcribed until detached."""
        self._media.run(participant, transcription, asyncio.get_running_loop().time())

    def halt(self, roles: tuple[str, ...]) -> asyncio.Future[list[None]]:
        """Streams this adapter started stop now and flush while the media stays attached (a connector's pause)."""
        return self._media.halt(roles, asyncio.get_running_loop().time())

    def media_language(self, tag: str, log_extra: dict[str, object]) -> None:
        """The language the media names (AudioHook open/update, a Twilio <Parameter name="language">)."""
        self._node.media_language(self._media, tag, log_extra)

    async def detach(self, roles: tuple[str, ...] | None = None, ending: bool = False) -> None:
        """The source went away (`ending`: the call's media itself ends, a SIPREC BYE; start/stop get 409-203
        meanwhile). What it said is flushed and transcribed."""
        await self._node.detach(self._media, self.roles if roles is None else roles, ending)


class NodeMedia:
    def __init__(
        self,
        registry: CallRegistry,
        namespaces: Namespaces,
        metrics: Metrics,
        languages: Callable[[], list[str]],
        keep: Keep,
        node_id: str = LOCAL_NODE,
        changed: Callable[[str, str], None] | None = None,
        linger_s: float = CALL_LINGER_S,
        deadlines: LingerDeadlines | None = None,
    ) -> None:
        self._registry = registry
        self._linger_s = linger_s
        self._deadlines = deadlines  # a shared registry's: the deadline is kept there, not in a timer here
        self._changed = changed or (lambda namespace, guid: None)  # the call watchers (core/watch.py)
        self._namespaces = namespaces
        self._metrics = metrics
        self._languages = languages
        self._keep = keep
        self.node_id = node_id
        self._media: dict[tuple[str, str], CallMedia] = {}
        self._waiters: dict[tuple[str, str], list[asyncio.Future[CallRecord]]] = {}
        self.resume: Callable[[CallMedia, CallRecord], Awaitable[None]] | None = None  # CallLifecycle.resume

    def get(self, namespace: str, guid: str) -> CallMedia | None:
        return self._media.get((namespace, guid))

    def __iter__(self) -> Iterator[CallMedia]:
        return iter(list(self._media.values()))

    async def attach(self, namespace: str, guid: str, roles: tuple[str, ...], position: int = 0) -> MediaHandle:
        """An adapter's media for a call connected: the call is known from now on, its media on this node.
        `position`: where the source's own clock starts (an AudioHook session continuing an earlier one)."""
        media = self._media.get((namespace, guid))
        fresh = media is None
        if media is None:  # here before the registry's awaits: a start arriving meanwhile finds it
            media = CallMedia(namespace, guid, partial(self._changed, namespace, guid))
            self._media[(namespace, guid)] = media
        media.sources += 1
        for role in roles:
            media.connected[role] = media.connected.get(role, 0) + 1
        nodes = dict.fromkeys(roles, self.node_id)
        record: CallRecord | None = None
        try:
            record = await self._registry.create(CallRecord(namespace, guid, media_nodes=nodes))
            if any(record.media_nodes.get(role) != owner for role, owner in nodes.items()):  # known: now ours
                record = await change(self._registry, namespace, guid, partial(_held_by, nodes=nodes), record)
        except RegistryUnavailable as error:  # media keeps flowing; the heartbeat writes the record back later
            log.warning("call registry unavailable at attach (%s): media kept here", error, extra={"call_id": guid})
        except BaseException:
            media.sources -= 1
            for role in roles:
                media.connected[role] -= 1
            if fresh and media.sources == 0 and self._media.get((namespace, guid)) is media:
                del self._media[(namespace, guid)]
            raise
        if fresh and record is not None:
            media.absorb_clock(record.media_samples, roles)  # what another node received before counts too
            if self.resume is not None:  # started on a node that died: goes on here
                await self.resume(media, record)
        for waiter in self._waiters.pop((namespace, guid), []):
            if not waiter.done() and record is not None:
                waiter.set_result(record)
        return MediaHandle(self, media, roles, position)

    async def detach(self, media: CallMedia, roles: tuple[str, ...], ending: bool) -> None:
        """Flush what the source said; the call stays known a while (resumable namespaces) so a new source can
        resume it (the reference's "Handling Failures"), then it is forgotten."""
        key = (media.namespace, media.guid)
        if ending:
            await self._change(key, lambda r: replace(r, ending=True))
        try:
            media.sources -= 1
            for role in roles:
                media.connected[role] = max(0, media.connected.get(role, 0) - 1)
            await media.media_ended(roles, asyncio.get_running_loop().time())
        finally:
            stats, clock, node = media.stats(), dict(media.clock), self.node_id
            counted = partial(_counted, stats=stats, clock=clock, node=node, ending=ending)
            await self._change(key, counted)  # this node's share of the counts, for a stop answered elsewhere
        if media.sources > 0:
            return
        if not self._namespaces.get(media.namespace).resumable:
            await self._forget_if_idle(media)
        elif self._deadlines is None:
            self._keep(self._forget_when_idle(media), f"linger-{media.guid}")
        elif not await self._linger_shared(media):  # Redis away: written once it answers
            self._keep(self._linger_later(media), f"linger-{media.guid}")

    async def _linger_shared(self, media: CallMedia) -> bool:
        """The call's deadline goes into the shared registry, so it ends there even if this node dies. Whether
        that is done (or no longer needed: its media came back)."""
        if media.sources > 0 or self._media.get((media.namespace, media.guid)) is not media:
            return True
        assert self._deadlines is not None
        try:
            await self._deadlines.linger(media.namespace, media.guid)
            return True
        except RegistryUnavailable as error:
            log.warning("call registry unavailable at linger (%s)", error, extra={"call_id": media.guid})
            return False

    async def _linger_later(self, media: CallMedia) -> None:
        while True:  # a retry on a timer: nothing to wait on but Redis coming back
            await asyncio.sleep(LINGER_RETRY_S)
            if await self._linger_shared(media):
                return

    async def reclaim(self, media: CallMedia, record: CallRecord) -> CallRecord:
        """Media still attached here whose record names no node (a shared registry ended the call at its deadline
        while this node could not reach it): this node holds the call again, and its stop comes here."""
        nodes = {role: self.node_id for role, count in media.connected.items() if count > 0}
        if record.media_nodes or not nodes:
            return record
        stored = await change(self._registry, *record.key, partial(_held_by, nodes=nodes), record)
        log.warning("call held here again (ended at its deadline meanwhile)", extra={"call_id": record.guid})
        return stored or record

    async def forget(self, media: CallMedia) -> None:
        """A call whose media went from this node, ended at its deadline or held by another node now (a shared
        registry says so): dropped here, the record untouched; its idle pipelines (a started call's) closed."""
        key = (media.namespace, media.guid)
        if media.sources > 0 or self._media.get(key) is not media:
            return
        del self._media[key]
        self._changed(*key)
        if media.transcribing:
            await media.end(asyncio.get_running_loop().time())

    async def _change(self, key: tuple[str, str], edit: Callable[[CallRecord], CallRecord]) -> None:
        """A change of the record as the media goes; with the shared registry away, it is logged and skipped
        (what was said is flushed and stored all the same)."""
        try:
            await change(self._registry, *key, edit)
        except RegistryUnavailable as error:
            log.warning("call registry unavailable at detach (%s)", error, extra={"call_id": key[1]})

    async def _forget_when_idle(self, media: CallMedia) -> None:
        await asyncio.sleep(self._linger_s)
        await self._forget_if_idle(media)

    async def _forget_if_idle(self, media: CallMedia) -> None:
        key = (media.namespace, media.guid)
        if media.sources == 0 and not media.transcribing and self._media.get(key) is media:
            del self._media[key]
            self._changed(*key)
            try:
                record = await self._registry.get(*key)
                if record is not None and all(owner == self.node_id for owner in record.media_nodes.values()):
                    await self._registry.remove(*key, version=record.version)  # not if the media went on elsewhere
            except RegistryUnavailable as error:  # the record expires by itself
                log.warning("call registry unavailable at forget (%s)", error, extra={"call_id": key[1]})

    async def wait_for(self, namespace: str, guid: str, grace_s: float) -> CallRecord | None:
        """A start before the media connected: wait up to `grace_s` for it, on this node (its attach wakes the
        start) or any other (a shared registry, read every WAIT_POLL_S): the record, or None at the deadline."""
        if grace_s <= 0:
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_s
        waiter: asyncio.Future[CallRecord] = loop.create_future()
        waiters = self._waiters.setdefault((namespace, guid), [])
        waiters.append(waiter)
        try:
            while True:  # read after the waiter is in place: an attach that was quicker is seen here
                record = await self._registry.get(namespace, guid)
                left = deadline - loop.time()
                if record is not None or left <= 0:
                    return record
                await asyncio.wait((waiter,), timeout=min(WAIT_POLL_S, left))
                if waiter.done():
                    return waiter.result()
        finally:
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters and self._waiters.get((namespace, guid)) is waiters:
                del self._waiters[(namespace, guid)]

    @property
    def waiting(self) -> int:
        """Starts waiting for their call's media."""
        return sum(len(waiters) for waiters in self._waiters.values())

    def media_language(self, media: CallMedia, tag: str, log_extra: dict[str, object]) -> None:
        """Transcription follows the media's language where start-streaming named none. One the model cannot do
        is refused when transcription starts (400-202); mid-call the streams keep theirs, logged and counted
        as 4050, never a silent decode of one language as another."""
        if not supported(tag, self._languages()):
            log.warning("media language %r is not supported by the model", tag[:20], extra=log_extra)
            self._metrics.errors.labels("4050").inc()
            if media.transcribing:
                return
        if media.media_language_changed(tag):
            log.info("media language %s", tag[:20], extra=log_extra)

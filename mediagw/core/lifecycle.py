"""start-streaming and stop-streaming on a call: the rules (rules.py) applied to the call's record in the
registry and to its node media, with the namespace's hooks. Answers are StreamReports; routes shape them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from mediagw.core.adapters import Namespaces
from mediagw.core.media import CallMedia, TranscriptionFactory
from mediagw.core.node import NodeMedia
from mediagw.core.record import AdapterParams, CallRecord, Leg, TranscriptionParams
from mediagw.core.registry import CallRegistry, change
from mediagw.core.rules import NO_INSTANCES, OK, SHUTTING_DOWN, CallRefused, CallRules, StreamReport
from mediagw.languages import supported
from mediagw.metrics import Metrics

log = logging.getLogger(__name__)
INTERNAL = CallRefused(500, "500-201", "MG AutoTranscribe or AutoTranscribe internal error")


class HeldElsewhere(Exception):
    """The call's media is on another node (a shared registry): the request goes there (api/forward.py)."""

    def __init__(self, record: CallRecord) -> None:
        super().__init__(record.guid)
        self.record = record


@dataclass(frozen=True)
class StartRequest:
    namespace: str
    guid: str
    customer_id: str
    agent_id: str
    params: TranscriptionParams
    adapter_params: AdapterParams | None  # the namespace's own (twilioParams...), checked by its adapter


@dataclass(frozen=True)
class Outcome:
    """isOk and each stream's answer."""

    ok: bool
    streams: tuple[StreamReport, ...]


class Admission(Protocol):
    """What the node says about taking new work."""

    @property
    def draining(self) -> bool: ...

    @property
    def languages(self) -> list[str]: ...

    def overloaded(self) -> bool: ...


StreamOpener = Callable[["StartRequest", Leg], Awaitable[None]]  # the leg's streams opened in the store
PeerStop = Callable[[CallRecord], Awaitable[None]]  # the other nodes holding the call's media end their share
COUNTS_EVERY_SAMPLES = 10 * 8000  # a node holding part of a cluster call writes its counts every 10 s of a stream


class CallLifecycle:
    def __init__(
        self,
        registry: CallRegistry,
        node: NodeMedia,
        namespaces: Namespaces,
        admission: Admission,
        transcriptions: TranscriptionFactory,
        open_streams: StreamOpener,
        metrics: Metrics,
        rules: CallRules | None = None,
    ) -> None:
        self._registry = registry
        self._node = node
        self._namespaces = namespaces
        self._admission = admission
        self._transcriptions = transcriptions
        self._open_streams = open_streams
        self._metrics = metrics
        self.rules = rules or CallRules()
        self._settled: dict[tuple[str, str], CallRecord] = {}  # reconcile: the record each held call last matched
        self._counted: dict[tuple[str, str], int] = {}  # reconcile: audio samples as of the last counts written
        self.peers: PeerStop | None = None  # a shared registry's (api/forward.py): before a stop's summary

    async def start(self, start: StartRequest) -> Outcome:
        namespace = self._namespaces.get(start.namespace)
        record = await self._registry.get(start.namespace, start.guid)
        if record is None and namespace.pull is not None:  # its media is pulled once started: attached here
            if self._admission.draining:  # a new contact's reader is new work, which a draining node refuses
                blank = CallRecord(start.namespace, start.guid)
                log.warning("start-streaming refused: draining", extra={"call_id": start.guid})
                leg = self.rules.leg_for(blank, start.customer_id, start.agent_id)
                return Outcome(False, self.rules.reports(blank, leg, SHUTTING_DOWN))
            await namespace.pull(start.guid)
            record = await self._registry.get(start.namespace, start.guid)
        if record is None:
            record = await self._node.wait_for(start.namespace, start.guid, namespace.start_grace_s)
        record = self.rules.admit_start(record)
        media = self._media(record)
        language = start.params.language or media.media_language  # the media's (AudioHook open, Twilio)
        if language and not supported(language, self._admission.languages):
            raise CallRefused(400, "400-202", f"autotranscribeParams: language {language[:20]!r} is not supported")
        if self._admission.overloaded():  # ASR is too far behind for more streams: a capacity status per role
            return await self._refuse_overloaded(record, start)
        return await self._start(media, start, record)

    async def reconcile(self) -> None:
        """A call whose roles are on several nodes (a Twilio track per socket, each on its own node): a start or
        stop answered by one node reaches the others' media here, run by each node's heartbeat. One read of the
        held calls' versions; only a record changed since it was last settled here is read whole. A call whose
        media went from here is dropped once the record no longer names this node (ended at its deadline, or
        its media back on another node); one still attached here that the record names no node for is held again
        (ended at its deadline while this node could not reach the registry)."""
        calls = [m for m in self._node if self._namespaces.get(m.namespace).controlled]
        versions = await self._registry.versions([(m.namespace, m.guid) for m in calls])
        settled: dict[tuple[str, str], CallRecord] = {}
        for media, version in zip(calls, versions, strict=True):
            key = (media.namespace, media.guid)
            record = self._settled.get(key)
            if version is None or record is None or record.version != version:
                record = await self._registry.get(*key)
                if media.sources == 0 and (record is None or self._node.node_id not in record.media_nodes.values()):
                    await self._node.forget(media)
                    continue
                if record is None or record.pending:  # pending: the answering node's change comes next
                    continue
                if media.sources > 0:
                    record = await self._node.reclaim(media, record)
                    await self._follow(media, record)
            settled[key] = await self._count(media, record) if media.sources > 0 else record
        self._settled = settled  # only calls still held here
        self._counted = {key: n for key, n in self._counted.items() if key in settled}

    async def _count(self, media: CallMedia, record: CallRecord) -> CallRecord:
        """Every COUNTS_EVERY_SAMPLES of audio transcribed, this node's share of the counts goes into the record,
        so a stop answered after this node died still counts what it did (up to that much less). The record the
        call is settled at: the one written, when nothing else changed it meanwhile."""
        key = (media.namespace, media.guid)
        samples = media.audio_samples
        if not media.transcribing or samples - self._counted.get(key, 0) < COUNTS_EVERY_SAMPLES:
            return record
        stats, clock, node = media.stats(), dict(media.clock), self._node.node_id

        def counted(r: CallRecord) -> CallRecord:
            return self.rules.counted(r, stats, clock, r.roles_of(node))

        stored = await change(self._registry, *key, counted, record)  # the settled record: no read first
        self._counted[key] = samples
        return stored if stored is not None and stored.version == record.version + 1 else record

    async def _follow(self, media: CallMedia, record: CallRecord) -> None:
        """This node's share of the call follows the record's start/stop."""
        if all(owner == self._node.node_id for owner in record.media_nodes.values()):
            return  # a call of this node alone: its own start/stop acted on it
        if record.started and not media.transcribing:
            await self.resume(media, record)
        elif not record.started and media.transcribing:
            await media.end(asyncio.get_running_loop().time())
            log.info("transcription stopped (by another node)", extra={"call_id": media.guid})

    async def _refuse_overloaded(self, record: CallRecord, start: StartRequest) -> Outcome:
        leg = self.rules.leg_for(record, start.customer_id, start.agent_id)
        record = await change(self._registry, *record.key, lambda r: r.with_leg(leg)) or record  # a retry continues it
        log.warning("start-streaming refused: ASR backlog over asr.max_backlog", extra={"call_id": start.guid})
        self._metrics.errors.labels("5002").inc()
        return Outcome(False, self.rules.reports(record, leg, NO_INSTANCES))

    async def _start(self, media: CallMedia, start: StartRequest, admitted: CallRecord) -> Outcome:
        record = await self._claim(media, admitted)
        try:
            leg = self.rules.leg_for(record, start.customer_id, start.agent_id)
            loop = asyncio.get_running_loop()
            media.begin(leg.participants, start.params, start.adapter_params, self._transcriptions, loop.time())
            await self._open_streams(start, leg)
            namespace = self._namespaces.get(media.namespace)
            if namespace.on_start is not None:
                await namespace.on_start(media)
            params = media.adapter_params
            started = partial(self.rules.started, leg=leg, params=start.params, adapter_params=params)
            record = await self._edit(media, lambda r: self.rules.released(started(r)), record)  # one write
        except CallRefused:
            raise
        except Exception as error:
            log.exception("start-streaming failed", extra={"call_id": media.guid})
            with contextlib.suppress(Exception):  # no half-started streams
                await media.end(asyncio.get_running_loop().time())
            raise INTERNAL from error
        finally:
            if record.pending:  # not started: released all the same
                record = await self._edit(media, self.rules.released, record)
        if media.error is not None:  # a pulled stream (Amazon Connect) failed at once: not started, say why
            record = await self._stopped(media)
            log.warning("start-streaming: media failed (%s)", media.error.code, extra={"call_id": media.guid})
            return Outcome(False, self.rules.reports(record, leg, media.error))
        log.info("transcription started leg=%s", leg.id, extra={"call_id": media.guid, "ingress": media.namespace})
        return Outcome(True, self.rules.reports(record, leg, OK))

    async def stop(self, namespace: str, guid: str) -> Outcome:
        record = self.rules.admit_stop(await self._registry.get(namespace, guid))
        if not record.media_nodes and self._node.get(namespace, guid) is None:
            return await self.stop_unheld(record)
        media = self._media(record)
        record = await self._claim(media, record)
        try:
            if self.peers is not None and any(o != self._node.node_id for o in record.media_nodes.values()):
                await self.peers(record)  # their share's counts are in the record before this summary
            hook = self._namespaces.get(namespace).on_stop
            if hook is not None:
                await hook(media)
            record = await self._stopped(media, record)
        except Exception as error:
            log.exception("stop-streaming failed", extra={"call_id": guid})
            raise INTERNAL from error
        finally:
            record = await self._edit(media, self.rules.released, record)
        leg = record.leg
        assert leg is not None
        log.info("transcription stopped", extra={"call_id": guid, "ingress": namespace})
        return Outcome(True, self.rules.reports(record, leg, media.error or OK, summary=True))

    async def stop_unheld(self, record: CallRecord) -> Outcome:
        """A stop for a call whose media no live node holds (a shared registry: its node died, or the call ended at
        its linger deadline, `CallRules.lingered_out`): answered from the record's counts (its nodes' last
        writes), as the node holding the media would have answered it. Forgotten when nobody holds its media (the
        deadline passed); otherwise its deadline, not started now, forgets it unless the media comes back."""
        key = record.key
        off = partial(self.rules.stopped, stats={}, media_samples={}, roles=())  # the counts as the record has them
        stopped = await change(self._registry, *key, lambda r: off(self.rules.admit_stop(r)), record)  # one write
        if stopped is None:
            raise CallRefused(400, "400-203", "No call with specified guid found")
        if not stopped.media_nodes:  # not if its media came back meanwhile
            await self._registry.remove(*key, version=stopped.version)
        leg = stopped.leg
        assert leg is not None
        log.info("transcription stopped (no live node holds its media: from the record)", extra={"call_id": key[1]})
        return Outcome(True, self.rules.reports(stopped, leg, OK, summary=True))

    async def _stopped(self, media: CallMedia, known: CallRecord | None = None) -> CallRecord:
        """Flush the streams; the record keeps what they did (this node's roles: another's wrote its own)."""
        stats = await media.end(asyncio.get_running_loop().time())
        clock, node = dict(media.clock), self._node.node_id
        return await self._edit(media, lambda r: self.rules.stopped(r, stats, clock, r.roles_of(node)), known)

    async def end_share(self, namespace: str, guid: str) -> bool:
        """Another node answering a stop for a call whose media is partly here: this node's share ends now and its
        counts go into the record, while that stop holds the call pending (never otherwise: a replayed request
        does nothing). Whether there was a share here to end."""
        media = self._node.get(namespace, guid)
        record = await self._registry.get(namespace, guid)
        if media is None or record is None or not record.pending:
            return False
        stats = await media.end(asyncio.get_running_loop().time()) if media.transcribing else media.stats()
        clock, node = dict(media.clock), self._node.node_id
        await change(self._registry, namespace, guid, lambda r: self.rules.counted(r, stats, clock, r.roles_of(node)))
        log.info("transcription stopped here (a stop answered by another node)", extra={"call_id": guid})
        return True

    def _media(self, record: CallRecord) -> CallMedia:
        media = self._node.get(record.namespace, record.guid)
        if media is None:
            if any(owner != self._node.node_id for owner in record.media_nodes.values()):
                raise HeldElsewhere(record)  # another node's, perhaps: the route forwards it there
            raise CallRefused(400, "400-203", "No call with specified guid found")
        return media

    async def resume(self, media: CallMedia, record: CallRecord) -> None:
        """Failover: the media of a call started on another node came back here (a new SIPREC INVITE for its
        UCID, a reconnect), or one role's media is here and the start was answered elsewhere: transcription goes
        on, on the same leg and stream ids (opened in this node's store too, in case it is its own)."""
        leg = record.leg
        if not record.started or leg is None or media.transcribing:
            return
        now = asyncio.get_running_loop().time()
        media.begin(leg.participants, record.params, record.adapter_params, self._transcriptions, now)
        log.info("transcription resumed here leg=%s", leg.id, extra={"call_id": media.guid})
        start = StartRequest(media.namespace, media.guid, leg.customer_id, leg.agent_id, record.params, None)
        try:
            await self._open_streams(start, leg)
        except Exception:  # the store's own outage handling applies to the utterances; the media goes on
            log.exception("resumed streams not opened in the store", extra={"call_id": media.guid})

    async def _claim(self, media: CallMedia, admitted: CallRecord) -> CallRecord:
        """Mark the call pending (409-202 for any other start or stop meanwhile)."""
        return await self._edit(media, self.rules.claimed, admitted)

    async def _edit(
        self, media: CallMedia, edit: Callable[[CallRecord], CallRecord], known: CallRecord | None = None
    ) -> CallRecord:
        """`edit` applied to the call's record; `known`: the version this request last had (no read first)."""
        record = await change(self._registry, media.namespace, media.guid, edit, known)
        if record is None:
            raise CallRefused(400, "400-203", "No call with specified guid found")
        return record

"""A remote ASR worker's loop: read up to `max_batch` utterance jobs from the Redis Stream in the consumer group,
decode them as one batch with the same recognizer the in-process pool uses, answer each on its node's results
stream. Jobs a dead worker held are reclaimed after the visibility timeout (XAUTOCLAIM); a job nobody waits for
(deadline passed, cancelled by its node, node gone) is dropped and counted, never decoded.

A job is acknowledged (and deleted: its audio goes) only after its result is written, so a worker killed at any
point loses nothing: at worst a job is decoded twice, and its node keeps the first result (mediagw/backends).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from asr.jobs import (
    CANCELLED,
    EXPIRED,
    GROUP,
    MALFORMED,
    ORPHANED,
    AsrJob,
    AsrResult,
    Keys,
    WorkerInfo,
    entries_by_stream,
)
from asr.recognizer import Recognition, RecognitionRequest

log = logging.getLogger(__name__)

RecognizeBatch = Callable[[list[RecognitionRequest]], list[Recognition]]

Held = tuple[str, bytes, dict[bytes, bytes] | None]  # a job read from a language's stream: stream, id, fields
EntryRef = tuple[str, bytes]  # stream, entry id

RESULTS_MAXLEN = 10_000  # a node's results stream keeps about this many (it reads them within moments)
RESULTS_TTL_MS = 3_600_000  # a gone node's results stream goes after an hour
DEAD_CONSUMER_S = 60.0  # a consumer that has read nothing this long and holds nothing is removed from the group


@dataclass(frozen=True)
class WorkerOptions:
    max_batch: int = 4
    visibility_timeout_s: float = 15.0  # a job held this long by a silent worker is taken over by another
    heartbeat_s: float = 1.0  # the heartbeat key expires after 3 of these
    block_ms: int = 500  # how long one read waits for a job (and how soon a stop is seen)


async def ensure_group(redis: Redis, keys: Keys, languages: Iterable[str]) -> None:
    """The languages' jobs streams and their consumer groups, created by whoever comes first (nodes and workers)."""
    pipe = redis.pipeline(transaction=False)
    for language in languages:
        pipe.xgroup_create(keys.jobs(language), GROUP, id="0", mkstream=True)
    for outcome in await pipe.execute(raise_on_error=False):
        if isinstance(outcome, Exception) and not (isinstance(outcome, ResponseError) and "BUSYGROUP" in str(outcome)):
            raise outcome


class RemoteWorker:
    def __init__(
        self,
        redis: Redis,
        recognize: RecognizeBatch,
        info: WorkerInfo,
        options: WorkerOptions,
        keys: Keys | None = None,
    ) -> None:
        self._redis = redis
        self._recognize = recognize
        self.info = info
        self._options = options
        self._keys = keys or Keys()
        self._streams = [self._keys.jobs(language) for language in info.languages]
        self._next_reclaim = 0.0
        self._next_cleanup = 0.0
        self.decoded = 0  # jobs decoded and answered by this worker
        self.reclaimed = 0  # of them, taken over from a silent worker
        self.dropped: Counter[str] = Counter()

    @property
    def worker_id(self) -> str:
        return self.info.worker_id

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set; the batch in hand is finished and answered first. Redis lost: retried."""
        heartbeat = asyncio.create_task(self._heartbeats(stop), name="asr-worker-heartbeat")
        failing = False
        try:
            while not stop.is_set():
                try:
                    await ensure_group(self._redis, self._keys, self.info.languages)
                    while not stop.is_set():
                        held = await self._next_entries()
                        for first in range(0, len(held), self._options.max_batch):  # a read may bring more
                            await self._handle(held[first : first + self._options.max_batch])
                        failing = False
                except RedisError as error:
                    if not failing:
                        log.warning("asr worker: Redis unreachable (%s); retrying", type(error).__name__)
                    failing = True
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 1.0)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            await self._leave()

    async def _next_entries(self) -> list[Held]:
        """Jobs silent workers held (every half visibility timeout), topped up with new ones up to max_batch (per
        language stream: a read of several streams may bring more, all of them this worker's to answer now)."""
        held: list[Held] = []
        now = time.monotonic()
        if now >= self._next_reclaim:
            self._next_reclaim = now + self._options.visibility_timeout_s / 2
            held = await self._reclaim()
        room = self._options.max_batch - len(held)
        if room > 0:
            block = None if held else self._options.block_ms  # work in hand: do not wait for more
            streams = dict.fromkeys(self._streams, ">")
            reply: Any = await self._redis.xreadgroup(GROUP, self.worker_id, streams, count=room, block=block)  # type: ignore[arg-type]
            for stream, entries in entries_by_stream(reply).items():
                held += [(stream, entry_id, fields) for entry_id, fields in entries]
        return held

    async def _reclaim(self) -> list[Held]:
        idle_ms = int(self._options.visibility_timeout_s * 1000)
        pipe = self._redis.pipeline(transaction=False)
        for stream in self._streams:
            pipe.xautoclaim(stream, GROUP, self.worker_id, idle_ms, start_id="0-0", count=self._options.max_batch)
        replies: list[Any] = await pipe.execute()
        claimed = [
            (stream, bytes(entry_id), fields)
            for stream, reply in zip(self._streams, replies, strict=True)
            for entry_id, fields in reply[1]
        ]
        if claimed:
            self.reclaimed += len(claimed)
            log.info("asr worker: took over %d job(s) a silent worker held", len(claimed))
        if time.monotonic() >= self._next_cleanup:
            self._next_cleanup = time.monotonic() + DEAD_CONSUMER_S
            await self._forget_dead_consumers()
        return claimed

    async def _forget_dead_consumers(self) -> None:
        for stream in self._streams:
            consumers: Any = await self._redis.xinfo_consumers(stream, GROUP)
            for consumer in consumers:
                name = _text(consumer["name"])
                idle_s, pending = int(consumer["idle"]) / 1000, int(consumer["pending"])
                if name != self.worker_id and not pending and idle_s > DEAD_CONSUMER_S:
                    await self._redis.xgroup_delconsumer(stream, GROUP, name)

    async def _handle(self, held: Sequence[Held]) -> None:
        jobs: list[tuple[EntryRef, AsrJob]] = []
        gone: dict[str, list[EntryRef]] = {}
        for stream, entry_id, fields in held:
            if fields is None:  # deleted while pending (answered by a worker that was only slow): nothing to do
                gone.setdefault("", []).append((stream, entry_id))
                continue
            try:
                jobs.append(((stream, entry_id), AsrJob.parse(fields)))
            except ValueError as error:
                log.warning("asr worker: dropped a malformed job: %s", error)
                gone.setdefault(MALFORMED, []).append((stream, entry_id))
        keep: list[tuple[EntryRef, AsrJob]] = []
        for (ref, job), verdict in zip(jobs, await self._verdicts([job for _, job in jobs]), strict=True):
            if verdict:
                gone.setdefault(verdict, []).append(ref)
            else:
                keep.append((ref, job))
        results = await self._decode([job for _, job in keep]) if keep else []
        await self._answer(results, [job for _, job in keep], [ref for ref, _ in keep], gone)

    async def _verdicts(self, jobs: list[AsrJob]) -> list[str]:
        """Why each job must not be decoded ("" when it must): its deadline passed, its node cancelled it, or the
        node that asked is gone (its liveness key expired, or names a newer boot)."""
        if not jobs:
            return []
        nodes = sorted({job.node_id for job in jobs})
        values = await self._redis.mget(
            [self._keys.cancelled(job.job_id) for job in jobs] + [self._keys.node(node) for node in nodes]
        )
        cancelled, boots = values[: len(jobs)], dict(zip(nodes, values[len(jobs) :], strict=True))
        now_ms = time.time() * 1000
        verdicts = []
        for job, mark in zip(jobs, cancelled, strict=True):
            if now_ms > job.deadline_ms:
                verdicts.append(EXPIRED)
            elif mark is not None:
                verdicts.append(CANCELLED)
            elif boots[job.node_id] != job.boot.encode():
                verdicts.append(ORPHANED)
            else:
                verdicts.append("")
        return verdicts

    async def _decode(self, jobs: list[AsrJob]) -> list[AsrResult]:
        """One batch decode off the loop (the heartbeat keeps beating meanwhile); a language this model lacks is
        answered as an error without failing the rest of the batch."""
        languages = set(self.info.languages)
        doable = [job for job in jobs if job.request.language in languages]
        out = {job.job_id: AsrResult(job.job_id, self.worker_id, error="LanguageNotSupported") for job in jobs}
        if doable:
            try:
                recognized = await asyncio.to_thread(self._recognize, [job.request for job in doable])
                answers = zip(doable, recognized, strict=True)
                out.update({j.job_id: AsrResult(j.job_id, self.worker_id, r) for j, r in answers})
            except Exception as error:  # a failed decode fails its jobs, never the worker
                log.exception("asr worker: decode failed")
                out.update({j.job_id: AsrResult(j.job_id, self.worker_id, error=type(error).__name__) for j in doable})
        return [out[job.job_id] for job in jobs]

    async def _answer(
        self, results: list[AsrResult], jobs: list[AsrJob], ids: list[EntryRef], gone: dict[str, list[EntryRef]]
    ) -> None:
        """Results first, then the acknowledgement: a worker killed in between leaves a job to decode again,
        never a job lost."""
        done: dict[str, list[bytes]] = {}
        for stream, entry_id in ids + [ref for refs in gone.values() for ref in refs]:
            done.setdefault(stream, []).append(entry_id)
        pipe = self._redis.pipeline(transaction=False)
        for result, job in zip(results, jobs, strict=True):
            stream = self._keys.results(job.node_id)
            pipe.xadd(stream, result.fields(), maxlen=RESULTS_MAXLEN, approximate=True)  # type: ignore[arg-type]
            pipe.pexpire(stream, RESULTS_TTL_MS)
        for jobs_stream, acked in done.items():
            pipe.xack(jobs_stream, GROUP, *acked)
            pipe.xdel(jobs_stream, *acked)
        for reason, refs in gone.items():
            if reason:
                pipe.hincrby(self._keys.dropped, reason, len(refs))
        await pipe.execute()
        self.decoded += len(results)
        for reason, refs in gone.items():
            if reason:
                self.dropped[reason] += len(refs)
                log.info("asr worker: dropped %d job(s) undecoded (%s)", len(refs), reason)

    async def _heartbeats(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(RedisError):  # the main loop logs an outage; beats resume with Redis
                await self._beat()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._options.heartbeat_s)

    async def _beat(self) -> None:
        ttl_ms = max(1000, int(self._options.heartbeat_s * 3000))
        now_ms = int(time.time() * 1000)
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(self._keys.worker(self.worker_id), self.info.encode(), px=ttl_ms)
        pipe.zadd(self._keys.workers, {self.worker_id: now_ms + ttl_ms})
        pipe.zremrangebyscore(self._keys.workers, "-inf", now_ms)
        await pipe.execute()

    async def _leave(self) -> None:
        """A clean exit: no longer counted as a live worker (what it held was answered or stays to reclaim)."""
        with contextlib.suppress(RedisError):
            pipe = self._redis.pipeline(transaction=False)
            pipe.delete(self._keys.worker(self.worker_id))
            pipe.zrem(self._keys.workers, self.worker_id)
            await pipe.execute()


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)

"""The node's side of remote ASR (asr.backend: redis): utterances go to the jobs stream, answers come back on this
node's results stream (asr/jobs.py says why a stream), decoded by `mediagw asr-worker` processes anywhere.

Exactly one transcript per utterance: each job has an id unique to this boot; the first answer settles its future
and any other (a job decoded twice after a worker was taken for dead) is counted and ignored. An utterance that
gets no answer by its deadline (plus a decode's grace) fails (4080), and is marked cancelled so no worker decodes
it afterwards; the shutdown deadline's abandoned utterances are marked the same way (they are spooled instead).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import time
from collections.abc import Coroutine, Hashable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from redis.asyncio import Redis
from redis.exceptions import RedisError

from asr.jobs import DROP_REASONS, GROUP, AsrJob, AsrResult, Keys, WorkerInfo, stream_entries
from asr.pool import Abandoned, PoolClosed, SpeculativeJob
from asr.recognizer import Recognition, RecognitionRequest
from asr.remote_worker import ensure_group
from mediagw.backends.redis_link import RedisUnavailable, connect, node_name, where
from mediagw.config import Config, RemoteAsrConfig

log = logging.getLogger(__name__)

DECODE_GRACE_S = 10.0  # a decode begun just before the deadline may still answer within this
JOBS_MAXLEN = 100_000  # a safety cap on the jobs stream (answered jobs are deleted; this only bites with no workers)


class RemoteDecodeFailed(RuntimeError):
    """A worker's decode raised; the message is the error's type only (a message could quote text)."""


class RemoteTimeout(RuntimeError):
    """No worker answered before the utterance's deadline."""


class RemoteAsrMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.workers = Gauge(
            "mediagw_asr_workers",
            "Live remote ASR workers (asr.backend redis: heartbeats not expired)",
            registry=registry,
        )
        self.jobs = Gauge(
            "mediagw_asr_stream_jobs",
            "Remote ASR jobs in the Redis Stream, cluster-wide: queued (no worker read them yet), in_flight (read, "
            "not answered)",
            ["state"],
            registry=registry,
        )
        self.dropped = Gauge(
            "mediagw_asr_jobs_dropped",
            "Remote ASR jobs workers dropped undecoded, cluster-wide since the stream was created, by reason: "
            "expired (deadline passed), cancelled (its node gave up on it), orphaned (its node is gone), malformed",
            ["reason"],
            registry=registry,
        )
        self.requeued = Counter(
            "mediagw_asr_jobs_requeued",
            "Remote ASR jobs this node queued again because Redis lost them (it restarted empty)",
            registry=registry,
        )
        self.results = Counter(
            "mediagw_asr_remote_results",
            "Answers from remote ASR workers, by outcome: used, ignored (a second answer to a job decoded twice, or "
            "to one this node no longer waits for)",
            ["outcome"],
            registry=registry,
        )


@dataclass(frozen=True)
class _Snapshot:
    workers: tuple[WorkerInfo, ...]
    queued: int
    in_flight: int
    dropped: dict[str, int]
    epoch: bytes | None


class RedisAsr:
    """An AsrBackend (asr/backend.py) whose decodes run in remote workers. No speculative decodes: a round trip
    per utterance that speech may void costs more than it saves here, so utterances are decoded at their
    confirmed end (`speculate` always skips)."""

    def __init__(
        self, redis: Redis, node_id: str, where: str, options: RemoteAsrConfig, registry: CollectorRegistry
    ) -> None:
        self._redis = redis
        self.node_id = node_id
        self.where = where  # host:port/db, for health and logs
        self._options = options
        self._keys = Keys()
        self._boot = secrets.token_hex(6)
        self._ids = itertools.count()
        self._waiting: dict[str, asyncio.Future[Recognition]] = {}
        self._queued: dict[str, AsrJob] = {}  # in a jobs stream, not answered: queued again if Redis loses them
        self._epoch: bytes | None = None  # Keys.epoch as last read: its change says Redis restarted empty
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = self._abandoned = self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_result = b"0-0"
        self._grouped: set[str] = set()  # languages whose jobs stream and group this node has made sure of
        self.metrics = RemoteAsrMetrics(registry)
        self.workers: tuple[WorkerInfo, ...] = ()
        self.healthy = True
        self.ignored = 0  # answers that settled nothing (duplicates)
        self.requeued = 0  # jobs queued again after Redis lost them

    async def open(self) -> None:
        """Create the stream's group if need be, learn the live workers, start reading answers (from what is
        in this node's results stream now: older answers are a previous boot's)."""
        latest: Any = await self._redis.xrevrange(self._keys.results(self.node_id), count=1)
        self._last_result = bytes(latest[0][0]) if latest else b"0-0"
        await self._poll()
        self._spawn(self._read_answers(), "asr-remote-answers")
        self._spawn(self._monitor(), "asr-remote-monitor")

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def languages(self) -> list[str]:
        """ISO 639-1 codes some live worker can decode (none while no worker is alive)."""
        return sorted({code for worker in self.workers for code in worker.languages})

    @property
    def backlog(self) -> int:
        return len(self._waiting)

    @property
    def queue_depth(self) -> int:
        return len(self._waiting)

    @property
    def unfinished(self) -> int:
        return len(self._waiting)

    async def transcribe(self, request: RecognitionRequest, stream: Hashable = None) -> Recognition:
        if self._abandoned:
            raise Abandoned("ASR gave up its work at the shutdown deadline")
        if self._closed:
            raise PoolClosed("ASR backend is shut down")
        job = AsrJob(
            f"{self._boot}-{next(self._ids)}",
            self.node_id,
            self._boot,
            int((time.time() + self._options.deadline_s) * 1000),
            request,
        )
        future = asyncio.get_running_loop().create_future()
        self._waiting[job.job_id] = future
        self._idle.clear()
        try:
            await self._submit(job, future)
            timeout = job.deadline_ms / 1000 - time.time() + DECODE_GRACE_S
            return await asyncio.wait_for(asyncio.shield(future), max(0.0, timeout))
        except TimeoutError:
            self._spawn(self._cancel([job.job_id]), "asr-remote-cancel")
            raise RemoteTimeout(f"no ASR worker answered within {self._options.deadline_s:.0f} s") from None
        finally:
            self._waiting.pop(job.job_id, None)
            self._queued.pop(job.job_id, None)
            if not self._waiting:
                self._idle.set()

    async def _submit(self, job: AsrJob, answered: asyncio.Future[Recognition]) -> None:
        """Queue the job, retrying while Redis is away until its deadline (or until it is abandoned)."""
        language = job.request.language
        while True:
            try:
                if language not in self._grouped:
                    await ensure_group(self._redis, self._keys, [language])
                    self._grouped.add(language)
                stream = self._keys.jobs(language)
                await self._redis.xadd(stream, job.fields(), maxlen=JOBS_MAXLEN, approximate=True)  # type: ignore[arg-type]
                if not answered.done():
                    self._queued[job.job_id] = job
                return
            except RedisError:
                if time.time() * 1000 >= job.deadline_ms:
                    raise
            await asyncio.wait([answered], timeout=0.5)  # backoff; abandon() ends it at once
            if answered.done():
                return

    def speculate(self, request: RecognitionRequest, stream: Hashable = None) -> SpeculativeJob | None:
        return None

    def confirm(self, job: SpeculativeJob) -> None:
        return None

    def withdraw(self, job: SpeculativeJob) -> bool:
        return False

    async def drain(self) -> None:
        await self._idle.wait()

    def abandon(self) -> int:
        """The shutdown deadline: every unanswered utterance fails with Abandoned (the caller spools it) and is
        marked cancelled, so no worker decodes it into a late duplicate of the spooled one."""
        self._abandoned = self._closed = True
        given_up = [job_id for job_id, future in self._waiting.items() if not future.done()]
        for job_id in given_up:
            self._waiting[job_id].set_exception(Abandoned("not decoded before the shutdown deadline"))
        if given_up:
            self._spawn(self._cancel(given_up), "asr-remote-cancel")
        return len(given_up)

    async def close(self) -> None:
        self._closed = True
        if not self._abandoned:
            await self.drain()
        cancels = [t for t in self._tasks if t.get_name() == "asr-remote-cancel"]
        if cancels:
            await asyncio.wait(cancels, timeout=2.0)
        self._stopping = True  # redis-py may turn a cancellation inside a command into a ConnectionError
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(RedisError):
            await self._redis.delete(self._keys.node(self.node_id))  # what is still queued for us is orphaned
        await self._redis.aclose()

    async def _cancel(self, job_ids: list[str]) -> None:
        ttl_ms = int((self._options.deadline_s + DECODE_GRACE_S) * 1000)
        try:
            pipe = self._redis.pipeline(transaction=False)
            for job_id in job_ids:
                pipe.set(self._keys.cancelled(job_id), b"1", px=ttl_ms)
            await pipe.execute()
        except RedisError as error:  # its deadline still stops a worker from decoding it
            log.warning("asr: %d job(s) could not be marked cancelled (%s)", len(job_ids), type(error).__name__)

    async def _read_answers(self) -> None:
        """This node's results stream, from the last answer seen: after a Redis blip, nothing Redis kept is lost."""
        stream = self._keys.results(self.node_id)
        while not self._stopping:
            try:
                reply: Any = await self._redis.xread({stream: self._last_result}, count=256, block=1000)
                for entry_id, fields in stream_entries(reply):
                    self._last_result = entry_id
                    if fields is not None:
                        self._settle(fields)
            except RedisError:
                await asyncio.sleep(0.5)  # the monitor reports the outage; this only retries
            except Exception:  # a bug here must not leave every later utterance waiting for its deadline
                log.exception("asr: reading answers failed")
                await asyncio.sleep(0.5)

    def _settle(self, fields: dict[bytes, bytes]) -> None:
        try:
            result = AsrResult.parse(fields)
        except ValueError as error:
            log.warning("asr: ignored a malformed answer: %s", error)
            return
        future = self._waiting.get(result.job_id)
        if future is None or future.done():
            self.ignored += 1
            self.metrics.results.labels("ignored").inc()
            return
        self.metrics.results.labels("used").inc()
        if result.recognition is not None:
            future.set_result(result.recognition)
        else:
            future.set_exception(RemoteDecodeFailed(result.error))

    async def _monitor(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self._options.heartbeat_s)  # the poll's period
            try:
                await self._poll()
            except Exception:  # keep polling: the liveness key and the worker list depend on it
                log.exception("asr: polling Redis failed")

    async def _poll(self) -> None:
        """Renew this node's liveness key; read the live workers, the queue and the drop counts."""
        try:
            snapshot = await self._snapshot()
        except RedisError as error:
            if self.healthy:
                log.warning("asr: Redis at %s is unreachable (%s)", self.where, type(error).__name__)
            self.healthy = False
            return
        if not self.healthy:
            log.info("asr: Redis at %s is reachable again", self.where)
        self.healthy = True
        if snapshot.epoch != self._epoch:
            if self._epoch is not None:
                self._queue_again()
            self._epoch = snapshot.epoch
        self.workers = snapshot.workers
        self.metrics.workers.set(len(snapshot.workers))
        self.metrics.jobs.labels("queued").set(snapshot.queued)
        self.metrics.jobs.labels("in_flight").set(snapshot.in_flight)
        for reason in DROP_REASONS:
            self.metrics.dropped.labels(reason).set(snapshot.dropped.get(reason, 0))

    def _queue_again(self) -> None:
        """Redis restarted empty (its epoch changed): the jobs it held are gone, so each utterance still waiting is
        queued again under its own id and deadline. An answer to the first copy that arrives anyway is ignored as
        a duplicate: still one transcript per utterance."""
        self._grouped.clear()  # the streams and their group went with the data
        again = [job for job_id, job in self._queued.items() if not self._waiting[job_id].done()]
        log.warning("asr: Redis at %s lost its data: %d utterance(s) queued again", self.where, len(again))
        self.metrics.requeued.inc(len(again))
        self.requeued += len(again)
        for job in again:
            self._spawn(self._submit(job, self._waiting[job.job_id]), "asr-remote-requeue")

    async def _snapshot(self) -> _Snapshot:
        now_ms = int(time.time() * 1000)
        ttl_ms = int(max(3.0, self._options.heartbeat_s * 5) * 1000)
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(self._keys.node(self.node_id), self._boot.encode(), px=ttl_ms)
        pipe.zrangebyscore(self._keys.workers, now_ms, "+inf")
        pipe.hgetall(self._keys.dropped)
        pipe.set(self._keys.epoch, secrets.token_hex(8).encode(), nx=True)
        pipe.get(self._keys.epoch)
        _, worker_ids, dropped, _, epoch = await pipe.execute()
        infos: Any = await self._redis.mget([self._keys.worker(w.decode()) for w in worker_ids]) if worker_ids else []
        workers = []
        for data in infos:
            with contextlib.suppress(ValueError, TypeError):
                workers.append(WorkerInfo.decode(data))
        queued, in_flight = await self._queue({code for worker in workers for code in worker.languages})
        counts = {key.decode(): int(value) for key, value in dropped.items()}
        return _Snapshot(tuple(workers), queued, in_flight, counts, epoch)

    async def _queue(self, languages: set[str]) -> tuple[int, int]:
        """Jobs queued and in flight over the streams of the live workers' languages (a stream not made yet: 0)."""
        pipe = self._redis.pipeline(transaction=False)
        for language in sorted(languages):
            pipe.xlen(self._keys.jobs(language))
            pipe.xinfo_groups(self._keys.jobs(language))
        replies: list[Any] = await pipe.execute(raise_on_error=False)
        length = in_flight = 0
        for size, groups in zip(replies[::2], replies[1::2], strict=True):
            if isinstance(size, Exception) or isinstance(groups, Exception):
                continue
            length += int(size)
            in_flight += sum(int(g.get("pending", 0)) for g in groups if g.get("name") in (GROUP, GROUP.encode()))
        return max(0, length - in_flight), in_flight


async def open_remote_asr(config: Config, registry: CollectorRegistry) -> RedisAsr:
    """The node's remote ASR, connected and reading its answers; RedisUnavailable (host named, no password)."""
    url = config.cluster.redis_url
    redis = await connect(url, "asr.backend redis")
    asr = RedisAsr(redis, node_name(config), where(url), config.asr.remote, registry)
    try:
        await asr.open()
    except RedisError as error:
        await redis.aclose()
        raise RedisUnavailable(f"asr.backend redis: Redis at {where(url)} failed ({type(error).__name__})") from None
    log.info(
        "ASR: remote workers via Redis at %s (node %s); %d live, languages %s",
        asr.where,
        asr.node_id,
        len(asr.workers),
        ", ".join(asr.languages) or "none yet",
    )
    return asr

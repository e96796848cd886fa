"""`mediagw asr-worker --config FILE`: a process that loads the configured model and serves the cluster's remote ASR
jobs (asr/remote_worker.py) until SIGTERM or SIGINT. Run as many as the hosts have cores or GPUs."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from asr.jobs import WorkerInfo
from asr.model import ModelNotFound
from asr.recognizer import Recognizer
from asr.remote_worker import RemoteWorker, WorkerOptions
from mediagw.backends.redis_link import RedisUnavailable, connect
from mediagw.config import Config

log = logging.getLogger("mediagw.asr_worker")


@dataclass(frozen=True)
class WorkerRun:
    decoded: int
    reclaimed: int


def worker_options(config: Config) -> WorkerOptions:
    remote = config.asr.remote
    return WorkerOptions(config.asr.max_batch, remote.visibility_timeout_s, remote.heartbeat_s)


def run_worker(config: Config) -> int:
    """The command: exit 2 when the model or Redis is not there (named, no password), 0 after a signal."""
    if not config.cluster.redis_url:
        print("mediagw: asr-worker needs cluster.redis_url", file=sys.stderr)
        return 2
    try:
        recognizer = Recognizer(config.asr.model, config.asr.decode, cache_dir=Path(config.data_dir) / "models")
    except ModelNotFound as error:
        print(f"mediagw: ASR model error: {error}", file=sys.stderr)
        return 2
    try:
        run = asyncio.run(_serve(config, recognizer))
    except RedisUnavailable as error:
        print(f"mediagw: {error}", file=sys.stderr)
        return 2
    log.info("asr worker stopped: %d decoded, %d of them taken over", run.decoded, run.reclaimed)
    return 0


async def _serve(config: Config, recognizer: Recognizer) -> WorkerRun:
    redis = await connect(config.cluster.redis_url, "asr-worker")
    worker_id = f"{socket.gethostname()}:{os.getpid()}"
    info = WorkerInfo(
        worker_id, recognizer.model_name, tuple(recognizer.languages), recognizer.device, config.asr.max_batch
    )
    worker = RemoteWorker(redis, recognizer.recognize_batch, info, worker_options(config))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info(
        "asr worker %s: model %s on %s, languages %s, batches of up to %d",
        worker_id,
        recognizer.model_name,
        recognizer.device,
        ",".join(recognizer.languages[:8]) + ("..." if len(recognizer.languages) > 8 else ""),
        config.asr.max_batch,
    )
    try:
        await worker.run(stop)
    finally:
        await redis.aclose()
    return WorkerRun(worker.decoded, worker.reclaimed)

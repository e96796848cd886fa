"""Remote ASR through Redis workers vs the in-process pool, in one run on one machine.

    python -m bench.remote_asr [--repeat N] [--workers 1,2,4]

1. overhead: each utterance of the sample calls, one at a time (no queueing), from the moment the closed segment
   is handed to the ASR backend to its recognition back on the node's loop: the in-process pool (asr/pool.py, one
   worker) and asr.backend redis with one `mediagw asr-worker` process, alternating utterance by utterance so both
   see the same load. The text stage and outputs after it are the same code either way. Target: the remote p50 at
   most 15 ms above the local one (paired difference per utterance).
2. throughput: every utterance (x --repeat) queued at once, decoded by 1, 2 and 4 worker processes (batches of
   asr.max_batch); utterances/s, the workers' CPU seconds, and per-core efficiency (utterances/s per busy core
   relative to one worker). The in-process pool (asr.model.workers = cores, same batches) is the baseline.
Prints JSON; names the CPU and the load average at start and end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry

from asr.pool import AsrPool
from asr.recognizer import RecognitionRequest, Recognizer
from asr.segmenter import SegmenterOptions
from bench.common import CLOCK_TICKS, percentiles, sample_channels
from mediagw.app import load_recognizer
from mediagw.backends.redis_asr import RedisAsr
from mediagw.backends.redis_link import client
from mediagw.config import RemoteAsrConfig, load_config
from mediagw.offline import segments
from tests.asr_workers import AsrWorkerProcess, write_config
from tests.redis_server import RedisServer, server_binary


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def utterances() -> list[RecognitionRequest]:
    return [
        RecognitionRequest(segment.samples)
        for channel in sample_channels()
        for segment in segments(channel.samples, SegmenterOptions())
    ]


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


class Cluster:
    """A redis-server, the node's client and N worker processes."""

    def __init__(self, directory: Path, redis: RedisServer) -> None:
        self.directory = directory
        self.redis = redis
        self.workers: list[AsrWorkerProcess] = []
        self.node: RedisAsr | None = None

    async def open(self) -> RedisAsr:
        options = RemoteAsrConfig(deadline_s=600, visibility_timeout_s=60, heartbeat_s=0.2)
        self.node = RedisAsr(client(self.redis.url()), "bench", "bench", options, CollectorRegistry())
        await self.node.open()
        return self.node

    async def scale(self, count: int) -> None:
        """Exactly `count` live worker processes."""
        assert self.node is not None
        config = write_config(self.directory / "worker.yaml", self.redis.url(), remote={"visibility_timeout_s": 60})
        while len(self.workers) > count:
            self.workers.pop().stop()
        while len(self.workers) < count:
            self.workers.append(AsrWorkerProcess(config, f"worker{len(self.workers)}"))
        deadline = time.monotonic() + 180
        while len(self.node.workers) != count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{count} workers did not come up: {self.workers[-1].output()[-2000:]}")
            await asyncio.sleep(0.1)  # polling the node's view of the heartbeats

    def workers_cpu_s(self) -> float:
        return sum(process_cpu_s(worker.pid) for worker in self.workers)

    async def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        if self.node is not None:
            await self.node.close()


async def overhead(pool: AsrPool, node: RedisAsr, requests: list[RecognitionRequest]) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    local, remote, diff, local_around, remote_around = [], [], [], [], []
    for request in requests * 2:  # each decode is independent: a second pass only adds samples
        times, around = [], []
        for backend in (pool, node):
            began = loop.time()
            result = await backend.transcribe(request)
            times.append(loop.time() - began)
            around.append(times[-1] - result.decode_ms / 1000)  # all but the decode itself
        local.append(times[0])
        remote.append(times[1])
        diff.append(times[1] - times[0])
        local_around.append(around[0])
        remote_around.append(around[1])
    return {
        "local_ms": percentiles(local),
        "remote_ms": percentiles(remote),
        "remote_minus_local_ms": percentiles(diff),
        "outside_decode_local_ms": percentiles(local_around),
        "outside_decode_remote_ms": percentiles(remote_around),
        "target": "remote_minus_local_ms p50 <= 15",
    }


async def throughput(backend: Any, requests: list[RecognitionRequest]) -> tuple[float, float]:
    began = time.perf_counter()
    results = await asyncio.gather(*(backend.transcribe(request, index) for index, request in enumerate(requests)))
    assert len(results) == len(requests)
    return len(requests) / (time.perf_counter() - began), time.perf_counter() - began


async def run(repeat: int, counts: list[int]) -> dict[str, Any]:
    cores = os.cpu_count() or 1
    config = load_config(environ={})
    recognizer: Recognizer = load_recognizer(config)
    requests = utterances()
    report: dict[str, Any] = {
        "benchmark": "remote_asr",
        "cpu": cpu_model(),
        "cores": cores,
        "load_start": os.getloadavg(),
        "utterances": len(requests),
        "audio_s": round(sum(len(r.samples) for r in requests) / 8000, 1),
    }
    binary = server_binary()
    if binary is None:
        raise SystemExit("redis-server is needed (apt-get install redis-server)")
    with TemporaryDirectory(prefix="bench-remote-asr-") as directory:
        redis = RedisServer(binary).start()
        cluster = Cluster(Path(directory), redis)
        try:
            node = await cluster.open()
            await cluster.scale(1)
            one = AsrPool(recognizer.recognize_batch, 1, 256, config.asr.max_batch)
            one.start()
            report["overhead"] = await overhead(one, node, requests)
            await one.close()
            batch = requests * repeat
            pool = AsrPool(recognizer.recognize_batch, cores, 10_000, config.asr.max_batch)
            pool.start()
            report["local_pool"] = await local_throughput(pool, batch, cores)
            report["remote"] = await scaling(cluster, node, batch, counts, cores)
            await cluster.scale(0)  # the baseline again, so a change of load during the run shows
            report["local_pool_after"] = await local_throughput(pool, batch, cores)
            await pool.close()
        finally:
            await cluster.close()
            redis.remove()
    report["load_end"] = os.getloadavg()
    return report


async def local_throughput(pool: AsrPool, batch: list[RecognitionRequest], cores: int) -> dict[str, Any]:
    cpu = time.process_time()
    rate, _ = await throughput(pool, batch)
    cpu_s = time.process_time() - cpu
    return {
        "workers": cores,
        "utterances_per_s": round(rate, 2),
        "cpu_s": round(cpu_s, 1),
        "utterances_per_cpu_s": round(len(batch) / cpu_s, 2),
    }


async def scaling(
    cluster: Cluster, node: RedisAsr, batch: list[RecognitionRequest], counts: list[int], cores: int
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for count in counts:
        await cluster.scale(count)
        cpu = cluster.workers_cpu_s()
        rate, wall = await throughput(node, batch)
        busy = min(count, cores)
        cpu_s = cluster.workers_cpu_s() - cpu
        row = {
            "workers": count,
            "utterances_per_s": round(rate, 2),
            "workers_cpu_s": round(cpu_s, 1),
            "wall_s": round(wall, 1),
            "per_core_utterances_per_s": round(rate / busy, 2),  # per core the workers could occupy
            "utterances_per_cpu_s": round(len(batch) / cpu_s, 2),  # per core-second they used
        }
        first = rows[0] if rows else row
        row["per_core_efficiency"] = round(row["per_core_utterances_per_s"] / first["per_core_utterances_per_s"], 2)
        row["cpu_efficiency"] = round(row["utterances_per_cpu_s"] / first["utterances_per_cpu_s"], 2)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="each utterance this many times in the throughput runs")
    parser.add_argument("--workers", default="1,2,4", help="worker process counts to run")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    report = asyncio.run(run(args.repeat, counts))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()

"""Several gateway nodes on one Redis (cluster.redis_url), in one run on one machine (JSON on stdout).

    python -m bench.cluster [--calls 200] [--rate 100] [--seconds 20] [--ingest-calls 100] [--ingest-seconds 20]
                            [--repeat 1]

1. control: node A holds `--calls` Twilio calls (sockets open, no audio); start-streaming and stop-streaming
   alternate on them at `--rate` requests/s, every other request sent to node B, which forwards it to A
   (api/forward.py), the rest to A itself: forwarded and local latencies in the same run. Target: the forwarded
   start-streaming p99 at most 30 ms at 100 requests/s.
2. ingest: Twilio calls streaming both tracks in real time, transcription started, ASR off (bench/twilio_ingest.py's
   client): one node with the in-memory registry (baseline), one node on Redis, and two nodes on Redis with half
   the calls each. Server CPU ms per call-second for each, also net of what the nodes cost idle (measured for 5 s
   before the calls: a second process's loop and heartbeat are a fixed cost, not a per-call one), and the ratios to
   the baseline (target: the shared registry adds at most 10 %); redis-server's own CPU beside it. `--repeat N`
   runs the three levels N times in turn (neighbours' load then falls on each alike) and reports each level's
   median, the ratios of the medians, and every round's ratio. `--together` loads the three levels at the same
   time (each its own calls and client), so what other processes take from the cores weighs on each alike;
   each Redis level then has a redis-server of its own (Pub/Sub is not per database: one node would otherwise
   hear the other level's console relay, a cost no lone node has), and its CPU is that level's own.
The nodes are `mediagw --config FILE serve` processes (tests/cluster.py, as the README documents) with SQLite
stores of their own (the store is not what is measured). Names the CPU and the load average at start and end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import API_HEADERS, CLOCK_TICKS, percentiles
from bench.remote_asr import cpu_model
from bench.twilio_ingest import _client
from tests.cluster import GatewayNode, node_config
from tests.redis_server import RedisServer, server_binary

NODE = {
    "asr": {"enabled": False},
    "twilio": {"idle_timeout_s": 300, "start_grace_s": 10},
    "auth": {"requests_per_second": 0},
    "logging": {"level": "WARNING"},
}


IDLE_S = 5.0
MULAW = {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@contextmanager
def nodes(folder: Path, names: list[str], redis_url: str) -> Iterator[list[GatewayNode]]:
    started: list[GatewayNode] = []
    try:
        for name in names:
            config = node_config(folder / f"{name}.yaml", name, redis_url, "", **NODE)  # type: ignore[arg-type]
            started.append(GatewayNode(config, name).start())
        yield started
    finally:
        for node in started:
            node.stop()


async def hold_calls(session: aiohttp.ClientSession, node: GatewayNode, sids: list[str]) -> list[Any]:
    """One Twilio socket per call on `node`, its start message sent, kept open."""
    async with session.get(f"{node.base_url}/mg-autotranscribe/v1/twilio-media-stream-url", headers=API_HEADERS) as r:
        url = (await r.json())["streamingUrl"]
    sockets = []
    for sid in sids:
        ws = await session.ws_connect(url)
        tracks = ["inbound", "outbound"]
        start = {
            "callSid": sid,
            "streamSid": f"MZ{sid[2:]}",
            "tracks": tracks,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        }
        await ws.send_str(json.dumps({"event": "start", "streamSid": f"MZ{sid[2:]}", "start": start}))
        sockets.append(ws)
    return sockets


async def drive(a: GatewayNode, b: GatewayNode, calls: int, rate: float, seconds: float) -> dict[str, Any]:
    sids = [f"CA{index:032x}" for index in range(calls)]
    latencies: dict[str, list[float]] = {}
    statuses: dict[str, int] = {}
    started = dict.fromkeys(sids, False)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        sockets = await hold_calls(session, a, sids)
        await asyncio.sleep(1.0)  # the last start messages read

        async def one(index: int) -> None:
            sid = sids[index % calls]
            node, where = (b, "forwarded") if (index // calls) % 4 < 2 else (a, "local")  # a start and a stop each
            kind = "stop" if started[sid] else "start"
            started[sid] = not started[sid]
            body: dict[str, Any] = {"namespace": "twilio", "guid": sid}
            if kind == "start":
                body |= {"customerId": "c1", "agentId": "a1"}
            url = f"{node.base_url}/mg-autotranscribe/v1/{kind}-streaming"
            begun = time.perf_counter()
            async with session.post(url, json=body, headers=API_HEADERS) as response:
                await response.read()
            latencies.setdefault(f"{where}_{kind}", []).append(time.perf_counter() - begun)
            key = f"{where}_{response.status}"
            statuses[key] = statuses.get(key, 0) + 1

        total, tasks = int(rate * seconds), []
        origin = time.perf_counter()
        for index in range(total):
            delay = origin + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(index)))
        await asyncio.gather(*tasks)
        for ws in sockets:
            await ws.close()
    report: dict[str, Any] = {"rate_per_s": rate, "requests": total, "statuses": statuses}
    report |= {f"{name}_ms": percentiles(values) for name, values in sorted(latencies.items())}
    forwarded, local = report["forwarded_start_ms"]["p99"], report["local_start_ms"]["p99"]
    report["forwarded_start_p99_minus_local_ms"] = round(forwarded - local, 1)
    return report


def flush_all(levels: list[Level]) -> None:
    for url in dict.fromkeys(url for _, url in levels if url):
        flush(url)


def flush(url: str) -> None:
    """Each level starts on an empty Redis (the same Call SIDs again would be failovers of the last level's)."""
    import redis

    with redis.Redis.from_url(url) as client:
        client.flushdb()


Level = tuple[list[str], str]  # node names, and the Redis URL ("": the in-memory registry)


def ingest(
    folder: Path, levels: list[Level], calls: int, seconds: float, redis_pids: dict[str, int], tag: str = ""
) -> list[dict[str, Any]]:
    """The levels' nodes started, then loaded at the same time (several levels: what the neighbours' load costs
    falls on each alike); each level's own Call SIDs. `redis_pids`: each Redis URL's server process."""
    flush_all(levels)
    with contextlib.ExitStack() as stack:
        running = [stack.enter_context(nodes(folder, [n + tag for n in names], url)) for names, url in levels]
        manager = stack.enter_context(multiprocessing.Manager())
        share = [calls // len(level) for level in running]
        results = [[manager.dict() for _ in level] for level in running]  # held here: a proxy dropped is gone
        clients = [
            [
                multiprocessing.Process(
                    target=_client,
                    args=(node.base_url, share[index], seconds, True, result, index * calls + n * share[index]),
                )
                for n, (node, result) in enumerate(zip(level, results[index], strict=True))
            ]
            for index, level in enumerate(running)
        ]
        pids = [[node.process.pid for node in level if node.process is not None] for level in running]
        idle0, idle_wall0 = [sum(map(cpu_seconds, level)) for level in pids], time.monotonic()
        time.sleep(IDLE_S)  # what the nodes cost with no call (loops, heartbeats): apart from the per-call cost
        idle_wall = time.monotonic() - idle_wall0
        idle = [(sum(map(cpu_seconds, level)) - i0) / idle_wall for level, i0 in zip(pids, idle0, strict=True)]
        servers = {url: redis_pids[url] for _, url in levels if url}
        cpu0, wall0 = [sum(map(cpu_seconds, level)) for level in pids], time.monotonic()
        redis0 = {url: cpu_seconds(pid) for url, pid in servers.items()}
        for client in (c for level in clients for c in level):
            client.start()
        for client in (c for level in clients for c in level):
            client.join(seconds + 300)
        wall = time.monotonic() - wall0
        cpu = [sum(map(cpu_seconds, level)) - c0 for level, c0 in zip(pids, cpu0, strict=True)]
        redis_cpu = {url: cpu_seconds(pid) - redis0[url] for url, pid in servers.items()}
    reports = []
    for index, (names, url) in enumerate(levels):
        call_seconds = share[index] * len(names) * seconds
        reports.append(
            {
                "nodes": len(names),
                "registry": "redis" if url else "memory",
                "calls": share[index] * len(names),
                "wall_s": round(wall, 1),
                "server_cpu_ms_per_call_second": round(cpu[index] * 1000 / call_seconds, 3),
                "idle_server_cpu_cores": round(idle[index], 4),
                "net_of_idle_cpu_ms_per_call_second": round((cpu[index] - idle[index] * wall) * 1000 / call_seconds, 3),
                "redis_cpu_ms_per_call_second": round(redis_cpu.get(url, 0.0) * 1000 / call_seconds, 4),
                "clients_done": all(client.exitcode == 0 for client in clients[index]),
            }
        )
    return reports


def medians(rounds: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Each level's median over the rounds, and its ratios to the first level's (one node in memory)."""
    levels = []
    for index, first in enumerate(rounds[0]):
        level = dict(first)
        for key, value in first.items():
            if isinstance(value, float):
                level[key] = round(statistics.median(each[index][key] for each in rounds), 4)
        level["rounds"] = len(rounds)
        level["clients_done"] = all(each[index]["clients_done"] for each in rounds)
        levels.append(level)
    for level in levels:
        for key in ("server_cpu_ms_per_call_second", "net_of_idle_cpu_ms_per_call_second"):
            level[f"{key}_ratio_to_one_node_in_memory"] = round(level[key] / levels[0][key], 3)
    return levels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--ingest-calls", type=int, default=100)
    parser.add_argument("--ingest-seconds", type=float, default=20.0)
    parser.add_argument("--logs", type=Path, help="keep the nodes' configs and logs in this folder")
    parser.add_argument("--no-ingest", action="store_true", help="the control part only")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of the three ingest levels, in turn")
    parser.add_argument("--together", action="store_true", help="the three ingest levels at once, in each round")
    args = parser.parse_args()
    binary = server_binary()
    assert binary is not None, "redis-server is needed (apt-get install redis-server)"
    report: dict[str, Any] = {"benchmark": "cluster", "cpu": cpu_model(), "cores": os.cpu_count()}
    report["load_at_start"] = os.getloadavg()
    redis, second = RedisServer(binary).start(), RedisServer(binary).start()  # the second: the 2-node level's
    try:
        assert redis._process is not None and second._process is not None
        together = args.together
        two_url = second.url() if together else redis.url()
        redis_pids = {redis.url(): redis._process.pid, second.url(): second._process.pid}
        with tempfile.TemporaryDirectory() as temporary:
            folder = args.logs or Path(temporary)
            with nodes(Path(folder), ["a", "b"], redis.url()) as (a, b):
                report["control"] = asyncio.run(drive(a, b, args.calls, args.rate, args.seconds))
            print(json.dumps(report["control"]), flush=True)
            runs = [] if args.no_ingest else [(["solo"], ""), (["solo-redis"], redis.url()), (["a2", "b2"], two_url)]
            rounds: list[list[dict[str, Any]]] = []
            for index in range(args.repeat if runs else 0):
                tag = f"-{index}" if index else ""  # a data directory of its own
                batches = [runs] if together else [[run] for run in runs]
                rounds.append([])
                for batch in batches:
                    levels = ingest(Path(folder), batch, args.ingest_calls, args.ingest_seconds, redis_pids, tag)
                    rounds[-1].extend(levels)
                    for level in levels:
                        print(json.dumps(level), flush=True)
    finally:
        redis.remove()
        second.remove()
    report["ingest"] = medians(rounds) if rounds else []
    if len(rounds) > 1:
        key = "net_of_idle_cpu_ms_per_call_second"
        report["ingest_round_ratios_net"] = [[round(level[key] / each[0][key], 3) for level in each] for each in rounds]
    report["load_at_end"] = os.getloadavg()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

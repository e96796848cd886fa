"""Webhook publisher throughput and added latency, alone and beside a receiver that never answers (JSON).

    python -m bench.webhooks

Receivers run in their own processes (`python -m mediagw.simulators.webhook_receiver`). The publisher posts
messages for 100 streams at a fixed rate; latency is from `publish()` to the message's arrival at the
receiver (CLOCK_MONOTONIC is shared by processes). Event-loop lag of the publishing process stands for what
the media pipeline would feel.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any

from bench.common import percentiles
from mediagw.outputs.webhooks import TargetPublisher, WebhookTarget


class ReceiverProcess:
    def __init__(self, mode: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mediagw.simulators.webhook_receiver", mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip() + "/hook"

    def stats(self) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        return dict(json.loads(self.process.stdout.readline()))

    def full(self) -> dict[str, Any]:
        """Every message body with its arrival time."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("full\n")
        self.process.stdin.flush()
        return dict(json.loads(self.process.stdout.readline()))

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


async def loop_lag(samples: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        started = time.monotonic()
        await asyncio.sleep(0.005)
        samples.append(time.monotonic() - started - 0.005)


async def run(rate: float, seconds: float, with_hanging: bool) -> dict[str, Any]:
    healthy = ReceiverProcess("ok")
    hanging = ReceiverProcess("hang") if with_hanging else None
    publishers = [TargetPublisher(WebhookTarget("healthy", healthy.url), _ignore, lambda s: None)]
    if hanging:
        publishers.append(TargetPublisher(WebhookTarget("hanging", hanging.url, timeout_s=30), _ignore, lambda s: None))
    lag: list[float] = []
    stop = asyncio.Event()
    ticker = asyncio.create_task(loop_lag(lag, stop))
    total = int(rate * seconds)
    published_at: list[float] = []
    start = time.monotonic()
    for index in range(total):
        delay = start + index / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        body = json.dumps({"type": "transcript", "n": index, "streamId": f"s{index % 100}"}).encode()
        published_at.append(time.monotonic())
        for publisher in publishers:
            publisher.publish(f"u{index}", f"s{index % 100}", body)
    while publishers[0].backlog and time.monotonic() - start < seconds + 30:  # noqa: ASYNC110 (a counter, no event)
        await asyncio.sleep(0.01)
    elapsed = time.monotonic() - start
    stop.set()
    await ticker
    stats = healthy.stats()
    latency = [arrived - published_at[n] for arrived, n in zip(stats["arrived_at"], stats["ids"], strict=True)]
    report = {
        "rate_per_s": rate,
        "messages": total,
        "delivered_healthy": stats["received"],
        "delivered_per_s": round(stats["received"] / elapsed, 1),
        "latency_ms": percentiles(latency),
        "loop_lag_ms": percentiles(lag),
        "hanging_target": bool(hanging),
    }
    if hanging:
        report["hanging_dropped"] = publishers[1].dropped
        report["hanging_backlog"] = publishers[1].backlog
    for publisher in publishers:
        await publisher.close()
    healthy.stop()
    if hanging:
        hanging.stop()
    return report


async def _ignore(*_: object) -> None:
    return None


def main() -> None:
    results = [asyncio.run(run(1000, 5, False)), asyncio.run(run(1000, 5, True)), asyncio.run(run(3000, 3, False))]
    print(json.dumps({"benchmark": "webhooks", "results": results}, indent=1))


if __name__ == "__main__":
    main()

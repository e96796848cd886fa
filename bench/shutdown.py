"""Graceful shutdown: exit time after SIGTERM for ASR backlogs of 0, 100 and 1,000 utterances, and the time from a
restart until the spooled audio is delivered as late utterances.

    python -m bench.shutdown [--timeout 10] [--backlogs 0,100,1000]

For each backlog: a `mediagw serve` process (1 ASR worker, no pacing) gets direct-API streams that send short
utterances (1.2 s of speech, 0.8 s of silence) as fast as the socket takes them, until /metrics shows that many
utterances undecoded; then SIGTERM, and the exit time, what the clients got (5001 and the untranscribed summary) and
what the store holds (table untranscribed, spool files). The last one is then restarted on the same data
directory with a webhook receiver: the time until every spooled utterance arrived (late: true), and a second
restart checks that none comes twice. Prints one JSON object; the CPU is named in it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from asr.frame import FrameAssembler, Pcm
from asr.segmenter import Segmenter, SegmenterOptions
from bench.common import GatewayProcess, sample_channels
from mediagw.simulators.direct_ws import streaming_url
from mediagw.simulators.webhook_receiver import Receiver
from tests.gateway import API_ID, API_SECRET
from tests.waits import eventually

HARD_EXIT_S = 4.0


def short_utterances(count: int, speech_ms: int = 1200, gap_ms: int = 800) -> Pcm:
    """`count` utterances: the sample calls' utterances as the segmenter cuts them, each clipped to `speech_ms`,
    with `gap_ms` of silence after each (more than segmenter.end_silence_ms: each is one utterance)."""
    clips = []
    for channel in sample_channels():
        segmenter, frames = Segmenter(SegmenterOptions()), FrameAssembler()
        for frame in frames.push(channel.samples):
            clips.extend(segment.samples[: speech_ms * 8] for segment in segmenter.push(frame))
    gap = np.zeros(gap_ms * 8, dtype=np.int16)
    return np.concatenate([np.concatenate((clips[i % len(clips)], gap)) for i in range(count)])


@dataclass
class FloodStream:
    ws: aiohttp.ClientWebSocketResponse
    recording_allowed: bool
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def final(self) -> dict[str, Any] | None:
        return next((m for m in self.messages if m.get("message") == "finalResponse"), None)

    async def read_to_end(self) -> None:
        async for message in self.ws:
            if message.type is aiohttp.WSMsgType.TEXT:
                self.messages.append(json.loads(message.data))


async def open_streams(session: aiohttp.ClientSession, base_url: str, count: int) -> list[FloodStream]:
    """`count` direct-API streams, every second one with audioRecordingAllowed."""
    streams = []
    for i in range(count):
        url = await streaming_url(session, base_url, API_ID, API_SECRET, f"flood-{i}")
        ws = await session.ws_connect(url, max_msg_size=0)
        allowed = i % 2 == 0
        start = {
            "message": "startStream",
            "sender": {"role": "customer", "externalId": f"caller-{i}"},
            "audioRecordingAllowed": allowed,
        }
        await ws.send_str(json.dumps(start))
        reply = json.loads((await ws.receive(timeout=30)).data)
        assert reply["status"]["code"] == "1000", reply
        streams.append(FloodStream(ws, allowed))
    return streams


async def send_all(streams: list[FloodStream], samples: Pcm, chunk_ms: int = 100) -> None:
    """The same audio on every stream, as fast as the sockets take it."""
    data = samples.astype("<i2").tobytes()
    step = chunk_ms * 16

    async def send(stream: FloodStream) -> None:
        for offset in range(0, len(data), step):
            await stream.ws.send_bytes(data[offset : offset + step])

    await asyncio.gather(*(send(s) for s in streams))


async def metric(session: aiohttp.ClientSession, base_url: str, name: str) -> float:
    async with session.get(f"{base_url}/metrics") as response:
        for line in (await response.text()).splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def stored_untranscribed(data_dir: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(data_dir / "mediagw.sqlite3") as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM untranscribed ORDER BY created_at")]


def gateway_env(timeout_s: float, **extra: str) -> dict[str, str]:
    return {
        "MEDIAGW_SERVER__SHUTDOWN_TIMEOUT_S": str(timeout_s),
        "MEDIAGW_LIMITS__REALTIME_BURST_S": "100000",  # no pacing: the flood builds a backlog
        "MEDIAGW_ASR__MODEL__WORKERS": "1",
        "MEDIAGW_ASR__MAX_BACKLOG": "0",
        "MEDIAGW_WEBSOCKET_API__IDLE_TIMEOUT_S": "600",
        **extra,
    }


def sigterm_and_wait(gateway: GatewayProcess, limit_s: float) -> float:
    """SIGTERM, then the seconds until the process exited (it is killed past `limit_s`)."""
    began = time.monotonic()
    gateway.process.send_signal(signal.SIGTERM)
    try:
        gateway.process.wait(limit_s)
    except Exception:
        gateway.process.kill()
        gateway.process.wait()
        return float("inf")
    return time.monotonic() - began


async def flood_and_stop(data_dir: Path, timeout_s: float, backlog: int, streams: int) -> dict[str, Any]:
    """A gateway with `backlog` utterances undecoded (about), SIGTERM: exit time and what was recorded."""
    gateway = GatewayProcess(gateway_env(timeout_s), data_dir)
    try:
        async with aiohttp.ClientSession() as session:
            flood = await open_streams(session, gateway.base_url, streams)
            readers = [asyncio.create_task(s.read_to_end()) for s in flood]
            if backlog:
                audio = short_utterances(-(-backlog * 3 // 2 // streams))  # the worker decodes some meanwhile
                await send_all(flood, audio)
                await eventually(
                    lambda: metric(session, gateway.base_url, "mediagw_audio_seconds_total"),
                    lambda seconds: seconds >= streams * len(audio) / 8000 - 1,
                    timeout_s=300,
                    interval_s=0.2,
                    what="the audio taken in",
                )
                await eventually(  # Silero labels in its thread: utterances reach the pool a little after the audio
                    lambda: metric(session, gateway.base_url, "mediagw_asr_unfinished"),
                    lambda unfinished: unfinished >= backlog,
                    timeout_s=60,
                    interval_s=0.1,
                    what="the backlog",
                )
            at_signal = await metric(session, gateway.base_url, "mediagw_asr_unfinished")
            exit_s = await asyncio.to_thread(sigterm_and_wait, gateway, timeout_s + 30)
            await asyncio.gather(*readers, return_exceptions=True)
    finally:
        if gateway.process.poll() is None:
            gateway.process.kill()
    finals = [s.final for s in flood]
    rows = stored_untranscribed(data_dir)
    spool = sorted((data_dir / "spool").glob("*.wav")) if (data_dir / "spool").is_dir() else []
    return {
        "backlog_at_sigterm": int(at_signal),
        "exit_s": round(exit_s, 2),
        "exit_code": gateway.process.returncode,
        "within_promise": exit_s <= timeout_s + HARD_EXIT_S,
        "final_5001": sum(1 for f in finals if f and f["status"]["code"] == "5001"),
        "untranscribed_in_summaries": sum(
            (f or {}).get("summary", {}).get("untranscribedUtterances", 0) for f in finals
        ),
        "untranscribed_stored": len(rows),
        "spooled_with_audio": sum(1 for r in rows if r["state"] == "spooled"),
        "recorded_without_audio": sum(1 for r in rows if r["state"] == "lost"),
        "spool_files": len(spool),
        "spool_file_modes": sorted({oct(os.stat(p).st_mode & 0o777) for p in spool}),
    }


async def restart_and_deliver(data_dir: Path, timeout_s: float) -> dict[str, Any]:
    """Restart on `data_dir` with a webhook receiver: until every spooled utterance arrived, then once more."""
    waiting = sum(1 for r in stored_untranscribed(data_dir) if r["state"] == "spooled")
    receiver = await Receiver().start()
    targets = json.dumps([{"name": "late", "url": f"{receiver.url}/hook"}])
    env = gateway_env(timeout_s, MEDIAGW_WEBHOOKS__TARGETS=targets, MEDIAGW_WEBSOCKET_API__PUBLISH_WEBHOOKS="true")
    began = time.monotonic()
    gateway = await asyncio.to_thread(GatewayProcess, env, data_dir)
    ready_s = time.monotonic() - began
    try:
        await eventually(lambda: len(receiver.received), lambda n: n >= waiting, timeout_s=600, interval_s=0.1)
        delivered_s = (receiver.arrived_at[-1] - began) if receiver.received else 0.0
    finally:
        await asyncio.to_thread(sigterm_and_wait, gateway, timeout_s + 30)
    first_run = len(receiver.received)
    again = await asyncio.to_thread(GatewayProcess, env, data_dir)
    await asyncio.to_thread(sigterm_and_wait, again, timeout_s + 30)
    await receiver.stop()
    late = [m for m in receiver.received if m["autotranscribeResponse"].get("late")]
    return {
        "spooled": waiting,
        "start_to_ready_s": round(ready_s, 2),
        "start_to_all_delivered_s": round(delivered_s, 2),
        "delivered": len(receiver.received),
        "marked_late": len(late),
        "delivered_twice": len(receiver.received) - len({json.dumps(m, sort_keys=True) for m in receiver.received}),
        "delivered_after_second_restart": len(receiver.received) - first_run,
    }


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


async def run(timeout_s: float, backlogs: list[int], streams: int) -> dict[str, Any]:
    results: dict[str, Any] = {"cpu": cpu_model(), "cores": os.cpu_count(), "shutdown_timeout_s": timeout_s}
    with tempfile.TemporaryDirectory() as root:
        last = Path(root)
        for backlog in backlogs:
            last = Path(root) / f"backlog-{backlog}"
            results[f"backlog_{backlog}"] = await flood_and_stop(last, timeout_s, backlog, streams)
        results["restart"] = await restart_and_deliver(last, timeout_s)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--timeout", type=float, default=10.0, help="server.shutdown_timeout_s")
    parser.add_argument("--backlogs", default="0,100,1000")
    parser.add_argument("--streams", type=int, default=20)
    args = parser.parse_args()
    backlogs = [int(b) for b in args.backlogs.split(",")]
    print(json.dumps(asyncio.run(run(args.timeout, backlogs, args.streams)), indent=2))


if __name__ == "__main__":
    main()

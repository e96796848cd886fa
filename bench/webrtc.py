"""WebRTC ingress over WHIP (issue 20), one command, JSON out:

    python -m bench.webrtc                       # soak, ingest at 50 and 100, latency
    python -m bench.webrtc --only soak           # or ingest, latency; --sessions 50 100; --soak 200

- soak: `--soak` sessions opened and closed one after another (publish, media flowing, DELETE) against a gateway
  process; its RSS, threads and open files after a warm-up and after the last, per session.
- ingest: N concurrent sessions (one Opus track each, a browser microphone), started, ASR off, real-time pace;
  the gateway's CPU per session-second in the steady window, beside bench.twilio_ingest's figure for N Twilio
  calls (two mu-law tracks each) in the same run, and the ratio per track-second.
- latency: 4 sample channels streamed at real time through WHIP (transcripts back on the data channel) and
  through the direct WebSocket API, at the same time on one gateway with ASR on: end of speech -> transcript at
  the client, p50/p95 for each, and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import multiprocessing
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from bench import twilio_ingest
from bench.common import (
    API_HEADERS,
    GatewayProcess,
    own_cpu_seconds,
    percentiles,
    probe_while_media_flows,
    sample_channels,
)
from bench.remote_asr import cpu_model
from mediagw.simulators.direct_ws import stream_audio, streaming_url
from mediagw.simulators.whip import PcmTrack, peer, publish, unpublish, whip_url
from tests.gateway import API_ID, API_SECRET

LOOPBACK = {"MEDIAGW_WEBRTC__ICE_ADDRESSES": '["127.0.0.1"]', "MEDIAGW_AUTH__REQUESTS_PER_SECOND": "0"}


def opus_packets(seconds: float = 1.0) -> list[bytes]:
    """A second of speech-like audio (a sample channel) encoded once with libopus, 20 ms a packet."""
    speech = sample_channels()[0].samples[8000 : 8000 + int(8000 * seconds)]
    resampler = av.AudioResampler(format="s16", layout="stereo", rate=48000)
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = 48000, "stereo", "s16"  # type: ignore[attr-defined]
    packets: list[bytes] = []
    for start in range(0, len(speech), 160):
        frame = av.AudioFrame.from_ndarray(speech[start : start + 160].reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 8000
        for resampled in resampler.resample(frame):
            packets += [bytes(p) for p in encoder.encode(resampled)]  # type: ignore[attr-defined]
    return packets


class OpusTrack(MediaStreamTrack):
    """Pre-encoded Opus packets at real time for `seconds`: the client costs no encoding."""

    kind = "audio"

    def __init__(self, packets: list[bytes], seconds: float, offset_s: float = 0.0) -> None:
        super().__init__()
        self._packets, self._count, self._offset_s = packets, int(seconds * 50), offset_s
        self._sent = 0
        self._began: float | None = None

    async def recv(self) -> av.Packet:
        loop = asyncio.get_running_loop()
        if self._began is None:
            self._began = loop.time() + self._offset_s
        if self._sent >= self._count:
            self.stop()
            raise MediaStreamError
        delay = self._began + self._sent * 0.02 - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        packet = av.Packet(self._packets[self._sent % len(self._packets)])
        packet.pts, packet.time_base = self._sent * 960, fractions.Fraction(1, 48000)
        self._sent += 1
        return packet


async def _start(session: aiohttp.ClientSession, base_url: str, guid: str) -> None:
    body = {"namespace": "webrtc", "guid": guid, "customerId": "c", "agentId": "a"}
    async with session.post(f"{base_url}/mg-autotranscribe/v1/start-streaming", json=body, headers=API_HEADERS) as r:
        assert r.status == 200, await r.text()


def _rss_threads_fds(pid: int) -> dict[str, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    names = [Path(f"/proc/{pid}/task/{task}/comm").read_text().strip() for task in os.listdir(f"/proc/{pid}/task")]
    return {
        "rss_kib": int(fields["VmRSS"].split()[0]),
        "threads": int(fields["Threads"]),
        "thread_names": dict(sorted(Counter(names).items())),
        "open_files": len(os.listdir(f"/proc/{pid}/fd")),
    }


async def _soak(gateway: GatewayProcess, sessions: int, warmup: int) -> dict[str, Any]:
    silence = np.zeros(8000 // 2, dtype=np.int16)
    marks: dict[str, Any] = {}
    async with aiohttp.ClientSession() as session:
        for index in range(sessions):
            if index in (warmup, (warmup + sessions) // 2):
                marks[f"after_{index}"] = _rss_threads_fds(gateway.process.pid)
            issued = await whip_url(session, gateway.base_url, API_ID, API_SECRET, guid=f"soak-{index}")
            track = PcmTrack(silence, speed=1.0, tail_ms=0)
            published = await publish(session, issued["whipUrl"], issued["token"], peer([track], ["opus"]))
            await _start(session, gateway.base_url, issued["guid"])
            await track.done.wait()  # its half second of audio is out: ICE, DTLS and SRTP all ran
            stop = {"namespace": "webrtc", "guid": issued["guid"]}
            async with session.post(
                f"{gateway.base_url}/mg-autotranscribe/v1/stop-streaming", json=stop, headers=API_HEADERS
            ) as r:
                assert r.status == 200, await r.text()
            status = await unpublish(session, published)
            assert status == 200, status
    await asyncio.sleep(2.0)  # aiortc's closing tasks settle
    marks[f"after_{sessions}"] = _rss_threads_fds(gateway.process.pid)
    return marks


def soak(sessions: int, warmup: int = 20) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data:
        gateway = GatewayProcess({**LOOPBACK, "MEDIAGW_ASR__ENABLED": "false"}, Path(data))
        try:
            began = time.monotonic()
            marks = asyncio.run(_soak(gateway, sessions, warmup))
            wall = time.monotonic() - began
        finally:
            gateway.stop()
    (first, before), (_, middle), (last, after) = sorted(marks.items(), key=lambda kv: int(kv[0].split("_")[1]))
    half = (sessions - warmup) / 2
    return {
        "sessions": sessions,
        "seconds": round(wall, 1),
        "marks": marks,  # RSS, threads (by name) and open files after the warm-up, halfway and the last
        "rss_growth_kib_per_session_first_half": round((middle["rss_kib"] - before["rss_kib"]) / half, 2),
        "rss_growth_kib_per_session_second_half": round((after["rss_kib"] - middle["rss_kib"]) / half, 2),
        "threads_growth": after["threads"] - before["threads"],
        "open_files_growth": after["open_files"] - before["open_files"],
    }


def _ingest_client(base_url: str, sessions: int, seconds: float, result: Any) -> None:
    begun, cpu = time.monotonic(), own_cpu_seconds()
    asyncio.run(_ingest_play(base_url, sessions, seconds, result))
    result["cpu_cores"] = round((own_cpu_seconds() - cpu) / (time.monotonic() - begun), 2)


async def _ingest_play(base_url: str, sessions: int, seconds: float, result: Any) -> None:
    packets = opus_packets()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        published = []
        for index in range(sessions):  # one at a time: call setup is not what this measures
            issued = await whip_url(session, base_url, API_ID, API_SECRET, guid=f"ingest-{index}")
            track = OpusTrack(packets, seconds + 60, offset_s=index % 50 * 0.0004)
            published.append(await publish(session, issued["whipUrl"], issued["token"], peer([track])))
            await _start(session, base_url, issued["guid"])
        result["media_started_at"] = time.monotonic()
        await asyncio.sleep(seconds)
        await asyncio.gather(*(unpublish(session, each) for each in published))


async def _steady(gateway: GatewayProcess, result: Any, window_s: float) -> tuple[list[float], float, float, float]:
    """From 2 s after every session streams, for `window_s`: /v1/health round trips, the gateway's CPU (cores)
    and the audio its pipelines took in (seconds)."""
    for _ in range(6000):  # the client sets up its sessions one after another (another process: no event to await)
        if "media_started_at" in result:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(2.0)
    audio0, cpu0, wall0 = await _audio_seconds(gateway.base_url), gateway.cpu_seconds(), time.monotonic()
    probe, _ = await probe_while_media_flows(gateway, {"media_started_at": 0}, settle_s=0.0, window_s=window_s)
    cpu, wall = gateway.cpu_seconds() - cpu0, time.monotonic() - wall0
    result["open_sessions"] = await _audio_seconds(gateway.base_url, 'mediagw_open_streams{ingress="webrtc"}')
    return probe, cpu / wall, await _audio_seconds(gateway.base_url) - audio0, wall


def ingest(sessions: int, seconds: float = 20.0) -> dict[str, Any]:
    overrides = {
        **LOOPBACK,
        "MEDIAGW_ASR__ENABLED": "false",
        "MEDIAGW_WEBRTC__IDLE_TIMEOUT_S": "600",
        "MEDIAGW_WEBRTC__CONNECT_TIMEOUT_S": "300",  # a busy client's later handshakes must not end its sessions
    }
    with tempfile.TemporaryDirectory() as data:
        gateway = GatewayProcess(overrides, Path(data))
        try:
            result = multiprocessing.Manager().dict()
            client = multiprocessing.Process(target=_ingest_client, args=(gateway.base_url, sessions, seconds, result))
            client.start()
            probe, cores, received, window = asyncio.run(_steady(gateway, result, seconds - 5.0))
            client.join(seconds + 300)
        finally:
            gateway.stop()
    return {
        "sessions": sessions,
        "steady_server_cpu_cores": round(cores, 3),
        "steady_server_cpu_ms_per_session_second": round(cores * 1000 / sessions, 4),
        "health_probe_ms": percentiles(probe),
        # audio taken in per second of the window: `sessions` when every session streams at real time
        "audio_seconds_per_second": round(received / window, 2),
        # the cost of a second of audio taken in: the fair figure when the gateway falls behind real time
        "steady_server_cpu_ms_per_audio_second": round(cores * 1000 * window / received, 3) if received else None,
        "open_sessions": dict(result).get("open_sessions"),
        "client_cpu_cores": dict(result).get("cpu_cores"),
        "client_done": client.exitcode == 0,
    }


async def _audio_seconds(base_url: str, name: str = 'mediagw_audio_seconds_total{ingress="webrtc"}') -> float:
    async with aiohttp.ClientSession() as session, session.get(f"{base_url}/metrics") as response:
        text = await response.text()
    line = next((x for x in text.splitlines() if x.startswith(name)), "")
    return float(line.split()[-1]) if line else 0.0


async def _latency(base_url: str) -> dict[str, Any]:
    channels = sample_channels()
    whip_ms: list[float] = []
    direct_ms: list[float] = []

    async def over_whip(session: aiohttp.ClientSession, channel: Any, index: int) -> None:
        loop = asyncio.get_running_loop()
        issued = await whip_url(session, base_url, API_ID, API_SECRET, guid=f"latency-{index}")
        track = PcmTrack(channel.samples, speed=1.0, tail_ms=2000)
        pc = peer([track], ["opus"])
        arrivals: list[tuple[float, dict[str, Any]]] = []
        channel_ = pc.createDataChannel("transcripts")
        channel_.on("message", lambda text: arrivals.append((loop.time(), json.loads(text))))
        published = await publish(session, issued["whipUrl"], issued["token"], pc)
        await _start(session, base_url, issued["guid"])
        await track.done.wait()
        await asyncio.sleep(3.0)
        await unpublish(session, published)
        origin = track.began or 0.0
        whip_ms.extend(_speech_end(channel.utterances, [(t - origin, m["start"], m["end"]) for t, m in arrivals]))

    async def over_direct(session: aiohttp.ClientSession, channel: Any) -> None:
        url = await streaming_url(session, base_url, API_ID, API_SECRET)
        result = await stream_audio(session, url, channel.samples, role=channel.role)
        got = [
            (at - result.first_audio_at, t["start"], t["end"])
            for at, t in zip(result.received_at, result.transcripts, strict=True)
        ]
        direct_ms.extend(_speech_end(channel.utterances, got))

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(
            *(over_whip(session, c, i) for i, c in enumerate(channels)), *(over_direct(session, c) for c in channels)
        )
    whip, direct = percentiles(whip_ms), percentiles(direct_ms)
    ratio = whip["p50"] / direct["p50"] if whip["p50"] and direct["p50"] else None
    return {"whip_ms": whip, "direct_ws_ms": direct, "p50_ratio_whip_to_direct": ratio and round(ratio, 3)}


def _speech_end(utterances: list[dict[str, Any]], got: list[tuple[float, int, int]]) -> list[float]:
    """Per transcript: its arrival (s after the first audio) minus the scripted end of the utterance it overlaps
    most (s)."""
    out = []
    for arrived_s, start, end in got:
        best = max(utterances, key=lambda u: min(end, u["end"]) - max(start, u["start"]))
        if min(end, best["end"]) > max(start, best["start"]):
            out.append(arrived_s - best["end"] / 1000)  # seconds: percentiles() reports ms
    return out


def latency() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data:
        gateway = GatewayProcess(LOOPBACK, Path(data))
        try:
            return asyncio.run(_latency(gateway.base_url))
        finally:
            gateway.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("soak", "ingest", "latency"))
    parser.add_argument("--sessions", type=int, nargs="*", default=[50, 100])
    parser.add_argument("--soak", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault("MEDIAGW_LOGGING__LEVEL", "WARNING")
    report: dict[str, Any] = {"benchmark": "webrtc", "cpu": cpu_model(), "cores": os.cpu_count()}
    report["load_before"] = os.getloadavg()
    if args.only in (None, "soak"):
        report["soak"] = soak(args.soak)
        print(json.dumps(report["soak"]), flush=True)
    if args.only in (None, "ingest"):
        levels = []
        for sessions in args.sessions:
            level = {"webrtc": ingest(sessions), "twilio": twilio_ingest.run_level(sessions, True, "uvloop")}
            webrtc_ms = level["webrtc"]["steady_server_cpu_ms_per_session_second"]
            twilio_ms = level["twilio"]["steady_server_cpu_ms_per_call_second"]
            level["ratio_per_session_to_twilio_call"] = round(webrtc_ms / twilio_ms, 2) if twilio_ms else None
            level["ratio_per_track_second"] = round(webrtc_ms / (twilio_ms / 2), 2) if twilio_ms else None
            levels.append(level)
            print(json.dumps(level), flush=True)
        report["ingest"] = levels
    if args.only in (None, "latency"):
        report["latency"] = latency()
        print(json.dumps(report["latency"]), flush=True)
    report["load_after"] = os.getloadavg()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

"""How many real-time SIPREC calls (two RTP streams of 20 ms PCMU packets each) one gateway takes in, ASR off (JSON).

    python -m bench.siprec_ingest                  # 300 calls (600 streams, 30,000 packets/s)
    python -m bench.siprec_ingest --calls 100 300 400

The gateway runs as `mediagw serve` with asr.enabled false. A second process (uvloop) sets every call up over
SIP/UDP with our SRC (INVITE with SDP and rs-metadata, ACK), sends start-streaming for each, then sends both
streams' RTP at real-time pace for 20 s from one socket, then BYE. Reported per level: call setup time, the
gateway's CPU, /v1/health probe latency while the media flows, packets sent vs counted by the gateway
(`mediagw_rtp_packets`) and the kernel's UDP receive-buffer drops (`RcvbufErrors`, whole machine).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import struct
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from bench.common import (
    GatewayProcess,
    own_cpu_seconds,
    percentiles,
    probe_while_media_flows,
    run_levels,
    start_streaming,
)
from mediagw.audio.g711 import pcm_to_ulaw
from mediagw.simulators.siprec_call import SiprecCall
from tests.gateway import free_port


def udp_receive_errors() -> int:
    lines = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines() if line.startswith("Udp:")]
    header, values = lines[0], lines[1]
    return int(values[header.index("RcvbufErrors")])


def _client(base_url: str, sip_port: int, calls: int, seconds: float, result: Any) -> None:
    import uvloop

    uvloop.run(_play(base_url, sip_port, calls, seconds, result))


async def _play(base_url: str, sip_port: int, calls: int, seconds: float, result: Any) -> None:
    srs = ("127.0.0.1", sip_port)
    sessions = [SiprecCall(srs, f"{10**19 + index:020d}") for index in range(calls)]
    setup: list[float] = []
    gate = asyncio.Semaphore(50)

    async def set_up(call: SiprecCall, http: aiohttp.ClientSession) -> None:
        async with gate:
            begun = time.monotonic()
            await call.__aenter__()
            assert await call.invite() == 200
            setup.append(time.monotonic() - begun)
            await start_streaming(http, base_url, "siprec", call.guid)

    async with aiohttp.ClientSession() as http:
        begun = time.monotonic()
        await asyncio.gather(*(set_up(call, http) for call in sessions))
        result["setup_s"] = round(time.monotonic() - begun, 2)
    result["setup_ms"] = percentiles(setup)
    result["media_started_at"] = time.time()
    cpu0, wall0 = own_cpu_seconds(), time.monotonic()
    result["packets_sent"], result["send_lag_ms"] = await _send_rtp(sessions, seconds)
    result["client_cpu_cores"] = round((own_cpu_seconds() - cpu0) / (time.monotonic() - wall0), 2)
    await asyncio.sleep(0.5)
    for index in range(0, calls, 50):
        await asyncio.gather(*(call.bye() for call in sessions[index : index + 50]))
    for call in sessions:
        await call.__aexit__()


async def _send_rtp(sessions: list[SiprecCall], seconds: float) -> tuple[int, dict[str, Any]]:
    """Every 20 ms, one packet per stream, from one socket; calls spread over the tick."""
    rng = np.random.default_rng(1)
    payload = pcm_to_ulaw(rng.normal(0, 2000, 160).astype(np.int16))
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    targets = [
        ("127.0.0.1", port, index * 2 + side)
        for index, call in enumerate(sessions)
        for side, port in enumerate(call.remote_ports[:2])
    ]
    loop = asyncio.get_running_loop()
    start, sent, lags = loop.time(), 0, []
    slices = 4  # each tick's packets go out in four bursts 5 ms apart, as independent SBC streams would
    for tick in range(int(seconds * 50)):
        for part in range(slices):
            delay = start + tick * 0.02 + part * 0.005 - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                lags.append(-delay)
            for host, port, ssrc in targets[part::slices]:
                header = struct.pack("!BBHII", 0x80, 0, tick & 0xFFFF, tick * 160, ssrc)
                try:
                    sender.sendto(header + payload, (host, port))
                    sent += 1
                except BlockingIOError:
                    pass
    sender.close()
    return sent, percentiles(lags) if lags else {"n": 0}


async def _rtp_counts(base_url: str) -> dict[str, float]:
    async with aiohttp.ClientSession() as session, session.get(f"{base_url}/metrics") as response:
        text = await response.text()
    counts = {}
    for line in text.splitlines():
        if line.startswith("mediagw_rtp_packets_total{"):
            outcome = line.split('outcome="', 1)[1].split('"', 1)[0]
            counts[outcome] = float(line.rsplit(" ", 1)[1])
    return counts


def run_level(calls: int, seconds: float = 20.0) -> dict[str, Any]:
    sip_port = free_port()
    overrides = {
        "MEDIAGW_ASR__ENABLED": "false",
        "MEDIAGW_AUTH__REQUESTS_PER_SECOND": "0",
        "MEDIAGW_SIPREC__PORT": str(sip_port),
        "MEDIAGW_SIPREC__HOST": "127.0.0.1",
    }
    with tempfile.TemporaryDirectory() as data:
        gateway = GatewayProcess(overrides, Path(data))
        try:
            manager = multiprocessing.Manager()
            result = manager.dict()
            drops0 = udp_receive_errors()
            client = multiprocessing.Process(target=_client, args=(gateway.base_url, sip_port, calls, seconds, result))
            client.start()
            probe, cores = asyncio.run(probe_while_media_flows(gateway, result, settle_s=0, window_s=seconds - 1))
            client.join(seconds + 300)
            time.sleep(1.0)
            counts = asyncio.run(_rtp_counts(gateway.base_url))
            drops = udp_receive_errors() - drops0
        finally:
            gateway.stop()
    outcome = dict(result)
    return {
        "calls": calls,
        "rtp_streams": calls * 2,
        "packets_per_s": calls * 2 * 50,
        "setup_s": outcome.get("setup_s"),
        "setup_ms": outcome.get("setup_ms"),
        "gateway_cpu_cores": round(cores, 2),
        "gateway_cpu_ms_per_call_second": round(cores * 1000 / calls, 3),
        "health_probe_ms": percentiles(probe),
        "packets_sent": outcome.get("packets_sent"),
        "gateway_rtp_packets": counts,
        "udp_rcvbuf_drops": drops,
        "client_send_lag_ms": outcome.get("send_lag_ms"),
        "client_cpu_cores": outcome.get("client_cpu_cores"),
        "client_done": client.exitcode == 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, nargs="*", default=[300])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    run_levels("siprec_ingest", args.calls, lambda calls: run_level(calls, args.seconds))


if __name__ == "__main__":
    main()

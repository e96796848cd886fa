"""Ten concurrent real-time Twilio calls with ASR on: end of utterance to webhook POST received (JSON).

    python -m bench.twilio_latency [--calls 10]

Gateway, webhook receiver and the simulated Twilio calls run in three processes. Calls replay the sample
calls (both tracks on one socket), started up to 10 s apart; start-streaming is sent as the media connects
(twilio.start_grace_s covers the race). Latency is the receiver's arrival time minus the moment the
utterance's last speech sample was sent (CLOCK_MONOTONIC is shared by the processes).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import aiohttp

from bench.common import start_streaming
from bench.speech_latency import run, sample_call
from mediagw.simulators.twilio import call_sid, media_stream_url, play_call, stereo_tracks
from tests.gateway import API_ID, API_SECRET


async def one_call(
    session: aiohttp.ClientSession, base: str, index: int, delay: float, origins: dict[str, Any]
) -> None:
    await asyncio.sleep(delay)
    _, script, audio = sample_call(index)
    tracks = stereo_tracks([audio[:, 0], audio[:, 1]], ["customer", "agent"])
    sid = call_sid()
    url = await media_stream_url(session, base, API_ID, API_SECRET)
    start = asyncio.create_task(start_streaming(session, base, "twilio", sid))  # twilio.start_grace_s covers the race
    origins[sid] = (asyncio.get_running_loop().time(), script)
    await play_call(session, url, tracks, sid, realtime=True)
    await start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10)
    args = parser.parse_args()
    run("twilio_latency", "calls", args.calls, {"MEDIAGW_TWILIO__START_GRACE_S": "10"}, one_call)


if __name__ == "__main__":
    main()

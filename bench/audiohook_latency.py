"""Ten concurrent real-time Genesys AudioHook sessions with ASR on: end of utterance to webhook POST (JSON).

    python -m bench.audiohook_latency [--sessions 10]

Gateway, webhook receiver and the Genesys-like simulator run in three processes. Each session replays a sample
call (customer = external, agent = internal, 100 ms stereo PCMU frames), started up to 10 s apart;
start-streaming is sent when `opened` arrives. Latency is the receiver's arrival time minus the moment the
utterance's last speech sample was sent (CLOCK_MONOTONIC is shared by the processes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from typing import Any

import aiohttp

from bench.audiohook_ingest import KEY, SECRET
from bench.common import start_streaming
from bench.speech_latency import run, sample_call
from mediagw.simulators.audiohook import play_session


async def one_session(
    session: aiohttp.ClientSession, base: str, index: int, delay: float, origins: dict[str, Any]
) -> None:
    await asyncio.sleep(delay)
    _, script, audio = sample_call(index)
    conversation = str(uuid.uuid4())

    async def start() -> None:
        await start_streaming(session, base, "genesysaudiohook", conversation)
        origins[conversation] = (asyncio.get_running_loop().time(), script)  # the first frame goes out next

    url = base.replace("http://", "ws://") + "/mg-genesysaudiohook-autotranscribe/"
    await play_session(
        session, url, audio, conversation_id=conversation, api_key=KEY, client_secret=SECRET, on_opened=start
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=10)
    args = parser.parse_args()
    keys = json.dumps([{"key": KEY, "client_secret": SECRET}])
    run("audiohook_latency", "sessions", args.sessions, {"MEDIAGW_AUDIOHOOK__API_KEYS": keys}, one_session)


if __name__ == "__main__":
    main()

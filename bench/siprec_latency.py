"""Ten concurrent real-time SIPREC calls with ASR on: end of utterance to webhook POST received (JSON).

    python -m bench.siprec_latency [--calls 10]

Gateway, webhook receiver and the SRC run in three processes. Each call replays a sample call (customer on
the first m-line, agent on the second, PCMU) from our asyncio SRC, started up to 10 s apart; start-streaming
follows the 200 OK. Latency is the receiver's arrival time minus the moment the utterance's last speech
sample was sent (CLOCK_MONOTONIC is shared by the processes).
"""

from __future__ import annotations

import argparse
import asyncio
from functools import partial
from typing import Any

import aiohttp

from bench.common import start_streaming
from bench.speech_latency import run, sample_call
from mediagw.simulators.siprec_call import SiprecCall
from tests.gateway import free_port


async def one_call(
    sip_port: int, session: aiohttp.ClientSession, base: str, index: int, delay: float, origins: dict[str, Any]
) -> None:
    await asyncio.sleep(delay)
    _, script, audio = sample_call(index)
    guid = f"{10**19 + index:020d}"
    async with SiprecCall(("127.0.0.1", sip_port), guid) as call:
        assert await call.invite() == 200
        await start_streaming(session, base, "siprec", guid)
        origins[guid] = (asyncio.get_running_loop().time(), script)
        await call.play(audio)
        await call.bye()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10)
    args = parser.parse_args()
    sip_port = free_port()
    overrides = {"MEDIAGW_SIPREC__PORT": str(sip_port), "MEDIAGW_SIPREC__HOST": "127.0.0.1"}
    run("siprec_latency", "calls", args.calls, overrides, partial(one_call, sip_port))


if __name__ == "__main__":
    main()

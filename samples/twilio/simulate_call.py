"""Play a two-channel sound file as a Twilio call against a mediagw, start and stop transcription, print it.

    python samples/twilio/simulate_call.py samples/calls/billing.flac --url http://127.0.0.1:8080
    python samples/twilio/simulate_call.py samples/calls/travel.flac --separate-sockets --fast

Channel 0 is the customer (Twilio's inbound track), channel 1 the agent (outbound). The simulator gets a
media stream URL, opens the stream(s) as Twilio does, sends start-streaming once `--start-after` seconds of
audio are out, stop-streaming at the end, and prints the call's messages from the after-call API.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import aiohttp

from mediagw.offline import read_channels
from mediagw.simulators.twilio import call_sid, media_stream_url, play_call, stereo_tracks


async def run(args: argparse.Namespace) -> None:
    channels = read_channels(Path(args.file))
    headers = {"asapp-api-id": args.api_id, "asapp-api-secret": args.api_secret}
    sid = args.call_sid or call_sid()
    async with aiohttp.ClientSession() as session:
        url = await media_stream_url(session, args.url, args.api_id, args.api_secret)

        async def start() -> None:
            body = {
                "namespace": "twilio",
                "guid": sid,
                "customerId": "sim-customer",
                "agentId": "sim-agent",
                "twilioParams": {"trackMap": {"inbound": "customer", "outbound": "agent"}},
            }
            async with session.post(
                f"{args.url}/mg-autotranscribe/v1/start-streaming", json=body, headers=headers
            ) as response:
                print("start-streaming:", response.status, await response.text())

        await play_call(
            session,
            url,
            stereo_tracks(channels[:2], ["customer", "agent"]),
            sid,
            separate_sockets=args.separate_sockets,
            realtime=not args.fast,
            on_started=start,
            started_after_ms=int(args.start_after * 1000),
            send_stop=False,
        )
        async with session.post(
            f"{args.url}/mg-autotranscribe/v1/stop-streaming",
            json={"namespace": "twilio", "guid": sid},
            headers=headers,
        ) as response:
            print("stop-streaming:", response.status, await response.text())
        async with session.get(
            f"{args.url}/conversation/v1/conversation/messages", params={"externalId": sid}, headers=headers
        ) as response:
            for message in (await response.json())["messages"]:
                print(
                    json.dumps(
                        {
                            "role": message["sender"]["role"],
                            "start": message["autotranscribeResponse"]["start"],
                            "text": message["text"],
                        }
                    )
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file")
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--api-id", default="local-dev")
    parser.add_argument("--api-secret", default="local-dev-secret")
    parser.add_argument("--call-sid", default="")
    parser.add_argument("--start-after", type=float, default=0.0, help="seconds of audio before start-streaming")
    parser.add_argument("--separate-sockets", action="store_true", help="one socket per track instead of both_tracks")
    parser.add_argument("--fast", action="store_true", help="send as fast as possible instead of real time")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

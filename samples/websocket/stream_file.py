"""Stream one channel of a sound file to a mediagw direct WebSocket API at real-time pace; print the transcripts.

python samples/websocket/stream_file.py samples/calls/billing.flac --channel 0 --url http://127.0.0.1:8080
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import aiohttp

from mediagw.offline import read_channels
from mediagw.simulators.direct_ws import stream_audio, streaming_url


async def run(args: argparse.Namespace) -> None:
    samples = read_channels(Path(args.file))[args.channel]
    async with aiohttp.ClientSession() as session:
        url = await streaming_url(session, args.url, args.api_id, args.api_secret, args.external_id)
        result = await stream_audio(
            session,
            url,
            samples,
            role=args.role,
            realtime=not args.fast,
            start_fields={"detailedToken": args.detailed_token},
        )
    for transcript in result.transcripts:
        print(json.dumps(transcript))
    print(json.dumps(result.final_response))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file")
    parser.add_argument("--channel", type=int, default=0)
    parser.add_argument("--role", default="customer", choices=["customer", "agent"])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--api-id", default="local-dev")
    parser.add_argument("--api-secret", default="local-dev-secret")
    parser.add_argument("--external-id", default="sample-call-1")
    parser.add_argument("--detailed-token", action="store_true")
    parser.add_argument("--fast", action="store_true", help="send as fast as possible instead of real time")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

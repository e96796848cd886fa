"""`python -m mediagw.simulators.audiohook`: play a 2-channel 8 kHz file as a Genesys AudioHook session."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid

import aiohttp
import numpy as np
import soundfile as sf

from asr.frame import SAMPLE_RATE
from mediagw.simulators.audiohook import EXAMPLE_ORGANIZATION_ID, FAST_SPEED, connection_probe, play_session


async def _main(args: argparse.Namespace) -> int:
    async with aiohttp.ClientSession() as session:
        if args.probe:
            result = await connection_probe(session, args.url, api_key=args.api_key, client_secret=args.client_secret)
            for message in result.messages:
                print(json.dumps(message), flush=True)
        else:
            audio, rate = sf.read(args.file, dtype="int16", always_2d=True)
            if rate != SAMPLE_RATE or audio.shape[1] != 2:
                raise SystemExit(f"{args.file}: need 2 channels at {SAMPLE_RATE} Hz, got {audio.shape[1]} at {rate}")
            print(f"conversationId {args.conversation_id}", file=sys.stderr)
            result = await play_session(
                session,
                args.url,
                np.ascontiguousarray(audio),
                conversation_id=args.conversation_id,
                api_key=args.api_key,
                client_secret=args.client_secret,
                organization_id=args.organization_id,
                realtime=not args.fast,
                frame_ms=args.frame_ms,
                stereo=not args.mono,
                pause_at_s=args.pause_at,
                pause_for_s=args.pause_for,
                on_message=lambda message: print(json.dumps(message), flush=True),
            )
    for problem in result.problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if result.problems else 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Play a 2-channel 8 kHz file as a Genesys AudioHook Monitor session")
    parser.add_argument("file", nargs="?", help="channel 0 customer (external), channel 1 agent (internal)")
    parser.add_argument("--url", default="ws://127.0.0.1:8080/mg-genesysaudiohook-autotranscribe/")
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--client-secret", default=None, help="base64, as shown in Genesys; omit for no signature")
    parser.add_argument("--organization-id", default=EXAMPLE_ORGANIZATION_ID)
    parser.add_argument("--conversation-id", default=str(uuid.uuid4()), help="the start-streaming guid")
    parser.add_argument("--fast", action="store_true", help=f"{FAST_SPEED:g} times real time")
    parser.add_argument("--frame-ms", type=int, default=100)
    parser.add_argument("--mono", action="store_true", help="offer only the mono channels")
    parser.add_argument("--pause-at", type=float, default=None, help="seconds into the call to pause (hold)")
    parser.add_argument("--pause-for", type=float, default=2.0)
    parser.add_argument("--probe", action="store_true", help="a connection probe instead of a call")
    args = parser.parse_args(argv)
    if not args.probe and not args.file:
        parser.error("a sound file is needed unless --probe")
    try:
        sys.exit(asyncio.run(_main(args)))
    except aiohttp.WSServerHandshakeError as refused:
        sys.exit(f"upgrade refused: {refused.status} {refused.message}")


if __name__ == "__main__":
    main()

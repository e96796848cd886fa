"""Spoken card numbers, end to end: how many leak a digit through the gateway's redacted transcripts (JSON).

    python -m bench.card_clips                 # every voice x phrasing x rate, through a gateway process
    python -m bench.card_clips --fixtures DIR  # write the small set the end-to-end test streams

Each clip is one customer utterance reading a card number in a different voice, rate and phrasing, made
with espeak-ng or flite and resampled to 8 kHz by sox (all from Debian). It is streamed over the direct
WebSocket API with default settings (redacted, here as redacted_and_unredacted to report what the model
heard), with no agent question before it. A clip leaks when its redacted transcripts show any written digit
but the card's last four; `leaked_as_a_misheard_cards_last_four` counts those whose shown digits are the
last four the rule keeps of a misheard number that passed as a whole card.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp
import soundfile

from asr.frame import Pcm
from bench.common import GatewayProcess
from bench.speech import speak
from mediagw.simulators.direct_ws import stream_audio, streaming_url
from redaction.detectors import is_card_ending_here
from redaction.digit_runs import number_digits

SAY = {
    "4104332181960018": [
        "My card number is 4 1 0 4, 3 3 2 1, 8 1 9 6, 0 0 1 8.",
        "Sure. It's four one zero four, three three two one, eight one nine six, zero zero one eight.",
    ],
    "4111111111111111": [
        "Yes, the number is 4111 1111 1111 1111.",
        "Okay, it's four one one one, one one one one, one one one one, one one one one.",
    ],
    "5555555555554444": [
        "Go ahead. Five five five five, five five five five, five five five five, four four four four.",
        "It is 5555 5555 5555 4444.",
    ],
    "378282246310005": ["The card is three seven eight two, eight two two four six three, one zero zero zero five."],
    "6011000990139424": ["Six oh one one, oh oh oh nine, nine oh one three, nine four two four."],
}
VOICES = [
    ("espeak-ng", "en-us"),
    ("espeak-ng", "en-gb"),
    ("espeak-ng", "en-us+f3"),
    ("espeak-ng", "en-gb-scotland"),
    ("espeak-ng", "en-029"),
    ("flite", "slt"),
    ("flite", "rms"),
    ("flite", "awb"),
    ("flite", "kal"),
]
RATES = [0.65, 1.0, 1.25]  # of each engine's default pace (espeak-ng: 104, 160 and 200 words a minute)


@dataclass(frozen=True)
class Clip:
    name: str
    card: str
    text: str
    engine: str
    voice: str
    rate: float


def all_clips() -> list[Clip]:
    clips = []
    for card, phrasings in SAY.items():
        for p, text in enumerate(phrasings):
            for engine, voice in VOICES:
                for rate in RATES:
                    name = f"{card[-4:]}-{p}-{voice.replace('+', '_')}-{int(rate * 100)}"
                    clips.append(Clip(name, card, text, engine, voice, rate))
    return clips


def fixture_clips() -> list[Clip]:
    """A small, varied set: every card and phrasing once, each with another voice and rate."""
    picked = []
    for index, (card, phrasings) in enumerate(SAY.items()):
        for p, text in enumerate(phrasings):
            engine, voice = VOICES[(index * 2 + p) % len(VOICES)]
            rate = RATES[(index + p) % len(RATES)]
            picked.append(Clip(f"{card[-4:]}-{p}-{voice.replace('+', '_')}", card, text, engine, voice, rate))
    return picked


def synthesize(clip: Clip, out: Path) -> None:
    """`out`: the clip at 8 kHz mono with half a second of silence on each side, as Ogg Opus (small enough to
    commit; a phone line is lossy anyway)."""
    samples = speak(clip.text, clip.engine, clip.voice, clip.rate, pad_s=0.5)
    soundfile.write(out, samples, 8000, format="OGG", subtype="OPUS")


def shown_digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def leaks(card: str, texts: list[str]) -> bool:
    """Whether `texts` show a digit of `card` other than (some of) its last four."""
    shown = "".join(shown_digits(text) for text in texts)
    return len(shown) > 4 or not card[-4:].endswith(shown)


def kept_as_a_card(redacted: list[str], unredacted: list[str]) -> bool:
    """The digits shown are the last four the rule keeps of what the model heard as a whole card (a misheard
    card that passed Luhn by chance): allowed by the rule, but not the real card's last four."""
    shown = "".join(shown_digits(text) for text in redacted)
    heard = [number_digits(text) for text in unredacted]
    return len(shown) == 4 and any(is_card_ending_here(digits) and digits.endswith(shown) for digits in heard)


async def stream_clips(base_url: str, clips: list[tuple[Clip, Pcm]]) -> list[dict[str, object]]:
    results = []
    async with aiohttp.ClientSession() as session:
        for clip, samples in clips:
            url = await streaming_url(session, base_url, "local-dev", "local-dev-secret", f"card-{clip.name}")
            fields = {"redactionOutput": "redacted_and_unredacted"}  # the same masks; the heard text for the report
            result = await stream_audio(session, url, samples, realtime=False, start_fields=fields)
            texts = [t["utterance"][0]["text"] for t in result.transcripts]
            heard = [t["utterance"][0]["unredactedText"] for t in result.transcripts]
            leaked = leaks(clip.card, texts)
            kept = leaked and kept_as_a_card(texts, heard)
            results.append({**asdict(clip), "out": texts, "heard": heard, "leaked": leaked, "kept_as_card": kept})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, help="write the end-to-end test's clips to this folder and stop")
    args = parser.parse_args()
    if args.fixtures:
        args.fixtures.mkdir(parents=True, exist_ok=True)
        index = []
        for clip in fixture_clips():
            synthesize(clip, args.fixtures / f"{clip.name}.ogg")
            index.append(asdict(clip))
        (args.fixtures / "clips.json").write_text(json.dumps(index, indent=1) + "\n")
        return
    with tempfile.TemporaryDirectory() as tmp:
        clips = []
        for clip in all_clips():
            path = Path(tmp) / f"{clip.name}.ogg"
            synthesize(clip, path)
            clips.append((clip, soundfile.read(path, dtype="int16")[0]))
        gateway = GatewayProcess({}, Path(tmp) / "data")
        try:
            results = asyncio.run(stream_clips(gateway.base_url, clips))
        finally:
            gateway.stop()
    leaked = [r for r in results if r["leaked"]]
    print(
        json.dumps(
            {
                "benchmark": "card_clips",
                "clips": len(results),
                "voices": len(VOICES),
                "leaked": len(leaked),
                "leaked_as_a_misheard_cards_last_four": sum(bool(r["kept_as_card"]) for r in leaked),
                "masked": sum(any("#" in t for t in r["out"]) for r in results),  # type: ignore[attr-defined]
                "leaks": leaked,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()

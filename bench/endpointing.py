"""Speculative decode and the adaptive end of utterance against today's fixed wait, in one run (JSON).

    python -m bench.endpointing                   # both setups: clean, bad line, card groups, capacity
    python -m bench.endpointing --no-capacity     # without the capacity search (about 8 minutes)
    python -m bench.endpointing --capacity-only   # only the capacity search, today and new

Setups, each in its own gateway process: `today` (segmenter.speculate_ms 0: a fixed 300 ms end-of-utterance
wait, and webrtcvad, as main before issue 16), `new` (the shipped defaults: Silero VAD off the event loop,
speculation and the adaptive wait) and `webrtc` (the same speculation and wait on webrtcvad). For each:

- clean: `--streams` (10) real-time streams over the direct WebSocket API (the sample channels, each rotated to
  a random pause, as bench.latency): end of scripted speech -> transcript p50/p95, streamed WER;
- bad: the four sample channels on the bad line of bench.badline (hiss 12 dB SNR, 3 % packet loss in bursts,
  customer 8 dB quieter) at real-time pace: streamed WER, latency p95 and its ratio to the clean p95,
  transcripts overlapping no scripted speech per minute of non-speech; 60 s of the line's noise with its loss;
- cards: card numbers read in digit groups with a pause between groups (300-900 ms, two voices; espeak-ng and
  flite, generated here), streamed at real-time pace: how many cards are split across utterances, and how many
  leak a digit through the redacted transcripts;
- the gateway's own count of speculative decodes by outcome (used, wasted, withdrawn, skipped);
- capacity: the most streams whose (a) p95 stays under 1.3 s (today's 300 ms wait + the 1 s bench.latency
  allows after the close; the close itself is not visible to a client once the wait adapts), today and new
  taking turns at each level so that load from elsewhere falls on both alike.

Offline `transcribe()` (beam 5) of the bad-line channels gives the WER streaming is compared with.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from asr.frame import Pcm
from bench.badline import BAD, BOTH_TEXTS, CLEAN, TODAY, WEBRTC, cpu_name, offline, prepare, score
from bench.card_clips import SAY, leaks
from bench.common import Channel, GatewayProcess, percentiles, rotate, sample_channels
from bench.lines import line_noise_only
from bench.speech import speak
from mediagw.evaluation import word_error_rate
from mediagw.simulators.direct_ws import StreamResult, stream_audio, streaming_url

SETUPS = {"today": TODAY, "new": {}, "webrtc": WEBRTC}  # new: the shipped defaults (Silero VAD)
GROUP_PAUSES_MS = (300, 500, 700, 900)
CARD_VOICES = (("espeak-ng", "en-us"), ("flite", "slt"))
WORDS = "zero one two three four five six seven eight nine".split()
CAPACITY_LIMIT_MS = 1300.0


@dataclass(frozen=True)
class CardClip:
    card: str
    pause_ms: int
    voice: str
    samples: Pcm


def card_clips() -> list[CardClip]:
    """Each card of bench.card_clips read as "My card number is", then its groups one by one, a pause between."""
    clips = []
    for card in SAY:
        groups = [card[:4], card[4:10], card[10:]] if len(card) == 15 else [card[i : i + 4] for i in (0, 4, 8, 12)]
        for engine, voice in CARD_VOICES:
            parts = [_trimmed(speak("My card number is", engine, voice, 1.0))]
            parts += [_trimmed(speak(" ".join(WORDS[int(d)] for d in group), engine, voice, 1.0)) for group in groups]
            for pause in GROUP_PAUSES_MS:
                gap = np.zeros(pause * 8, dtype=np.int16)
                audio = [np.zeros(4000, dtype=np.int16)]
                for part in parts:
                    audio += [part, gap]
                audio.append(np.zeros(12000, dtype=np.int16))  # 1.5 s after the last group
                clips.append(CardClip(card, pause, voice, _line_hiss(np.concatenate(audio))))
    return clips


def _trimmed(samples: Pcm) -> Pcm:
    """Without the silence the synthesizers put around their speech (~400 ms), so that the pause is the pause."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > 300)
    return samples[max(0, loud[0] - 80) : loud[-1] + 80] if len(loud) else samples


def _line_hiss(samples: Pcm) -> Pcm:
    """A faint line noise floor (-60 dBFS) so that pauses are not digital silence (read as lost packets)."""
    noise = np.random.default_rng(7).normal(0, 30, len(samples))
    return np.clip(samples + noise, -32768, 32767).astype(np.int16)


async def _stream(
    base: str, name: str, samples: Pcm, role: str = "customer", delay: float = 0.0, fields: Any = None
) -> StreamResult:
    await asyncio.sleep(delay)
    async with aiohttp.ClientSession() as session:
        url = await streaming_url(session, base, "local-dev", "local-dev-secret", name)
        return await stream_audio(session, url, samples, role=role, realtime=True, start_fields=fields)


async def clean_streams(base: str, streams: int, seed: int = 1) -> dict[str, Any]:
    """bench.latency's (a) and WER: `streams` rotated sample channels started within 3 s, real time."""
    channels, rng = sample_channels(), random.Random(seed)
    generator = np.random.default_rng(seed)
    chosen = [rotate(channels[i % len(channels)], generator) for i in range(streams)]
    results = await asyncio.gather(
        *(_stream(base, f"clean-{i}", c.samples, c.role, rng.uniform(0, 3.0), BOTH_TEXTS) for i, c in enumerate(chosen))
    )
    latencies, refs, hyps = [], [], []
    for channel, result in zip(chosen, results, strict=True):
        for transcript, received in zip(result.transcripts, result.received_at, strict=True):
            script = min(channel.utterances, key=lambda u: abs(u["start"] - transcript["start"]))
            if abs(script["start"] - transcript["start"]) < 500:
                latencies.append(received - result.sent_at(script["end"]))
        refs.append(" ".join(u["text"] for u in channel.utterances))
        hyps.append(" ".join(t["utterance"][0]["unredactedText"] for t in result.transcripts))  # as offline's
    return {
        "streams": streams,
        "a_speech_end_to_transcript_ms": percentiles(latencies),
        "wer_streamed": round(word_error_rate(refs, hyps), 4),
    }


async def bad_line(base: str, channels: list[Channel]) -> dict[str, Any]:
    bad = [b.channel for b in prepare(channels, BAD, plc=False)]
    results = await asyncio.gather(
        *(_stream(base, f"bad-{i}", c.samples, c.role, fields=BOTH_TEXTS) for i, c in enumerate(bad))
    )
    report = score(bad, list(results), realtime=True)
    noise = line_noise_only(60, BAD, channels[0]).channel
    async with aiohttp.ClientSession() as session:
        url = await streaming_url(session, base, "local-dev", "local-dev-secret", "noise")
        quiet = await stream_audio(session, url, noise.samples, realtime=False)
    report["noise_only_60s_transcripts"] = [t["utterance"][0]["text"] for t in quiet.transcripts]
    return report


_DIGITS = re.compile(r"\d|\b(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)\b", re.IGNORECASE)


async def cards(base: str, clips: list[CardClip], at_once: int = 10) -> dict[str, Any]:
    """How many cards read in groups reach ASR in more than one utterance; how many leak through redaction."""
    fields = {"redactionOutput": "redacted_and_unredacted"}
    outcomes: list[dict[str, Any]] = []
    for first in range(0, len(clips), at_once):
        batch = clips[first : first + at_once]
        results = await asyncio.gather(
            *(_stream(base, f"card-{first + i}", c.samples, delay=0.3 * i, fields=fields) for i, c in enumerate(batch))
        )
        for clip, result in zip(batch, results, strict=True):
            heard = [t["utterance"][0]["unredactedText"] for t in result.transcripts]
            shown = [t["utterance"][0]["text"] for t in result.transcripts]
            with_digits = sum(bool(_DIGITS.search(text)) for text in heard)
            outcomes.append(
                {"pause_ms": clip.pause_ms, "split": with_digits > 1, "leaked": leaks(clip.card, shown), "heard": heard}
            )
    by_pause = {
        str(p): sum(o["split"] for o in outcomes if o["pause_ms"] == p) for p in GROUP_PAUSES_MS
    }  # split cards per pause between groups
    return {
        "clips": len(outcomes),
        "split_across_utterances": sum(o["split"] for o in outcomes),
        "split_by_pause_ms": by_pause,
        "leaked": sum(o["leaked"] for o in outcomes),
        "examples": [o["heard"] for o in outcomes[:3]],
    }


async def speculative_counts(base: str) -> dict[str, float]:
    async with aiohttp.ClientSession() as session, session.get(f"{base}/metrics") as response:
        text = await response.text()
    found = re.findall(r'mediagw_speculative_decodes_total\{outcome="(\w+)"\} ([0-9.e+]+)', text)
    return {outcome: float(value) for outcome, value in found}


def run_setup(name: str, streams: int, channels: list[Channel], clips: list[CardClip]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data:
        gateway = GatewayProcess(SETUPS[name], Path(data))
        try:
            report: dict[str, Any] = {"overrides": SETUPS[name]}
            report["clean"] = asyncio.run(clean_streams(gateway.base_url, streams))
            report["bad"] = asyncio.run(bad_line(gateway.base_url, channels))
            report["cards"] = asyncio.run(cards(gateway.base_url, clips))
            report["speculative_decodes"] = asyncio.run(speculative_counts(gateway.base_url))
        finally:
            gateway.stop()
    clean_p95, bad_p95 = report["clean"]["a_speech_end_to_transcript_ms"]["p95"], report["bad"]["latency_ms"]["p95"]
    if clean_p95 and bad_p95:
        report["bad"]["latency_p95_over_clean_p95"] = round(bad_p95 / clean_p95, 2)
    return report


def capacity(names: tuple[str, ...], start: int, step: int) -> dict[str, Any]:
    """Raise the stream count until (a) p95 reaches CAPACITY_LIMIT_MS; per setup, the last level that held. The
    setups take turns at each level (today 20, new 20, today 30...), so load from elsewhere falls on both alike."""
    found: dict[str, dict[str, Any]] = {
        n: {"a_p95_under_ms": CAPACITY_LIMIT_MS, "streams": 0, "levels": []} for n in names
    }
    searching, level = list(names), start
    while searching and level <= 200:
        for name in list(searching):
            p95 = _level_p95(name, level)
            found[name]["levels"].append({"streams": level, "a_p95_ms": p95})
            print(json.dumps({name: found[name]["levels"][-1]}), flush=True)
            if p95 >= CAPACITY_LIMIT_MS:
                searching.remove(name)
            else:
                found[name]["streams"] = level
        level += step
    return found


def _level_p95(name: str, level: int) -> float:
    with tempfile.TemporaryDirectory() as data:
        gateway = GatewayProcess(SETUPS[name], Path(data))
        try:
            report = asyncio.run(clean_streams(gateway.base_url, level, seed=level))
        finally:
            gateway.stop()
    return float(report["a_speech_end_to_transcript_ms"]["p95"] or 0)


def ratios(report: dict[str, Any]) -> dict[str, Any]:
    setups = [s for s in SETUPS if s in report]
    today, new = report["today"], report["new"]
    a_today, a_new = today["clean"]["a_speech_end_to_transcript_ms"], new["clean"]["a_speech_end_to_transcript_ms"]
    out: dict[str, Any] = {
        "clean_p50_new_over_today": round(a_new["p50"] / a_today["p50"], 3),
        "clean_p95_new_over_today": round(a_new["p95"] / a_today["p95"], 3),
        "clean_wer_new_minus_today_points": round(
            100 * (new["clean"]["wer_streamed"] - today["clean"]["wer_streamed"]), 2
        ),
        "bad_wer_minus_offline_points": {
            s: round(100 * (report[s]["bad"]["streamed_wer"] - report["offline_transcribe_wer"]["bad"]), 2)
            for s in setups
        },
        "bad_latency_p95_over_clean_p95": {s: report[s]["bad"].get("latency_p95_over_clean_p95") for s in setups},
        "cards_split": {s: report[s]["cards"]["split_across_utterances"] for s in setups},
        "cards_leaked": {s: report[s]["cards"]["leaked"] for s in setups},
    }
    used = new["speculative_decodes"].get("used", 0.0)
    spent = used + new["speculative_decodes"].get("wasted", 0.0)
    out["wasted_decodes_share"] = round(1 - used / spent, 3) if spent else None
    if "capacity" in today and today["capacity"]["streams"]:
        out["capacity_new_over_today"] = round(new["capacity"]["streams"] / today["capacity"]["streams"], 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=10)
    parser.add_argument("--no-capacity", action="store_true")
    parser.add_argument("--capacity-start", type=int, default=20)
    parser.add_argument("--capacity-step", type=int, default=10)
    parser.add_argument("--setups", default=",".join(SETUPS), help="comma-separated, of: " + ", ".join(SETUPS))
    parser.add_argument("--capacity-only", action="store_true", help="only the capacity search, today and new")
    args = parser.parse_args()
    if args.capacity_only:
        found = capacity(("today", "new"), args.capacity_start, args.capacity_step)
        held = found["today"]["streams"]
        ratio = round(found["new"]["streams"] / held, 3) if held else None
        print(json.dumps({"cpu": cpu_name(), **found, "capacity_new_over_today": ratio}, indent=1))
        return
    names = args.setups.split(",")
    channels, clips = sample_channels(), card_clips()
    report: dict[str, Any] = {"benchmark": "endpointing", "cpu": cpu_name(), "bad_line": BAD.describe()}
    for name in names:
        report[name] = run_setup(name, args.streams, channels, clips)
        print(json.dumps({name: report[name]}), flush=True)
    if not args.no_capacity:
        for name, held_at in capacity(("today", "new"), args.capacity_start, args.capacity_step).items():
            report[name]["capacity"] = held_at
    report["offline_transcribe_wer"] = offline(channels)
    report["clean_line"] = CLEAN.describe()
    report["ratios"] = ratios(report)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()

"""The front end replayed in-process, without a server: segmenter (per VAD) + the recognizer, on clean and bad
lines and on cards read in digit groups (JSON).

    python -m bench.replay [--setups today,webrtc,new] [--no-cards] [--plc] [--set NAME:key=value,...]
        [--line-seeds 16,1,2,3,4,5] [--offline [--offline-runs 1]] [--corpus all]

Each sample channel is cut by the segmenter frame by frame; a speculation is decoded at once and its ending fed
back, as if a worker were always idle, so the close times are the segmenter's alone (media time, identical on
every CPU). Reported per setup and line: streamed WER (offline `transcribe()` is bench.badline's), the close
delay (end of scripted speech -> the segmenter's close) p50/p95/max and the utterances that set the tail, speech
starts vs the script's, utterances and transcripts over no scripted speech. With cards: how many of the 40 card
readings of bench.endpointing reach ASR in more than one utterance with digits.
The close delay plus one decode (speculative: mostly done by then) is the end of speech -> transcript latency.
`--corpus all` adds bench/call_corpus.py's eight generated calls to the two samples (~950 words instead of ~190).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from asr.frame import FRAME_SAMPLES, Frame, Pcm
from asr.recognizer import RecognitionRequest, Recognizer
from asr.segmenter import Ending, Segment, Segmenter, SegmenterOptions
from bench.badline import cpu_name
from bench.call_corpus import all_channels
from bench.common import Channel, percentiles, sample_channels
from bench.lines import BAD, CLEAN, LineOptions, degrade
from mediagw.endpointing import ending_of
from mediagw.evaluation import word_error_rate
from mediagw.postprocess import TextStage

SETUPS: dict[str, dict[str, Any]] = {  # as bench.endpointing's (env overrides there, options here)
    "today": {"vad": "webrtc", "speculate_ms": 0, "post_roll_ms": 100, "onset_search_ms": 0, "denoise": False},
    "webrtc": {
        "vad": "webrtc",
        "speculate_ms": 100,
        "end_silence_finished_ms": 200,
        "post_roll_ms": 100,
        "onset_search_ms": 0,
        "denoise": False,
    },
    "new": {},  # the shipped defaults: Silero VAD
}
LINES = {"clean": CLEAN, "bad": BAD, "bad_babble": replace(BAD, noise="babble"), "bad_hum": replace(BAD, noise="hum")}


@dataclass
class Replayed:
    segments: list[Segment] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    speculative_decodes: int = 0


def replay(samples: Pcm, options: SegmenterOptions, recognizer: Recognizer, role: str = "customer") -> Replayed:
    """Every segment of `samples` with its text; speculations answered at once (their text is the close's). The
    text stage runs on each transcript as in the gateway, so a digit group waits mid-phrase only where its
    conversation context expects a longer number (mediagw/endpointing.py); this channel is the conversation."""
    segmenter, out, stage = Segmenter(options), Replayed(), _text_stage()
    speculated: dict[int, str] = {}
    said: tuple[str, int] = ("", 0)

    def closed(segments: list[Segment]) -> None:
        nonlocal said
        for segment in segments:
            text = speculated.get(segment.speculation) if segment.speculation is not None else None
            if text is None:
                text = recognizer.recognize(RecognitionRequest(segmenter.asr_samples(segment))).text
            out.segments.append(segment)
            out.texts.append(text)
            if text.strip():
                said = (text, segment.end_ms)
                stage.process(text, conversation_id="replay", role=role, smart_formatting=True, output="redacted")

    def ending(text: str, start_ms: int) -> Ending:
        before = said[0] if start_ms - said[1] <= 10_000 else ""  # as mediagw/pipeline.py's _SAID_WITHIN_MS
        return ending_of(
            text, number_expected=lambda: stage.number_expected(f"{before} {text}", conversation_id="replay", role=role)
        )

    for i in range(0, len(samples) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
        closed(segmenter.push(Frame(i // 8, samples[i : i + FRAME_SAMPLES])))
        for offer in segmenter.speculations():
            text = recognizer.recognize(RecognitionRequest(segmenter.asr_samples(offer.segment))).text
            out.speculative_decodes += 1
            speculated[offer.id] = text
            closed(segmenter.speculated(offer.id, ending(text, offer.segment.start_ms)))
    closed(segmenter.flush())
    return out


def _text_stage() -> TextStage:
    from mediagw.app import build_text_stage
    from mediagw.config import load_config

    return build_text_stage(load_config(environ={}))[1]


def score(channel: Channel, replayed: Replayed) -> dict[str, Any]:
    delays: list[tuple[int, str]] = []
    starts: list[int] = []
    spans = [(s.start_ms, s.end_ms) for s in replayed.segments]
    for u in channel.utterances:
        closing = [s for s in replayed.segments if s.start_ms < u["end"] < s.end_ms + 600]
        if closing:
            delays.append((max(s.closed_at_ms for s in closing) - u["end"], u["text"]))
        opening = [s.start_ms for s in replayed.segments if s.audio_start_ms < u["end"] and s.end_ms > u["start"]]
        if opening:
            starts.append(min(opening) - u["start"])
    stray = [
        t
        for (start, end), t in zip(spans, replayed.texts, strict=True)
        if t.strip() and not any(start < u["end"] and end > u["start"] for u in channel.utterances)
    ]
    return {"delays": delays, "starts": starts, "stray": stray}


def run_line(
    channels: list[Channel], line: LineOptions, options: SegmenterOptions, rec: Recognizer, plc: bool = False
) -> dict[str, Any]:
    """`plc`: lost packets concealed (mediagw/audio/plc.py) instead of left as zeros."""
    from bench.badline import conceal

    sources = [c.samples for c in channels]
    refs, hyps, delays, starts, stray = [], [], [], [], []
    segments = speculative = 0
    for channel in channels:
        bad = degrade(channel, line, sources)
        lined = (conceal(bad) if plc else bad).channel if line != CLEAN else channel
        replayed = replay(lined.samples, options, rec, channel.role)
        scored = score(channel, replayed)
        refs.append(" ".join(u["text"] for u in channel.utterances))
        hyps.append(" ".join(t for t in replayed.texts if t.strip()))
        delays += scored["delays"]
        starts += scored["starts"]
        stray += scored["stray"]
        segments += len(replayed.segments)
        speculative += replayed.speculative_decodes
    tail = sorted(delays, reverse=True)[:4]
    return {
        "wer": round(word_error_rate(refs, hyps), 4),
        "close_delay_ms": percentiles([d / 1000 for d, _ in delays]),
        "slowest_closes": [f"{d} ms: {t}" for d, t in tail],
        "start_minus_script_ms": percentiles([s / 1000 for s in starts]),
        "utterances": segments,
        "speculative_decodes": speculative,
        "stray_transcripts": stray[:6],
    }


def run_seeds(
    channels: list[Channel], line: LineOptions, seeds: list[int], options: SegmenterOptions, rec: Recognizer
) -> dict[str, Any]:
    """One line generated with each seed (its noise and its losses): one seed's 20 utterances move the WER by
    several points with any change of where utterances end; the mean over seeds does not."""
    wers = {seed: run_line(channels, replace(line, seed=seed), options, rec)["wer"] for seed in seeds}
    return {"wer_by_seed": wers, "wer_mean": round(float(np.mean(list(wers.values()))), 4)}


def offline_wers(channels: list[Channel], lines: list[str], seeds: list[int], runs: int) -> dict[str, Any]:
    """Offline `transcribe()` WER (the mean over `runs` of its fallback's seeds) per line, and per generator seed."""
    from bench.badline import offline_line

    out: dict[str, Any] = {}
    for name in filter(None, lines):
        out[name] = round(float(np.mean(offline_line(channels, LINES[name], runs))), 4)
        if seeds and LINES[name] != CLEAN:
            wers = {
                s: round(float(np.mean(offline_line(channels, replace(LINES[name], seed=s), runs))), 4) for s in seeds
            }
            out[f"{name}_seeds"] = {"wer_by_seed": wers, "wer_mean": round(float(np.mean(list(wers.values()))), 4)}
    return out


def run_cards(options: SegmenterOptions, rec: Recognizer) -> dict[str, Any]:
    from bench.endpointing import _DIGITS, card_clips

    split = 0
    for clip in card_clips():
        replayed = replay(clip.samples, options, rec)
        split += sum(bool(_DIGITS.search(t)) for t in replayed.texts) > 1
    return {"split_across_utterances": split}


def options_of(spec: dict[str, Any]) -> SegmenterOptions:
    return replace(SegmenterOptions(), **spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--setups", default=",".join(SETUPS))
    parser.add_argument("--set", action="append", default=[], help="NAME:key=value,... an ad hoc setup")
    parser.add_argument("--no-cards", action="store_true")
    parser.add_argument("--lines", default="clean,bad")
    parser.add_argument("--plc", action="store_true", help="the bad line again with lost packets concealed")
    parser.add_argument(
        "--line-seeds", default="", help="e.g. 16,1,2,3,4,5: each noisy line once per generator seed, WER pooled"
    )
    parser.add_argument("--offline", action="store_true", help="offline transcribe() WER of the same lines too")
    parser.add_argument("--offline-runs", type=int, default=5, help="seeds of its temperature fallback, 1-5")
    parser.add_argument(
        "--corpus", choices=("samples", "all"), default="samples", help="all: with bench/call_corpus.py's 8 calls"
    )
    args = parser.parse_args()
    from mediagw.app import load_recognizer
    from mediagw.config import load_config

    setups = {name: SETUPS[name] for name in args.setups.split(",") if name}
    for item in args.set:
        name, _, pairs = item.partition(":")
        spec: dict[str, Any] = {}
        for pair in pairs.split(","):
            key, _, value = pair.partition("=")
            spec[key] = value if key == "vad" else float(value) if "." in value else int(value)
        setups[name] = spec
    rec = load_recognizer(load_config(environ=dict(os.environ)))  # MEDIAGW_ASR__DECODE__BEAM_SIZE=5 ...
    channels = all_channels() if args.corpus == "all" else sample_channels()
    seeds = [int(seed) for seed in args.line_seeds.split(",") if seed]
    report: dict[str, Any] = {"benchmark": "replay", "cpu": cpu_name()}
    if args.offline:
        report["offline_transcribe_wer"] = offline_wers(channels, args.lines.split(","), seeds, args.offline_runs)
        print(json.dumps({"offline_transcribe_wer": report["offline_transcribe_wer"]}), flush=True)
    for name, spec in setups.items():
        started = time.process_time()
        options = options_of(spec)
        entry: dict[str, Any] = {"options": spec}
        for line in filter(None, args.lines.split(",")):
            entry[line] = run_line(channels, LINES[line], options, rec)
            if seeds and LINES[line] != CLEAN:
                entry[f"{line}_seeds"] = run_seeds(channels, LINES[line], seeds, options, rec)
        if args.plc:
            entry["bad_plc"] = run_line(channels, BAD, options, rec, plc=True)
        if not args.no_cards:
            entry["cards"] = run_cards(options, rec)
        entry["cpu_s"] = round(time.process_time() - started, 1)
        report[name] = entry
        print(json.dumps({name: entry}), flush=True)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()

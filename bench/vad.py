"""Frame-level voice activity on clean and bad lines: webrtcvad vs Silero VAD, and CPU per stream (JSON).

    python -m bench.vad

Ground truth per 20 ms frame comes from the clean TTS channels (samples/calls): a frame is speech when it lies in
a scripted utterance and the clean audio there is above -45 dBFS (pauses between words are not speech). The same
channels go through bench/lines.py's bad lines (hiss, babble, hum at 12 dB SNR, 3 % packet loss, the customer 8 dB
quieter) and through each VAD frame by frame, as the segmenter feeds it. Reported per VAD and line: accuracy,
speech recall (speech frames found), false alarms (non-speech frames called speech), and CPU seconds per second
of audio on one core (the baseline in the same run: webrtcvad mode 2); `cpu_per_stream`: the same for Silero
labelling 1 frame per call and 5 (the VAD thread's batches), and streams per core.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

import numpy as np

from asr.frame import FRAME_SAMPLES
from asr.vad import VadOptions, make_vad
from bench.badline import cpu_name
from bench.common import Channel, sample_channels
from bench.lines import BAD, CLEAN, LineOptions, degrade, speech_mask

VADS = {
    "webrtc_2": VadOptions("webrtc", aggressiveness=2),
    "webrtc_3": VadOptions("webrtc", aggressiveness=3),
    "silero_0.5": VadOptions("silero", threshold=0.5),
    "silero_0.6": VadOptions("silero", threshold=0.6),
    "combined": VadOptions("combined"),  # the default: webrtcvad inside Silero's speech (+300 ms)
}
LINES = {
    "clean": CLEAN,
    "hiss_12db": BAD,
    "babble_12db": replace(BAD, noise="babble"),
    "hum_12db": replace(BAD, noise="hum"),
    "hiss_6db": replace(BAD, snr_db=6.0),
}


def truth(channel: Channel) -> np.ndarray:
    frames = len(channel.samples) // FRAME_SAMPLES
    pcm = channel.samples[: frames * FRAME_SAMPLES].astype(np.float64).reshape(frames, FRAME_SAMPLES)
    loud = np.sqrt(np.mean(pcm**2, axis=1)) > 32768 * 10 ** (-45 / 20)
    spans = speech_mask(channel)[: frames * FRAME_SAMPLES].reshape(frames, FRAME_SAMPLES).any(axis=1)
    out: np.ndarray = loud & spans
    return out


def label(options: VadOptions, samples: np.ndarray, per_call: int = 1) -> tuple[np.ndarray, float]:
    """Labels per frame, and the CPU seconds they took, `per_call` frames at a time (1: every 20 ms frame on its
    own; 5: a stream's 100 ms, as the VAD thread takes what queued while it ran)."""
    vad = make_vad(options)
    frames = [samples[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES] for i in range(len(samples) // FRAME_SAMPLES)]
    started = time.process_time()
    out: list[bool] = []
    for first in range(0, len(frames), per_call):
        out += vad.label(frames[first : first + per_call])
    return np.array(out), time.process_time() - started


def cpu_per_stream(channels: list[Channel]) -> dict[str, Any]:
    """CPU seconds per second of audio for each VAD, Silero with 1 and 5 frames per call (the baseline in the same
    run: webrtcvad mode 2), and what that is in streams per core."""
    audio_s = sum(len(c.samples) for c in channels) / 8000
    out: dict[str, Any] = {}
    for name, options, per_call in (
        ("webrtc_2", VADS["webrtc_2"], 1),
        ("silero_0.5_per_frame", VADS["silero_0.5"], 1),
        ("silero_0.5_per_100ms", VADS["silero_0.5"], 5),
        ("combined_per_100ms", VADS["combined"], 5),
    ):
        spent = sum(label(options, c.samples, per_call)[1] for c in channels)
        out[name] = {"cpu_s_per_audio_s": round(spent / audio_s, 6), "streams_per_core": int(audio_s / spent)}
    base = out["webrtc_2"]["cpu_s_per_audio_s"]
    for entry in out.values():
        entry["cpu_over_webrtc_2"] = round(entry["cpu_s_per_audio_s"] / base, 1)
    return out


def evaluate(options: VadOptions, line: LineOptions, channels: list[Channel]) -> dict[str, Any]:
    sources = [c.samples for c in channels]
    hits = speech = false_alarms = silence = correct = total = 0
    cpu = audio_s = 0.0
    for channel in channels:
        ref = truth(channel)
        got, spent = label(options, degrade(channel, line, sources).channel.samples)
        got = got[: len(ref)]
        hits += int((got & ref).sum())
        speech += int(ref.sum())
        false_alarms += int((got & ~ref).sum())
        silence += int((~ref).sum())
        correct += int((got == ref).sum())
        total += len(ref)
        cpu += spent
        audio_s += len(channel.samples) / 8000
    return {
        "accuracy": round(correct / total, 4),
        "speech_recall": round(hits / speech, 4),
        "false_alarm_rate": round(false_alarms / silence, 4),
        "cpu_s_per_audio_s": round(cpu / audio_s, 6),
    }


def main() -> None:
    channels = sample_channels()
    report: dict[str, Any] = {
        "benchmark": "vad",
        "cpu": cpu_name(),
        "lines": {k: v.describe() for k, v in LINES.items()},
    }
    for name, options in VADS.items():
        report[name] = {line: evaluate(options, opts, channels) for line, opts in LINES.items()}
        print(json.dumps({name: report[name]}), flush=True)
    report["cpu_per_stream"] = cpu_per_stream(channels)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

"""Regenerate the sample calls under samples/calls from scripts.json with flite (clearer than espeak-ng at 8 kHz).

Each call is a two-channel 8 kHz 16-bit FLAC (channel 0 customer, channel 1 agent) with a JSON
sidecar giving every utterance's role, reference text and speech start/end in ms. Needs flite.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

HERE = Path(__file__).parent / "calls"
RATE = 8000
VOICES = {"agent": "slt", "customer": "rms"}
GAP_MS = 900
NOISE_RMS = 3.0  # a faint noise floor, as on a real line (kept low so the FLAC stays small)


def synthesize(text: str, voice: str) -> np.ndarray:
    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", tmp.name], check=True)
        audio, rate = sf.read(tmp.name, dtype="float32")
    audio = soxr.resample(audio, rate, RATE, "HQ")
    voiced = np.flatnonzero(np.abs(audio) > 0.01)
    return audio[voiced[0] : voiced[-1] + 1] if voiced.size else audio


def spoken_form(text: str, spoken: dict[str, str]) -> str:
    for written, said in spoken.items():
        text = text.replace(written, said)
    return text


def build_call(name: str, script: dict) -> None:
    rng = np.random.default_rng(7)
    clips, meta, cursor = [], [], GAP_MS * RATE // 1000
    for role, text in script["turns"]:
        clip = synthesize(spoken_form(text, script["spoken"]), VOICES[role])
        start_ms = cursor * 1000 // RATE
        meta.append({"role": role, "text": text, "start": start_ms, "end": start_ms + len(clip) * 1000 // RATE})
        clips.append((role, cursor, clip))
        cursor += len(clip) + GAP_MS * RATE // 1000
    stereo = rng.normal(0.0, NOISE_RMS / 32768.0, size=(cursor, 2)).astype(np.float32)
    for role, offset, clip in clips:
        stereo[offset : offset + len(clip), 0 if role == "customer" else 1] += clip * 0.9
    sf.write(HERE / f"{name}.flac", np.clip(stereo, -1, 1), RATE, subtype="PCM_16")
    (HERE / f"{name}.json").write_text(json.dumps({"channels": ["customer", "agent"], "utterances": meta}, indent=1))


def main() -> None:
    scripts = json.loads((HERE / "scripts.json").read_text())
    for name, script in scripts.items():
        build_call(name, script)
        print(f"wrote {name}.flac")


if __name__ == "__main__":
    main()

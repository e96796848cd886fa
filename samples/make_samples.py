"""Regenerate the sample calls under samples/calls from scripts.json: English with flite (clearer than espeak-ng at
8 kHz), Spanish with espeak-ng's Latin American voice into samples/calls/es/ (apart, so the English evaluations do not
take it), through a G.711 mu-law channel as a phone line carries it.

Each call is a two-channel 8 kHz 16-bit FLAC (channel 0 customer, channel 1 agent) with a JSON sidecar giving its
language and every utterance's role, reference text and speech start/end in ms. Needs flite and espeak-ng.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from mediagw.audio.g711 import pcm_to_ulaw, ulaw_to_pcm

HERE = Path(__file__).parent / "calls"
RATE = 8000
VOICES = {"agent": "slt", "customer": "rms"}  # flite
ESPEAK_VOICES = {"agent": "es-419+f3", "customer": "es"}  # espeak-ng: Latin American and Spain Spanish
GAP_MS = 900
NOISE_RMS = 3.0  # a faint noise floor, as on a real line (kept low so the FLAC stays small)


def synthesize(text: str, role: str, language: str) -> np.ndarray:
    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
        if language.startswith("es"):
            command = ["espeak-ng", "-v", ESPEAK_VOICES[role], "-s", "150", "-w", tmp.name, text]
        else:
            command = ["flite", "-voice", VOICES[role], "-t", text, "-o", tmp.name]
        subprocess.run(command, check=True)
        audio, rate = sf.read(tmp.name, dtype="float32")
    audio = soxr.resample(audio, rate, RATE, "HQ")
    voiced = np.flatnonzero(np.abs(audio) > 0.01)
    return audio[voiced[0] : voiced[-1] + 1] if voiced.size else audio


def spoken_form(text: str, spoken: dict[str, str]) -> str:
    for written, said in spoken.items():
        text = text.replace(written, said)
    return text


def through_mulaw(audio: np.ndarray) -> np.ndarray:
    """The channel as G.711 mu-law carries it: quantised to 8 bits, companded."""
    pcm = np.clip(audio * 32767, -32768, 32767).astype(np.int16)
    return ulaw_to_pcm(pcm_to_ulaw(pcm)).astype(np.float32) / 32768.0


def build_call(name: str, script: dict, root: Path = HERE) -> None:
    """`name`.flac and `name`.json under `root` (bench/call_corpus.py builds its calls into a cache this way)."""
    rng = np.random.default_rng(7)
    language = script.get("language", "en-US")
    clips, meta, cursor = [], [], GAP_MS * RATE // 1000
    for role, text in script["turns"]:
        clip = synthesize(spoken_form(text, script["spoken"]), role, language)
        start_ms = cursor * 1000 // RATE
        meta.append({"role": role, "text": text, "start": start_ms, "end": start_ms + len(clip) * 1000 // RATE})
        clips.append((role, cursor, clip))
        cursor += len(clip) + GAP_MS * RATE // 1000
    stereo = rng.normal(0.0, NOISE_RMS / 32768.0, size=(cursor, 2)).astype(np.float32)
    for role, offset, clip in clips:
        stereo[offset : offset + len(clip), 0 if role == "customer" else 1] += clip * 0.9
    stereo = np.clip(stereo, -1, 1)
    if script.get("channel") == "mulaw":
        stereo = np.stack([through_mulaw(stereo[:, 0]), through_mulaw(stereo[:, 1])], axis=1)
    out = root / script.get("directory", ".")
    out.mkdir(exist_ok=True)
    sf.write(out / f"{name}.flac", stereo, RATE, subtype="PCM_16")
    sidecar = {"channels": ["customer", "agent"], "utterances": meta}
    if "language" in script:
        sidecar = {"language": language, **sidecar}
    (out / f"{name}.json").write_text(json.dumps(sidecar, indent=1, ensure_ascii=False))


def main() -> None:
    only = sys.argv[1:]  # names of the calls to build (all by default)
    scripts = json.loads((HERE / "scripts.json").read_text())
    for name, script in scripts.items():
        if only and name not in only:
            continue
        build_call(name, script)
        print(f"wrote {name}.flac")


if __name__ == "__main__":
    main()

"""Speech for fixtures and benchmarks: espeak-ng or flite, resampled to 8 kHz mono 16-bit by sox (Debian)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import soundfile

from asr.frame import Pcm


def speak(text: str, engine: str, voice: str, rate: float, pad_s: float = 0.0) -> Pcm:
    """`text` read by `engine` ("espeak-ng" or "flite") in `voice` at `rate` times its usual pace."""
    with tempfile.TemporaryDirectory() as tmp:
        raw, narrow = Path(tmp) / "raw.wav", Path(tmp) / "8k.wav"
        if engine == "espeak-ng":
            command = ["espeak-ng", "-v", voice, "-s", str(int(160 * rate)), "-w", str(raw), text]
        else:
            command = ["flite", "-voice", voice, "--setf", f"duration_stretch={1 / rate:.2f}", "-t", text, str(raw)]
        subprocess.run(command, check=True, capture_output=True)
        pad = ["pad", str(pad_s), str(pad_s)] if pad_s else []
        subprocess.run(
            ["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(narrow), *pad], check=True, capture_output=True
        )
        samples, _ = soundfile.read(narrow, dtype="int16")
        return samples

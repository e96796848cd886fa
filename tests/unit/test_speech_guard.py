"""The no-speech guard: real short answers survive it, line noise does not (the real model, TTS audio)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from asr.recognizer import RecognitionRequest, Recognizer
from bench.common import sample_channels
from bench.lines import BAD, line_noise_only
from mediagw.evaluation import normalize
from mediagw.offline import read_channels


def _say(text: str, tmp_path: Path, voice: str) -> np.ndarray:
    wav = tmp_path / "answer.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), text], check=True, capture_output=True)
    flac = tmp_path / "answer.flac"
    subprocess.run(["sox", str(wav), "-r", "8000", "-c", "1", "-b", "16", str(flac)], check=True)
    pcm = read_channels(flac)[0]
    pad = np.zeros(1600, dtype=np.int16)
    return np.concatenate((pad, pcm, pad))


@pytest.mark.parametrize(("text", "voice"), [("yes", "en-us"), ("five six one", "en-us"), ("no", "en-gb")])
def test_a_short_real_answer_is_kept(recognizer: Recognizer, tmp_path: Path, text: str, voice: str) -> None:
    result = recognizer.recognize(RecognitionRequest(_say(text, tmp_path, voice)))
    assert result.dropped == ""
    assert set(normalize(text).split()) & set(normalize(result.text).split())


def test_line_noise_alone_is_dropped_as_non_speech(recognizer: Recognizer) -> None:
    noise = line_noise_only(3, BAD, sample_channels()[0]).channel.samples
    result = recognizer.recognize(RecognitionRequest(noise))
    assert result.dropped == "no_speech"
    assert result.text == ""

"""The line-noise suppressor before ASR (asr/denoise.py): what it learns, what it takes out, what it keeps."""

from __future__ import annotations

import numpy as np

from asr.denoise import LineNoise
from asr.frame import FRAME_SAMPLES, Frame
from asr.segmenter import Segmenter, SegmenterOptions
from bench.common import sample_channels
from bench.lines import BAD, degrade

RNG_SEED = 7


def _hiss(rng: np.random.Generator, n: int, sigma: float = 300.0) -> np.ndarray:
    return rng.normal(0, sigma, n)


def _tone(n: int, hz: float = 440.0, amplitude: float = 3000.0) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * hz * np.arange(n) / 8000)


def _snr_db(signal: np.ndarray, reference: np.ndarray) -> float:
    """How far `signal` is from the best scaled copy of `reference`, as a signal-to-noise ratio."""
    signal, reference = signal.astype(np.float64), reference.astype(np.float64)
    gain = float(signal @ reference / (reference @ reference))
    error = signal - gain * reference
    return float(10 * np.log10((gain * gain * (reference @ reference)) / (error @ error)))


def test_nothing_changes_until_noise_was_observed() -> None:
    noisy = (_tone(8000) + _hiss(np.random.default_rng(RNG_SEED), 8000)).astype(np.int16)
    line = LineNoise()
    assert not line.learnt
    assert line.suppress(noisy) is noisy


def test_lost_packets_are_not_line_noise() -> None:
    line = LineNoise()
    for _ in range(50):
        line.observe(np.zeros(FRAME_SAMPLES, dtype=np.int16))
    assert not line.learnt


def test_hiss_is_taken_out_and_the_speech_band_kept() -> None:
    rng = np.random.default_rng(RNG_SEED)
    line = LineNoise()
    for _ in range(100):  # 2 s of the line between utterances
        line.observe(_hiss(rng, FRAME_SAMPLES).astype(np.int16))
    tone = _tone(3 * 8000)
    noisy = (tone + _hiss(rng, len(tone))).astype(np.int16)
    cleaned = line.suppress(noisy)
    assert cleaned.dtype == np.int16 and len(cleaned) == len(noisy)
    assert _snr_db(cleaned, tone) > _snr_db(noisy, tone) + 6
    kept = float(cleaned.astype(np.float64) @ tone / (tone @ tone))
    assert 0.85 < kept < 1.1  # the tone itself is not attenuated


def test_a_clean_line_passes_unchanged() -> None:
    rng = np.random.default_rng(RNG_SEED)
    line = LineNoise()
    for _ in range(100):  # a clean line's quantisation noise
        line.observe(rng.integers(-3, 4, FRAME_SAMPLES).astype(np.int16))
    assert line.learnt and 0 < line.noise_rms < 4
    speech = (_tone(8000) + _hiss(rng, 8000, 30.0)).astype(np.int16)
    assert line.suppress(speech) is speech


def test_the_learnt_level_is_the_noises() -> None:
    rng = np.random.default_rng(RNG_SEED)
    line = LineNoise()
    for _ in range(200):
        line.observe(_hiss(rng, FRAME_SAMPLES, 300.0).astype(np.int16))
    assert 240 < line.noise_rms < 360


def _asr_segments(options: SegmenterOptions, samples: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray]]:
    segmenter = Segmenter(options)
    out = []
    for i in range(0, len(samples) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
        for segment in segmenter.push(Frame(i // 8, samples[i : i + FRAME_SAMPLES])):
            out.append((segment.audio_start_ms, segment.samples, segmenter.asr_samples(segment)))
    return out


def _db(samples: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(samples.astype(np.float64) ** 2) + 1e-9))


def test_the_segmenter_hands_asr_a_bad_lines_utterances_with_the_noise_down_and_the_speech_kept() -> None:
    """Before the scripted speech (the pre-roll) an utterance is line noise alone: it loses 6 dB or more; the
    speech itself loses 2 dB at most (the median over the utterances of one channel of each call)."""
    noise_change, speech_change = [], []
    for channel in sample_channels()[::2]:
        for start_ms, raw, cleaned in _asr_segments(SegmenterOptions(), degrade(channel, BAD).channel.samples):
            end_ms = start_ms + len(raw) // 8
            script = next(u for u in channel.utterances if u["start"] < end_ms and u["end"] > start_ms)
            speech = slice(max(0, script["start"] - start_ms) * 8, (min(script["end"], end_ms) - start_ms) * 8)
            speech_change.append(_db(cleaned[speech]) - _db(raw[speech]))
            if script["start"] - start_ms >= 120:
                noise = slice(0, (script["start"] - start_ms - 20) * 8)
                noise_change.append(_db(cleaned[noise]) - _db(raw[noise]))
    assert len(noise_change) >= 4 and len(speech_change) >= 8
    assert float(np.median(noise_change)) < -6
    assert float(np.median(speech_change)) > -2


def test_without_denoise_asr_gets_the_segments_own_audio() -> None:
    bad = degrade(sample_channels()[0], BAD).channel.samples
    segments = _asr_segments(SegmenterOptions(denoise=False), bad)
    assert segments and all(raw is cleaned for _, raw, cleaned in segments)

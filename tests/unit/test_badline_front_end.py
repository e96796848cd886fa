"""Silero VAD in the segmenter, packet-loss concealment, and the bad-line generator: properties, not exact output."""

from __future__ import annotations

import numpy as np
import pytest

from asr.frame import FRAME_SAMPLES, Frame
from asr.segmenter import Segmenter, SegmenterOptions
from asr.vad import CombinedVad, VadOptions
from bench.common import Channel, sample_channels
from bench.lines import BAD, degrade, line_noise_only
from mediagw.audio.plc import Concealer, conceal_losses


def _segments(options: SegmenterOptions, samples: np.ndarray) -> list[tuple[int, int]]:
    segmenter = Segmenter(options)
    found = [s for i in range(0, len(samples) - 159, 160) for s in segmenter.push(Frame(i // 8, samples[i : i + 160]))]
    return [(s.start_ms, s.end_ms) for s in [*found, *segmenter.flush()]]


@pytest.mark.parametrize("vad", ["silero", "combined"])
def test_silero_opens_no_utterance_on_line_noise_with_loss(vad: str) -> None:
    noise = line_noise_only(20, BAD, sample_channels()[0]).channel.samples
    assert _segments(SegmenterOptions(vad=vad), noise) == []
    assert _segments(SegmenterOptions(vad="webrtc"), noise) != []  # what the gate keeps out


@pytest.mark.parametrize("vad", ["silero", "combined"])
def test_silero_finds_each_scripted_utterance_of_a_bad_line_and_none_runs_to_the_maximum(vad: str) -> None:
    channel = sample_channels()[0]
    bad = degrade(channel, BAD).channel
    options = SegmenterOptions(vad=vad)
    spans = _segments(options, bad.samples)
    for u in channel.utterances:
        assert any(start < u["end"] and end > u["start"] for start, end in spans), u["text"]
    assert len(spans) <= 2 * len(channel.utterances)
    assert all(end - start < options.max_utterance_ms - 1000 for start, end in spans)  # noise holds none open


def test_the_combined_vad_hears_speech_only_where_webrtcvad_does() -> None:
    from asr.vad import VadOptions, make_vad

    samples = degrade(sample_channels()[1], BAD).channel.samples
    frames = [samples[i : i + FRAME_SAMPLES] for i in range(0, len(samples) - FRAME_SAMPLES + 1, FRAME_SAMPLES)]
    combined = make_vad(VadOptions("combined")).label(frames)
    webrtc = make_vad(VadOptions("webrtc")).label(frames)
    assert all(w for c, w in zip(combined, webrtc, strict=True) if c)
    assert sum(combined) < 0.7 * sum(webrtc)  # the noise webrtcvad takes for speech is gated off


def _end_lags_ms(options: VadOptions, channel: Channel) -> list[int]:
    """How long after each scripted end of speech the combined VAD's voiced frames go on."""
    vad = CombinedVad(options)
    samples = channel.samples
    labels = vad.label(
        [samples[i : i + FRAME_SAMPLES] for i in range(0, len(samples) - FRAME_SAMPLES + 1, FRAME_SAMPLES)]
    )
    vad.close()
    lags = []
    for utterance in channel.utterances:
        last = end = int(utterance["end"]) // 20
        while last + 1 < len(labels) and labels[last + 1] and last < end + 50:
            last += 1
        lags.append((last - end) * 20)
    return lags


def test_the_combined_vad_holds_webrtcvad_after_silero_less_on_a_line_whose_noise_it_hears_as_speech() -> None:
    agent = sample_channels()[1]
    adaptive, fixed = VadOptions("combined"), VadOptions("combined", hold_noisy_ms=300)
    bad = degrade(agent, BAD).channel
    assert np.median(_end_lags_ms(fixed, bad)) >= 300  # the hiss is "speech" to webrtcvad: the whole hold
    assert np.median(_end_lags_ms(adaptive, bad)) <= 200
    assert _end_lags_ms(adaptive, agent) == _end_lags_ms(fixed, agent)  # a clean line keeps the whole hold
    vad = CombinedVad(adaptive)
    vad.label([agent.samples[i : i + FRAME_SAMPLES] for i in range(0, 8000 * 20, FRAME_SAMPLES)])
    assert vad.hold_frames * 20 == 300
    vad.close()
    with pytest.raises(ValueError, match="silero_hold_noisy_ms"):
        SegmenterOptions(silero_hold_noisy_ms=400).validate()


def test_an_unknown_vad_is_refused() -> None:
    with pytest.raises(ValueError, match="segmenter.vad"):
        SegmenterOptions(vad="energy").validate()


def test_concealment_keeps_the_clock_and_follows_a_voiced_sound() -> None:
    t = np.arange(8000) / 8000
    tone = (8000 * np.sin(2 * np.pi * 200 * t)).astype(np.int16)
    lost = (10, 11, 30)
    holed = tone.copy()
    for i in lost:
        holed[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES] = 0
    concealed = conceal_losses(holed, lost)
    assert len(concealed) == len(tone)
    first = slice(10 * FRAME_SAMPLES, 11 * FRAME_SAMPLES)
    error = np.abs(concealed[first].astype(float) - tone[first]).mean()
    assert error < 0.2 * np.abs(tone[first].astype(float)).mean()


def test_a_long_loss_fades_to_silence() -> None:
    concealer = Concealer()
    concealer.good((4000 * np.sin(np.arange(800) / 3)).astype(np.int16))
    filled = concealer.lost(1600)
    assert np.abs(filled[:80]).max() > 1000
    assert not filled[600:].any()  # silent after 60 ms (+ rounding of the last step)


def test_the_generator_is_deterministic_and_hits_its_loss_rate() -> None:
    channel = sample_channels()[1]
    first, second = degrade(channel, BAD), degrade(channel, BAD)
    assert np.array_equal(first.channel.samples, second.channel.samples)
    rate = len(first.lost_frames) / (len(channel.samples) // FRAME_SAMPLES)
    assert 0.015 < rate < 0.05


def _scored_share(channel: Channel) -> tuple[float, list[bool], list[bool]]:
    """The share of Silero's windows the combined VAD ran the model on, and its labels beside webrtcvad's."""
    from asr.vad import VadOptions, make_vad

    samples = channel.samples
    frames = [samples[i : i + FRAME_SAMPLES] for i in range(0, len(samples) - FRAME_SAMPLES + 1, FRAME_SAMPLES)]
    combined = CombinedVad(VadOptions("combined"))
    labels = combined.label(frames)
    windows = len(samples) * 2 // 512  # Silero's 32 ms windows at 16 kHz
    return combined._silero.scored_windows / windows, labels, make_vad(VadOptions("webrtc")).label(frames)


def test_the_combined_vad_spares_silero_a_clean_lines_silences_but_not_a_bad_lines_noise() -> None:
    clean_share, labels, webrtc = _scored_share(sample_channels()[0])
    assert clean_share < 0.75  # the other party's turns are not scored
    assert any(labels) and all(w for c, w in zip(labels, webrtc, strict=True) if c)
    bad_share, _, _ = _scored_share(degrade(sample_channels()[1], BAD).channel)  # the loud party: hiss all through
    assert bad_share > 0.9

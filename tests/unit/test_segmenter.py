"""The VAD segmenter on real speech and on constructed edge cases."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from asr.segmenter import Segmenter, SegmenterOptions
from asr.vad import VADS
from mediagw.offline import segments
from tests.conftest import channel_of

OPTIONS = SegmenterOptions()


@pytest.mark.parametrize("vad", VADS)
def test_utterances_of_a_real_call_are_found_with_their_times(call_audio: Any, vad: str) -> None:
    samples, script = channel_of(call_audio["billing"], "customer")
    options = SegmenterOptions(vad=vad)
    found = list(segments(samples, options))
    assert len(found) == len(script)
    for segment, expected in zip(found, script, strict=True):
        # Silero's onset comes up to ~150 ms late (a 32 ms window and its LSTM), webrtcvad's end a few frames
        # late: the pre-roll and post-roll keep every word's audio either way
        assert abs(segment.start_ms - expected["start"]) <= 160
        assert segment.audio_start_ms == segment.start_ms - options.pre_roll_ms < expected["start"]
        assert abs(segment.end_ms - expected["end"]) <= 150
        assert segment.end_ms + options.post_roll_ms > expected["end"]
        assert segment.closed_at_ms - segment.end_ms == pytest.approx(options.end_silence_ms, abs=40)
        assert not segment.forced_cut


def test_end_silence_sets_when_the_utterance_closes(call_audio: Any) -> None:
    samples, _ = channel_of(call_audio["billing"], "customer")
    quick = list(segments(samples, SegmenterOptions(end_silence_ms=200)))
    slow = list(segments(samples, SegmenterOptions(end_silence_ms=600)))
    assert len(quick) == len(slow)
    for a, b in zip(quick, slow, strict=True):
        assert b.closed_at_ms - a.closed_at_ms == pytest.approx(400, abs=40)


def test_silence_and_a_short_click_make_no_utterance() -> None:
    audio = np.zeros(8000 * 3, dtype=np.int16)
    audio[8000 : 8000 + 480] = (np.random.default_rng(1).normal(0, 8000, 480)).astype(np.int16)  # 60 ms burst
    assert list(segments(audio, OPTIONS)) == []


def test_a_monologue_longer_than_the_maximum_is_cut_and_nothing_is_dropped(call_audio: Any) -> None:
    samples, script = channel_of(call_audio["billing"], "agent")
    speech = np.concatenate([samples[u["start"] * 8 : u["end"] * 8] for u in script])  # ~19 s without pauses
    options = SegmenterOptions(max_utterance_ms=5000, cut_search_ms=1000)
    found = list(segments(speech, options))
    assert len(found) >= 4
    assert all(s.forced_cut for s in found[:-1])
    assert all(len(s.samples) * 1000 // 8000 <= 5000 for s in found)
    continuous = [s for s in found if s.forced_cut]
    for earlier, later in zip(continuous, found[1:], strict=False):
        assert later.audio_start_ms == earlier.audio_start_ms + len(earlier.samples) // 8  # no gap, no overlap


def test_flush_closes_an_utterance_in_progress(call_audio: Any) -> None:
    samples, script = channel_of(call_audio["billing"], "agent")
    first = script[0]
    found = list(segments(samples[: (first["start"] + 1500) * 8], OPTIONS))
    assert len(found) == 1
    assert found[0].end_ms == pytest.approx(first["start"] + 1500, abs=60)


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="aggressiveness"):
        Segmenter(SegmenterOptions(aggressiveness=4))
    with pytest.raises(ValueError, match="start_trigger_ms"):
        Segmenter(SegmenterOptions(start_trigger_ms=200, start_window_ms=100))


def _harmonic(ms: int) -> np.ndarray[Any, np.dtype[np.int16]]:
    t = np.arange(ms * 8) / 8000
    return (sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 12)) * 6000).astype(np.int16)


@pytest.mark.parametrize("zero_at_ms", [200, 240, 280])
def test_a_forced_cut_whose_rest_is_silent_closes_without_an_empty_segment(zero_at_ms: int) -> None:
    """A monologue cut at the quietest frame of a pause late in the pause: the rest holds no voiced frame, so
    closing it gives nothing (it used to raise out of push on an empty concatenation)."""
    from asr.frame import Frame

    noise = np.random.default_rng(1).normal(0, 30, (zero_at_ms + 600) * 8).astype(np.int16)
    audio = np.concatenate([_harmonic(9100), noise[: zero_at_ms * 8], np.zeros(160, np.int16), noise[zero_at_ms * 8 :]])
    segmenter = Segmenter(SegmenterOptions(vad="webrtc"))  # a synthetic tone: speech to webrtcvad, not to Silero
    found = [s for i in range(0, len(audio), 160) for s in segmenter.push(Frame(i // 8, audio[i : i + 160]))]
    found += segmenter.flush()
    assert [s.forced_cut for s in found] == [True]
    assert all(len(s.samples) > 0 for s in found)

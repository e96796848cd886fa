"""G.729 through libbcg729: a tone survives encode and decode; SID, concealment and framing rules."""

from __future__ import annotations

import numpy as np
import pytest

from asr.frame import SAMPLE_RATE, Pcm
from mediagw.ingress.siprec.g729 import G729Decoder, G729Encoder, g729_available

pytestmark = pytest.mark.skipif(not g729_available(), reason="libbcg729 is not installed")


def tone(seconds: float = 1.0, frequency: float = 440.0) -> Pcm:
    t = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
    return (8000 * np.sin(2 * np.pi * frequency * t)).astype(np.int16)


def best_correlation(original: Pcm, decoded: Pcm, max_lag: int = 120) -> float:
    """The codec delays its output by a few ms: compare at the best lag, away from the start-up transient."""
    a = original[400 : -400 - max_lag].astype(np.float64)
    return max(float(np.corrcoef(a, decoded[400 + lag : 400 + lag + len(a)])[0, 1]) for lag in range(max_lag))


def test_tone_round_trip_correlates() -> None:
    original = tone()
    with G729Encoder() as encoder, G729Decoder() as decoder:
        payload = encoder.encode(original)
        assert len(payload) == len(original) // 80 * 10
        # Two 10-byte frames per 20 ms RTP packet, decoded packet by packet with state carried over.
        decoded = np.concatenate([decoder.decode(payload[i : i + 20]) for i in range(0, len(payload), 20)])
    assert decoded.dtype == np.int16 and len(decoded) == len(original)
    assert best_correlation(original, decoded) > 0.8
    rms = np.sqrt(np.mean(decoded[800:].astype(np.float64) ** 2))
    assert 0.5 < rms / np.sqrt(np.mean(original.astype(np.float64) ** 2)) < 2


def test_sid_frames_and_concealment() -> None:
    with G729Encoder(enable_vad=True) as encoder:
        frames = encoder.encode_frames(np.zeros(8000, dtype=np.int16))
    assert {len(frame) for frame in frames} <= {0, 2, 10} and 2 in {len(frame) for frame in frames}
    sid = next(frame for frame in frames if len(frame) == 2)
    with G729Decoder() as decoder:
        voice = G729Encoder().encode(tone(0.02))
        assert len(decoder.decode(voice + sid)) == 240  # two voice frames, then comfort noise
        assert len(decoder.decode(sid)) == 80
        assert len(decoder.decode(b"")) == 0
        concealed = decoder.conceal(200)
        assert concealed.dtype == np.int16 and len(concealed) == 200
        assert not decoder.conceal(4000)[-80:].any()  # past 120 ms: silence


def test_bad_payloads_and_closed_channels() -> None:
    decoder = G729Decoder()
    with pytest.raises(ValueError, match="15 bytes"):
        decoder.decode(bytes(15))
    decoder.close()
    decoder.close()
    with pytest.raises(ValueError, match="closed"):
        decoder.decode(bytes(10))
    with pytest.raises(ValueError, match="whole 80-sample frames"):
        G729Encoder().encode(np.zeros(100, dtype=np.int16))

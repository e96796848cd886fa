"""Codecs, framing and resampling against reference values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from asr.frame import FRAME_SAMPLES, FrameAssembler
from asr.resample import MODEL_RATE, to_model_rate
from mediagw.audio import g711
from mediagw.audio.l16 import L16Decoder

REFERENCE = np.load(Path(__file__).resolve().parent.parent / "fixtures" / "g711_reference.npz")


def test_ulaw_and_alaw_decode_match_the_reference_tables() -> None:
    codes = bytes(range(256))
    assert np.array_equal(g711.ulaw_to_pcm(codes), REFERENCE["ulaw_decoded"])
    assert np.array_equal(g711.alaw_to_pcm(codes), REFERENCE["alaw_decoded"])


def test_well_known_g711_code_points() -> None:
    assert g711.ulaw_to_pcm(b"\xff\x7f\x00\x80").tolist() == [0, 0, -32124, 32124]
    assert g711.alaw_to_pcm(b"\xd5\x55\x2a\xaa").tolist() == [8, -8, -32256, 32256]
    assert g711.pcm_to_ulaw(np.array([0], dtype=np.int16)) == b"\xff"
    assert g711.pcm_to_alaw(np.array([0], dtype=np.int16)) == b"\xd5"


def test_ulaw_and_alaw_encode_match_the_reference_encoder() -> None:
    pcm = REFERENCE["pcm"].astype(np.int16)
    assert np.frombuffer(g711.pcm_to_ulaw(pcm), np.uint8).tolist() == REFERENCE["ulaw_encoded"].tolist()
    assert np.frombuffer(g711.pcm_to_alaw(pcm), np.uint8).tolist() == REFERENCE["alaw_encoded"].tolist()


@pytest.mark.parametrize(
    ("encode", "decode"), [(g711.pcm_to_ulaw, g711.ulaw_to_pcm), (g711.pcm_to_alaw, g711.alaw_to_pcm)]
)
def test_g711_round_trip_error_stays_within_the_segment_step(encode, decode) -> None:  # type: ignore[no-untyped-def]
    pcm = np.arange(-32768, 32768, 3, dtype=np.int16)
    error = np.abs(decode(encode(pcm)).astype(np.int32) - pcm)
    assert np.all(error <= np.maximum(np.abs(pcm.astype(np.int32)) // 16, 16) + 16)


def test_l16_keeps_an_odd_byte_for_the_next_chunk() -> None:
    samples = np.array([1, -2, 300, -32768, 32767], dtype="<i2").tobytes()
    decoder = L16Decoder()
    out = [decoder.decode(samples[i : i + 3]) for i in range(0, len(samples), 3)]
    assert np.concatenate(out).tolist() == [1, -2, 300, -32768, 32767]
    assert decoder.pending_bytes == 0


def test_l16_network_byte_order() -> None:
    assert L16Decoder(little_endian=False).decode(b"\x01\x00\xff\xfe").tolist() == [256, -2]


def test_frame_assembler_cuts_20ms_frames_with_a_running_clock() -> None:
    assembler = FrameAssembler()
    frames = assembler.push(np.ones(250, dtype=np.int16)) + assembler.push(np.ones(300, dtype=np.int16))
    assert [f.position_ms for f in frames] == [0, 20, 40]
    assert all(len(f.samples) == FRAME_SAMPLES for f in frames)
    tail = assembler.flush()
    assert len(tail) == 1 and tail[0].position_ms == 60
    assert tail[0].samples[:70].tolist() == [1] * 70 and not tail[0].samples[70:].any()


def test_resampler_doubles_the_rate_and_keeps_the_tone_without_images() -> None:
    t = np.arange(8000) / 8000
    tone = (np.sin(2 * np.pi * 1000 * t) * 16000).astype(np.int16)
    out = to_model_rate(tone)
    assert len(out) == 16000
    spectrum = np.abs(np.fft.rfft(out[2000:14000] * np.hanning(12000)))
    freqs = np.fft.rfftfreq(12000, 1 / MODEL_RATE)
    assert freqs[np.argmax(spectrum)] == pytest.approx(1000, abs=2)
    image = spectrum[(freqs > 4200)].max()  # linear interpolation leaves an image at 7 kHz
    assert 20 * np.log10(image / spectrum.max()) < -60
    assert np.sqrt(np.mean(out[2000:14000] ** 2)) == pytest.approx(16000 / 32768 / np.sqrt(2), rel=0.02)

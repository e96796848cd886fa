"""Bad telephone lines, deterministically: line noise (hiss, babble, hum) at a set SNR, lost 20 ms packets, and a
level offset per party, applied to the sample calls' channels. Pure numpy; the same options and seed give the
same audio on every machine.

SNR is set against the channel's speech power (measured over its scripted utterances) before the level offset;
the offset then scales the whole line (a quiet party's line: its speech and its hiss are both quieter). A lost
packet becomes silence, as the gateway's adapters fill a loss today; `lost_frames` says which ones, so a
concealment can be applied to the same losses.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from asr.frame import FRAME_SAMPLES, SAMPLE_RATE, Pcm
from bench.common import Channel

NOISES = ("none", "hiss", "babble", "hum")


@dataclass(frozen=True)
class LineOptions:
    """One bad line; `level_db` per role (e.g. {"customer": -8.0})."""

    noise: str = "hiss"
    snr_db: float = 12.0
    loss_rate: float = 0.03  # share of 20 ms packets lost
    loss_burst: float = 0.3  # chance that the packet after a lost one is lost too (Gilbert model)
    level_db: tuple[tuple[str, float], ...] = (("customer", -8.0),)
    seed: int = 16

    def level_for(self, role: str) -> float:
        return dict(self.level_db).get(role, 0.0)

    def describe(self) -> dict[str, Any]:
        return {
            "noise": self.noise,
            "snr_db": self.snr_db,
            "loss_rate": self.loss_rate,
            "loss_burst": self.loss_burst,
            "level_db": dict(self.level_db),
            "seed": self.seed,
        }


CLEAN = LineOptions(noise="none", loss_rate=0.0, level_db=())
BAD = LineOptions()


@dataclass(frozen=True)
class BadChannel:
    channel: Channel  # the degraded audio, same script
    lost_frames: tuple[int, ...]  # indexes of 20 ms frames that were lost (silence in `channel.samples`)
    clean_speech: Pcm  # the channel before loss, noise and level (for reference)


def speech_mask(channel: Channel) -> np.ndarray:
    mask = np.zeros(len(channel.samples), dtype=bool)
    for u in channel.utterances:
        mask[u["start"] * 8 : u["end"] * 8] = True
    return mask


def hiss(n: int, rng: np.random.Generator) -> np.ndarray:
    """White noise, gently tilted away from the low end as a telephone line's hiss is (first-order FIR)."""
    white = rng.standard_normal(n + 1)
    return white[1:] - 0.5 * white[:-1]


def hum(n: int, rng: np.random.Generator) -> np.ndarray:
    """Mains hum: 50 or 60 Hz and its odd harmonics up to 1 kHz, slowly wavering."""
    base = float(rng.choice([50.0, 60.0]))
    t = np.arange(n) / SAMPLE_RATE
    wobble = 1 + 0.1 * np.sin(2 * np.pi * 0.3 * t)
    out = np.zeros(n)
    for k in range(1, int(1000 / base) + 1, 2):
        out += (1.0 / k) * np.sin(2 * np.pi * base * k * t + rng.uniform(0, 2 * np.pi))
    return out * wobble + 0.05 * rng.standard_normal(n)


def babble(n: int, rng: np.random.Generator, sources: list[Pcm]) -> np.ndarray:
    """Six overlapping talkers: the sample channels, reversed (unintelligible) and shifted at random."""
    out = np.zeros(n)
    for _ in range(6):
        src = sources[int(rng.integers(len(sources)))][::-1].astype(np.float64)
        src = np.roll(src, int(rng.integers(len(src))))
        reps = np.resize(src, n)
        out += reps / (np.sqrt(np.mean(reps**2)) + 1e-9)
    return out


def noise(kind: str, n: int, rng: np.random.Generator, sources: list[Pcm]) -> np.ndarray:
    if kind == "hiss":
        return hiss(n, rng)
    if kind == "hum":
        return hum(n, rng)
    if kind == "babble":
        return babble(n, rng, sources)
    if kind == "none":
        return np.zeros(n)
    raise ValueError(f"unknown noise {kind!r}; one of {NOISES}")


def lost_frames(n_frames: int, loss_rate: float, burst: float, rng: np.random.Generator) -> tuple[int, ...]:
    """A two-state (Gilbert) loss pattern with the given average rate and burstiness."""
    if loss_rate <= 0:
        return ()
    # P(lost | previous lost) = burst; P(lost | previous kept) = p, so that the stationary rate is loss_rate.
    p = loss_rate * (1 - burst) / (1 - loss_rate)
    draws = rng.random(n_frames)
    lost, previous = [], False
    for i in range(n_frames):
        previous = bool(draws[i] < (burst if previous else p))
        if previous:
            lost.append(i)
    return tuple(lost)


def degrade(channel: Channel, options: LineOptions, sources: list[Pcm] | None = None) -> BadChannel:
    """`channel` on a bad line; `sources` feed the babble (default: the channel itself)."""
    seed = [options.seed, *channel.call.encode(), *channel.role.encode()]
    rng = np.random.default_rng(seed)
    speech = channel.samples.astype(np.float64)
    mask = speech_mask(channel)
    speech_power = float(np.mean(speech[mask] ** 2)) if mask.any() else float(np.mean(speech**2))
    line = noise(options.noise, len(speech), rng, sources or [channel.samples])
    if options.noise != "none":
        line *= np.sqrt(speech_power / 10 ** (options.snr_db / 10) / (np.mean(line**2) + 1e-12))
    mixed = (speech + line) * 10 ** (options.level_for(channel.role) / 20)
    lost = lost_frames(len(speech) // FRAME_SAMPLES, options.loss_rate, options.loss_burst, rng)
    for index in lost:
        mixed[index * FRAME_SAMPLES : (index + 1) * FRAME_SAMPLES] = 0.0
    samples = np.clip(np.round(mixed), -32768, 32767).astype(np.int16)
    return BadChannel(replace(channel, samples=samples), lost, channel.samples)


def line_noise_only(seconds: float, options: LineOptions, reference: Channel) -> BadChannel:
    """`seconds` of the line with nobody speaking: the noise at the level it has on `reference`'s line."""
    n = int(seconds * SAMPLE_RATE)
    silent = Channel("noise", reference.role, np.zeros(n, dtype=np.int16), [])
    rng = np.random.default_rng([options.seed, 60])
    speech = reference.samples.astype(np.float64)
    mask = speech_mask(reference)
    speech_power = float(np.mean(speech[mask] ** 2))
    line = noise(options.noise if options.noise != "none" else "hiss", n, rng, [reference.samples])
    line *= np.sqrt(speech_power / 10 ** (options.snr_db / 10) / (np.mean(line**2) + 1e-12))
    lost = lost_frames(n // FRAME_SAMPLES, options.loss_rate, options.loss_burst, rng)
    for index in lost:
        line[index * FRAME_SAMPLES : (index + 1) * FRAME_SAMPLES] = 0.0
    samples = np.clip(np.round(line), -32768, 32767).astype(np.int16)
    return BadChannel(replace(silent, samples=samples), lost, silent.samples)

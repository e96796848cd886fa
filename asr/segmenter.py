"""Cuts a stream of 20 ms frames into utterances with a VAD (webrtcvad or Silero). Sans-I/O: frames in, segments out.

Speculation: `speculate_ms` of silence after speech, the segmenter offers the utterance as it would close it
(`speculations()`); whoever decodes it reports where its text stops (`speculated()`), and the end-of-utterance
wait adapts: `end_silence_finished_ms` after a finished sentence, `end_silence_open_ms` mid-phrase. The closed
Segment names the speculation whose audio it is (`speculation`), so its decode is not repeated; speech that
resumes voids the speculation.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, replace

import numpy as np

from asr.denoise import LineNoise
from asr.frame import FRAME_MS, Frame, Pcm
from asr.onset import NoiseFloor, level_db, onset
from asr.vad import VADS, Vad, VadOptions, make_vad

NOISE_BAND_DB = 6.0  # an unvoiced frame this close to the noise floor is line noise (segmenter.denoise learns it)


class Ending(enum.Enum):
    """Where a speculative transcript stops (mediagw/endpointing.py reads it)."""

    FINISHED = "finished"  # words, the last of which can end a sentence
    OPEN = "open"  # mid-phrase: a digit group (a card or phone read in pieces), a trailing "and" or "um", a comma
    UNKNOWN = "unknown"  # no words (the model heard none, or the no-speech guard dropped them)


@dataclass(frozen=True)
class SegmenterOptions:
    """Tuning of utterance boundaries; all times in ms."""

    vad: str = "combined"  # combined | silero | webrtc (asr/vad.py; bench/vad.py, bench/replay.py, bench/badline.py)
    aggressiveness: int = 2  # webrtcvad mode 0 (permissive) .. 3 (strict)
    silero_threshold: float = 0.5  # Silero speech probability that opens speech...
    silero_end_threshold: float = 0.35  # ...and below which it ends
    silero_hold_ms: int = 300  # combined: webrtcvad's frames count this long after Silero's speech...
    silero_hold_noisy_ms: int = 100  # ...or this long where webrtcvad hears the line's noise as speech
    start_window_ms: int = 100  # speech starts when this window holds...
    start_trigger_ms: int = 60  # ...at least this much voiced audio
    end_silence_ms: int = 300  # an utterance ends after this much unvoiced audio, unless a speculation adapts it
    speculate_ms: int = 60  # after this much silence the utterance is offered for a speculative decode (0: off)
    end_silence_finished_ms: int = 200  # the wait once the speculative text can end a sentence (see default.yaml)
    end_silence_open_ms: int = 800  # the wait once it stops mid-phrase (a digit group, a trailing "and" or "um")
    pre_roll_ms: int = 200  # audio kept before the detected start (soft onsets)
    onset_search_ms: int = 400  # the start moves back this far at most over audio above the noise floor...
    onset_margin_db: float = 9.0  # ...by this much (a first word the VAD heard too late, "Thank | you")
    post_roll_ms: int = 60  # audio kept after the last voiced frame (webrtcvad's hangover is ~100 ms more)
    min_utterance_ms: int = 200  # shorter voiced runs are clicks and breaths, not speech
    max_utterance_ms: int = 9500  # longer speech is cut here and continues in a new utterance
    cut_search_ms: int = 1500  # a forced cut looks this far back for the quietest frame
    loss_hold_ms: int = 100  # digital silence (a lost packet filled with zeros) this short does not end speech
    denoise: bool = True  # the stream's line noise is subtracted from each utterance before ASR (asr/denoise.py)
    denoise_strength: float = 3.0  # how many times the learnt noise spectrum is subtracted...
    denoise_floor: float = 0.3  # ...down to this least gain: some noise is kept (bench.replay)

    def validate(self) -> None:
        if self.vad not in VADS:
            raise ValueError(f"segmenter.vad must be one of {', '.join(VADS)}")
        if not 0 < self.silero_end_threshold <= self.silero_threshold < 1:
            raise ValueError("segmenter.silero_end_threshold must be > 0 and <= silero_threshold < 1")
        if self.onset_search_ms < 0 or self.onset_margin_db <= 0:
            raise ValueError("segmenter.onset_search_ms must be >= 0 and onset_margin_db > 0")
        if self.loss_hold_ms < 0:
            raise ValueError("segmenter.loss_hold_ms must be >= 0")
        if self.denoise_strength < 0 or not 0 < self.denoise_floor <= 1:
            raise ValueError("segmenter.denoise_strength must be >= 0 and denoise_floor > 0 and <= 1")
        if not 0 <= self.silero_hold_noisy_ms <= self.silero_hold_ms:
            raise ValueError("segmenter.silero_hold_noisy_ms must be >= 0 and <= silero_hold_ms")
        if not 0 <= self.aggressiveness <= 3:
            raise ValueError("segmenter.aggressiveness must be 0..3")
        if not 0 < self.start_trigger_ms <= self.start_window_ms:
            raise ValueError("segmenter.start_trigger_ms must be > 0 and <= start_window_ms")
        if self.end_silence_ms < FRAME_MS or self.min_utterance_ms < 0:
            raise ValueError("segmenter.end_silence_ms must be at least one frame (20 ms)")
        if self.max_utterance_ms < 1000 or self.cut_search_ms >= self.max_utterance_ms:
            raise ValueError("segmenter.max_utterance_ms must be >= 1000 and > cut_search_ms")
        if min(self.end_silence_finished_ms, self.end_silence_open_ms) < FRAME_MS:
            raise ValueError("segmenter.end_silence_finished_ms and end_silence_open_ms must be >= 20")
        if self.speculate_ms and self.speculate_ms < self.post_roll_ms:  # its audio must be what a close sends
            raise ValueError("segmenter.speculate_ms must be 0 (off) or at least post_roll_ms")

    def end_silence(self, ending: Ending) -> int:
        """The end-of-utterance wait after a speculation's text; never beyond end_silence_ms in the wrong way."""
        if ending is Ending.FINISHED:
            return min(self.end_silence_finished_ms, self.end_silence_ms)
        return max(self.end_silence_open_ms, self.end_silence_ms) if ending is Ending.OPEN else self.end_silence_ms


@dataclass(frozen=True)
class Segment:
    """One utterance's audio. `start_ms`/`end_ms` bound the speech; `audio_start_ms` is where `samples` begin."""

    samples: Pcm
    audio_start_ms: int
    start_ms: int
    end_ms: int
    closed_at_ms: int  # media time at which the segmenter decided the utterance was over
    forced_cut: bool  # closed by max_utterance_ms; the speech continues in the next segment
    speculation: int | None = None  # the speculation whose audio this is: its decode is this one's


@dataclass(frozen=True)
class Speculation:
    """An utterance offered for decoding before its end is confirmed; `segment.speculation` is its id."""

    id: int
    segment: Segment


class Segmenter:
    """`push` labels each frame with the stream's VAD; a pipeline that labels elsewhere (Silero, off the event
    loop) calls `push_labelled` with the VAD's verdicts, in order, and gets the same segments."""

    def __init__(self, options: SegmenterOptions, vad: Vad | None = None) -> None:
        options.validate()
        self._options = options
        self.vad = vad or make_vad(
            VadOptions(
                options.vad,
                options.aggressiveness,
                options.silero_threshold,
                options.silero_end_threshold,
                options.silero_hold_ms,
                options.silero_hold_noisy_ms,
            )
        )
        self._onset_frames = options.onset_search_ms // FRAME_MS
        self._lookback: deque[tuple[Frame, bool, float | None]] = deque(
            maxlen=(options.pre_roll_ms + options.start_window_ms + options.onset_search_ms) // FRAME_MS
        )
        self._floor = NoiseFloor()
        self._line_noise = LineNoise(options.denoise_strength, options.denoise_floor) if options.denoise else None
        self._window = options.start_window_ms // FRAME_MS
        self._frames: list[tuple[Frame, bool]] = []  # the open utterance, pre-roll included
        self._speech_start = 0
        self._last_voiced_end = 0
        self._silence_ms = 0
        self._hole_ms = 0  # digital silence in a row, inside an utterance
        self._end_silence_ms = options.end_silence_ms  # adapted by a speculation's text
        self._speculation: int | None = None  # the live speculation: the audio a close would send now
        self._speculated = False  # this silence has been offered already
        self._offers: list[Speculation] = []
        self._next_id = 0

    @property
    def in_utterance(self) -> bool:
        return bool(self._frames)

    def push(self, frame: Frame) -> list[Segment]:
        return self.push_labelled(frame, self.vad.label([frame.samples])[0])

    def push_labelled(self, frame: Frame, voiced: bool) -> list[Segment]:
        if not self._frames:
            return self._await_speech(frame, voiced)
        self._frames.append((frame, voiced))
        self._hole_ms = self._hole_ms + frame.duration_ms if not frame.samples.any() else 0
        if 0 < self._hole_ms <= self._options.loss_hold_ms:
            pass  # a lost packet inside speech: neither speech nor the silence that ends it
        elif voiced:
            self._last_voiced_end, self._silence_ms = frame.end_ms, 0
            self._void_speculation()
        else:
            self._silence_ms += frame.duration_ms
        if self._silence_ms >= self._end_silence_ms:
            return self._close(frame.end_ms)
        if frame.end_ms - self._frames[0][0].position_ms >= self._options.max_utterance_ms:
            # in a pause past the usual wait (a longer one was adapted) the speech is over: a close, not a cut
            over = self._silence_ms >= self._options.end_silence_ms
            return self._close(frame.end_ms) if over else self._cut(frame.end_ms)
        if self._options.speculate_ms and not self._speculated and self._silence_ms >= self._options.speculate_ms:
            self._offer(frame.end_ms)
        return []

    def asr_samples(self, segment: Segment) -> Pcm:
        """What ASR decodes of `segment`: its audio less the stream's line noise (segmenter.denoise). Noise is
        learnt only outside utterances, so a speculation and its close decode the same samples."""
        return segment.samples if self._line_noise is None else self._line_noise.suppress(segment.samples)

    def speculations(self) -> list[Speculation]:
        """Utterances to decode speculatively, offered since the last call (at most one is live). Taking one
        promises its answer (`speculated`; Ending.UNKNOWN if it was not decoded): until then the utterance waits
        for it, up to end_silence_open_ms, since closing sooner would not deliver it sooner (the decode is the
        transcript's) and its text may ask for a longer wait."""
        offers, self._offers = self._offers, []
        live = [offer for offer in offers if offer.id == self._speculation]  # not one closed or voided since
        if live:
            self._end_silence_ms = self._options.end_silence(Ending.OPEN)
        return live

    def speculated(self, speculation_id: int, ending: Ending) -> list[Segment]:
        """A speculation's text stops at `ending` (UNKNOWN: no text, or not decoded): the wait adapts, and the
        utterance closes now if its silence is already that long. A void speculation (speech resumed, or
        closed) changes nothing."""
        if speculation_id != self._speculation or not self._frames:
            return []
        self._end_silence_ms = self._options.end_silence(ending)
        if self._silence_ms >= self._end_silence_ms:
            return self._close(self._frames[-1][0].end_ms)
        return []

    def _offer(self, at_ms: int) -> None:
        self._speculated = True
        if self._last_voiced_end - self._speech_start < self._options.min_utterance_ms:
            return  # a close would drop it
        self._speculation, self._next_id = self._next_id, self._next_id + 1
        segment = self._segment(self._kept_frames(), self._last_voiced_end, at_ms, forced_cut=False)
        self._offers.append(Speculation(self._speculation, segment))

    def _void_speculation(self) -> None:
        self._speculation, self._speculated = None, False
        self._end_silence_ms = self._options.end_silence_ms

    def flush(self) -> list[Segment]:
        """End of stream: an utterance in progress is closed, not dropped."""
        if not self._frames:
            return []
        return self._close(self._frames[-1][0].end_ms)

    def _await_speech(self, frame: Frame, voiced: bool) -> list[Segment]:
        level = level_db(frame.samples)
        if not voiced:
            self._floor.update(level)
            self._learn_noise(frame, level)
        self._lookback.append((frame, voiced, level))
        recent = list(self._lookback)[-self._window :]
        voiced_ms = sum(f.duration_ms for f, v, _ in recent if v)
        if voiced_ms < self._options.start_trigger_ms:
            return []
        lookback = list(self._lookback)
        first_voiced = next(i for i in range(len(lookback) - len(recent), len(lookback)) if lookback[i][1])
        levels = [level for _, _, level in lookback]
        first = onset(levels, first_voiced, self._floor.db, self._options.onset_margin_db, self._onset_frames)
        keep_from = lookback[first][0].position_ms - self._options.pre_roll_ms
        self._frames = [(f, v) for f, v, _ in lookback if f.position_ms >= keep_from]
        self._lookback.clear()
        self._speech_start = lookback[first][0].position_ms
        self._last_voiced_end = max(f.end_ms for f, v in self._frames if v)
        self._silence_ms = frame.end_ms - self._last_voiced_end
        self._void_speculation()
        return []

    def _learn_noise(self, frame: Frame, level: float | None) -> None:
        """An unvoiced frame near the noise floor is the line's noise; a louder one may be a breath or a word's
        tail the VAD let through, which would make the suppressor eat speech."""
        floor = self._floor.db
        if self._line_noise is not None and level is not None and floor is not None and level <= floor + NOISE_BAND_DB:
            self._line_noise.observe(frame.samples)

    def _kept_frames(self) -> list[Frame]:
        keep_until = self._last_voiced_end + self._options.post_roll_ms
        return [f for f, _ in self._frames if f.position_ms < keep_until]

    def _close(self, closed_at_ms: int) -> list[Segment]:
        frames = self._kept_frames()
        speculation = self._speculation
        self._frames = []
        self._void_speculation()
        # After a forced cut whose rest held no voiced frame, nothing is left to send (frames is empty).
        if not frames or self._last_voiced_end - self._speech_start < self._options.min_utterance_ms:
            return []
        segment = self._segment(frames, self._last_voiced_end, closed_at_ms, forced_cut=False)
        return [replace(segment, speculation=speculation)]

    def _cut(self, closed_at_ms: int) -> list[Segment]:
        """Split a monologue at the quietest recent frame; the rest opens the next utterance."""
        split = self._quietest_index()
        head, tail = self._frames[:split], self._frames[split:]
        end_ms = max((f.end_ms for f, v in head if v), default=head[-1][0].end_ms)
        segment = self._segment([f for f, _ in head], end_ms, closed_at_ms, forced_cut=True)
        self._frames = tail
        self._void_speculation()
        if tail:
            self._speech_start = tail[0][0].position_ms
        return [segment]

    def _quietest_index(self) -> int:
        search = self._options.cut_search_ms // FRAME_MS
        first = max(1, len(self._frames) - search)
        energy = [float(np.mean(np.abs(f.samples.astype(np.int32)))) for f, _ in self._frames[first:]]
        return first + int(np.argmin(energy)) + 1

    def _segment(self, frames: list[Frame], end_ms: int, closed_at_ms: int, forced_cut: bool) -> Segment:
        samples = np.concatenate([f.samples for f in frames])
        return Segment(samples, frames[0].position_ms, self._speech_start, end_ms, closed_at_ms, forced_cut)

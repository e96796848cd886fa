"""Speculative decode and the adaptive end of utterance, on the sans-I/O segmenter with a fake decode timing:
frames go in one by one, a speculation's result is reported a set number of frames after it was offered."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from asr.frame import Frame
from asr.segmenter import Ending, Segment, Segmenter, SegmenterOptions, Speculation
from mediagw.endpointing import ending_of

OPTIONS = SegmenterOptions(
    vad="webrtc",  # the state machine is the VAD's to feed; webrtcvad takes the synthetic tone below for speech
    speculate_ms=100,
    end_silence_ms=300,
    end_silence_finished_ms=200,
    end_silence_open_ms=800,
    post_roll_ms=100,
)


def _speech(ms: int) -> np.ndarray[Any, np.dtype[np.int16]]:
    """A voiced harmonic tone (webrtcvad takes it for speech)."""
    t = np.arange(ms * 8) / 8000
    return (sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 12)) * 6000).astype(np.int16)


def _quiet(ms: int, seed: int = 1) -> np.ndarray[Any, np.dtype[np.int16]]:
    """Line noise, not digital silence (which the segmenter takes for a lost packet)."""
    return np.random.default_rng(seed).normal(0, 3, ms * 8).astype(np.int16)


class Run:
    """Feeds frames; `decode_frames` frames after each offer's, reports its result as `ending` (None: never)."""

    def __init__(self, options: SegmenterOptions, ending: Ending | None, decode_frames: int) -> None:
        self.segmenter = Segmenter(options)
        self.ending, self.decode_frames = ending, decode_frames
        self.offers: list[tuple[int, Speculation]] = []  # (frame index offered at, offer)
        self.closed: list[Segment] = []
        self.frame = 0

    def feed(self, audio: np.ndarray[Any, np.dtype[np.int16]]) -> None:
        for i in range(0, len(audio) - 159, 160):
            self.closed += self.segmenter.push(Frame(self.frame * 20, audio[i : i + 160]))
            self.offers += [(self.frame, offer) for offer in self.segmenter.speculations()]
            for at, offer in self.offers:
                if self.ending is not None and self.frame - at == self.decode_frames:
                    self.closed += self.segmenter.speculated(offer.id, self.ending)
            self.frame += 1


def test_silence_after_speech_offers_the_utterance_as_it_will_close() -> None:
    run = Run(OPTIONS, None, 0)
    run.feed(np.concatenate([_quiet(300), _speech(800), _quiet(1000)]))
    assert len(run.offers) == 1 and len(run.closed) == 1
    at, offer = run.offers[0]
    closed = run.closed[0]
    assert at * 20 + 20 - closed.end_ms == OPTIONS.speculate_ms
    np.testing.assert_array_equal(offer.segment.samples, closed.samples)  # the decode is reusable as is
    assert closed.speculation == offer.id
    # the answer was promised and never came: the utterance waited for it, up to the longest wait
    assert closed.closed_at_ms - closed.end_ms == OPTIONS.end_silence_open_ms


@pytest.mark.parametrize(
    ("ending", "decode_frames", "wait_ms"),
    [
        (Ending.FINISHED, 3, 200),  # decoded 60 ms after the offer: the shorter wait holds
        (Ending.FINISHED, 9, 280),  # decoded 180 ms after it: closes the moment the result comes (100 + 180)
        (Ending.UNKNOWN, 3, 300),  # no words, or not decoded (skipped under load): the usual wait
        (Ending.UNKNOWN, 12, 340),  # the answer came after the usual wait: the close waited for it
        (Ending.OPEN, 3, 800),  # "... 4111 1111": the reader is likely to go on
    ],
)
def test_the_end_of_utterance_wait_follows_where_the_speculative_text_stops(
    ending: Ending, decode_frames: int, wait_ms: int
) -> None:
    run = Run(OPTIONS, ending, decode_frames)
    run.feed(np.concatenate([_quiet(300), _speech(800), _quiet(1500)]))
    assert len(run.closed) == 1
    closed = run.closed[0]
    assert closed.closed_at_ms - closed.end_ms == wait_ms
    assert closed.speculation == run.offers[0][1].id


def test_speech_that_resumes_voids_the_speculation_and_the_wait_it_set() -> None:
    run = Run(OPTIONS, Ending.FINISHED, 1)
    run.feed(np.concatenate([_quiet(300), _speech(600), _quiet(280)]))  # webrtcvad hangs over ~120 ms
    first = run.offers[0][1]  # offered, decoded "finished": a 200 ms wait, not reached yet
    run.ending = Ending.UNKNOWN  # the second speculation is not decoded (skipped under load)
    run.feed(np.concatenate([_speech(600), _quiet(360)]))  # the speaker went on: ~240 ms of silence since
    assert run.closed == [] and len(run.offers) == 2  # the wait is 300 ms again
    assert run.segmenter.speculated(first.id, Ending.FINISHED) == []  # a void result changes nothing
    run.feed(_quiet(100))
    assert len(run.closed) == 1
    closed = run.closed[0]
    assert closed.speculation == run.offers[1][1].id != first.id
    assert closed.closed_at_ms - closed.end_ms == OPTIONS.end_silence_ms
    assert len(closed.samples) > len(first.segment.samples)


def test_a_late_result_for_a_closed_utterance_is_ignored() -> None:
    run = Run(OPTIONS, Ending.UNKNOWN, 1)
    run.feed(np.concatenate([_quiet(300), _speech(600), _quiet(600)]))
    assert len(run.closed) == 1
    assert run.segmenter.speculated(run.offers[0][1].id, Ending.FINISHED) == []


def test_speculation_off_and_short_blips_offer_nothing() -> None:
    audio = np.concatenate([_quiet(300), _speech(800), _quiet(600)])
    off = Run(replace(OPTIONS, speculate_ms=0), None, 0)
    off.feed(audio)
    assert off.offers == [] and len(off.closed) == 1 and off.closed[0].speculation is None
    blip = Run(replace(OPTIONS, min_utterance_ms=400), None, 0)
    blip.feed(np.concatenate([_quiet(300), _speech(120), _quiet(600)]))  # under min_utterance_ms
    assert blip.offers == [] and blip.closed == []


def test_a_forced_cut_voids_the_speculation() -> None:
    options = replace(OPTIONS, max_utterance_ms=1000, cut_search_ms=500)
    run = Run(options, Ending.OPEN, 1)  # "and ..." every time: waits up to 800 ms, past the maximum length
    run.feed(np.concatenate([_quiet(100), _speech(500), _quiet(700)]))
    assert [c.forced_cut for c in run.closed] == [True]  # reached within the usual 300 ms: cut as before
    assert run.closed[0].speculation is None


def test_the_maximum_length_reached_in_a_long_wait_closes_the_utterance() -> None:
    options = replace(OPTIONS, max_utterance_ms=1500, cut_search_ms=500)
    run = Run(options, Ending.OPEN, 1)
    run.feed(np.concatenate([_quiet(100), _speech(800), _quiet(900)]))
    assert [c.forced_cut for c in run.closed] == [False]  # the speech was over: nothing continues
    assert run.closed[0].speculation == run.offers[0][1].id


def test_speculation_options_are_validated() -> None:
    with pytest.raises(ValueError, match="speculate_ms"):
        Segmenter(SegmenterOptions(speculate_ms=60, post_roll_ms=100))
    with pytest.raises(ValueError, match="end_silence_finished_ms"):
        Segmenter(SegmenterOptions(end_silence_finished_ms=0))
    wide = SegmenterOptions(end_silence_ms=1000, end_silence_finished_ms=200, end_silence_open_ms=800)
    assert [wide.end_silence(e) for e in (Ending.FINISHED, Ending.UNKNOWN, Ending.OPEN)] == [200, 1000, 1000]


@pytest.mark.parametrize(
    ("text", "ending"),
    [
        ("Hi, I was charged twice for my internet bill this month.", Ending.FINISHED),
        ("Is there a change fee?", Ending.FINISHED),
        ("Is there anything else I can help you with?", Ending.FINISHED),
        ("Yes, the number is 4111 1111.", Ending.OPEN),  # Whisper's full stop after a group is no guide
        ("four five two seven.", Ending.OPEN),
        ("Six oh one one, oh oh oh nine", Ending.OPEN),
        ("It is Alpha Bravo 792.", Ending.FINISHED),  # a reference read whole
        ("4111.", Ending.OPEN),  # a card's first group on its own
        ("three three two.", Ending.OPEN),
        ("The fee is $25.", Ending.FINISHED),
        ("Sure, it is 4527813.", Ending.FINISHED),  # one number, read whole
        # 7 digits one by one: a whole local number, or a card's digits miscounted ("the i'm 0 1 3 9 4 2 4" for
        # "0139 4242"): the text cannot tell, so it waits (bench/README.md: what that costs the clean p95)
        ("sure it is 4 5 2 7 8 1 3", Ending.OPEN),
        ("Okay, it's four one one one, one one one one, one one one one, one one one one.", Ending.FINISHED),
        ("The new flight leaves at 10:30 in the morning.", Ending.FINISHED),
        ("My card number is, um", Ending.OPEN),
        ("I'd like to pay the bill and", Ending.OPEN),
        ("So the reference is,", Ending.OPEN),
        ("Let me check...", Ending.OPEN),
        ("I was charged twice for my internet bill this month", Ending.FINISHED),
        ("", Ending.UNKNOWN),
        (" . ", Ending.UNKNOWN),
    ],
)
def test_endings_of_speculative_texts(text: str, ending: Ending) -> None:
    assert ending_of(text) is ending


@pytest.mark.parametrize(
    ("text", "ending"),
    [
        ("Quisiera pagar mi factura de este mes.", Ending.FINISHED),
        ("¿Me da el número de su tarjeta?", Ending.FINISHED),
        ("Sí, es cuatro uno uno uno.", Ending.OPEN),  # a card's first group, in Spanish number words
        ("cuatro cinco dos siete, uno uno", Ending.OPEN),
        ("Quiero pagar la factura y", Ending.OPEN),
        ("El número de mi tarjeta es, este", Ending.OPEN),  # "este": the Spanish filler
        ("Mi fecha de nacimiento es el", Ending.OPEN),
        ("Gracias, eso es todo", Ending.FINISHED),
    ],
)
def test_endings_of_spanish_speculative_texts(text: str, ending: Ending) -> None:
    assert ending_of(text, "es") is ending


def test_spanish_number_words_are_no_group_to_english() -> None:
    """The language decides: read as English, "cuatro uno uno uno" is words, and ends a finished phrase."""
    assert ending_of("Sí, es cuatro uno uno uno.", "en") is Ending.FINISHED


def test_a_digit_group_waits_only_where_a_longer_number_is_under_way() -> None:
    """An account number read digit by digit is finished when its speaker stops; a card's group is not."""
    assert ending_of("sure it is 4 5 2 7 8 1 3", number_expected=lambda: False) is Ending.FINISHED
    assert ending_of("sure it is 4 5 2 7 8 1 3", number_expected=lambda: True) is Ending.OPEN
    assert ending_of("My card is 4111", number_expected=lambda: False) is Ending.FINISHED
    assert ending_of("I'd like to pay the bill and", number_expected=lambda: False) is Ending.OPEN  # not a number


@pytest.mark.parametrize(
    ("asked", "said", "expected"),
    [
        ("Can I have the card number, please?", "4111 1111", True),
        ("And your social security number?", "123 45", True),
        ("", "my phone number is 555 123", True),  # asked for, only where phone numbers are redacted
        ("Can I have your account number, please?", "sure it is 4 5 2 7 8 1 3", False),
        ("", "sure it is 4 5 2 7 8 1 3", False),
        ("", "My card number is 4111", True),  # the speaker names it
        ("", "Okay the card. 4111", True),  # in the utterance before, read with it (the pipeline does)
    ],
)
def test_the_conversation_says_whether_a_number_is_under_way(asked: str, said: str, expected: bool) -> None:
    from mediagw.app import build_text_stage
    from mediagw.config import load_config

    stage = build_text_stage(load_config(environ={}))[1]
    if asked:
        stage.process(asked, conversation_id="c", role="agent", smart_formatting=True, output="redacted")
    assert stage.number_expected(said, conversation_id="c", role="customer") is expected


def test_digits_that_completed_nothing_make_the_next_group_a_piece() -> None:
    from mediagw.app import build_text_stage
    from mediagw.config import load_config

    stage = build_text_stage(load_config(environ={}))[1]
    assert not stage.number_expected("4111", conversation_id="c", role="customer")
    stage.process("It's 4111 1111", conversation_id="c", role="customer", smart_formatting=True, output="redacted")
    assert stage.number_expected("1111", conversation_id="c", role="customer")

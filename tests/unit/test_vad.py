"""Frame labels from each VAD: the same whether frames come one by one or many at once, and the VAD thread that
keeps Silero off the event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import numpy as np
import pytest

from asr.frame import FRAME_SAMPLES, Frame, Pcm
from asr.onset import NoiseFloor, onset
from asr.segmenter import Segmenter, SegmenterOptions
from asr.vad import VADS, VadOptions, make_vad
from asr.vad_thread import VadThread, vad_thread
from bench.common import sample_channels


def _frames(samples: Pcm) -> list[Pcm]:
    return [samples[i : i + FRAME_SAMPLES] for i in range(0, len(samples) - FRAME_SAMPLES + 1, FRAME_SAMPLES)]


@pytest.fixture(scope="module")
def speech() -> Pcm:
    return sample_channels()[1].samples[: 8000 * 20]


@pytest.mark.parametrize("kind", VADS)
def test_labels_do_not_depend_on_how_frames_are_grouped(speech: Pcm, kind: str) -> None:
    frames = _frames(speech)
    one = make_vad(VadOptions(kind))
    singly = [one.label([f])[0] for f in frames]
    many = make_vad(VadOptions(kind))
    grouped: list[bool] = []
    for first in range(0, len(frames), 7):  # 140 ms at a time: windows straddle the groups' edges
        grouped += many.label(frames[first : first + 7])
    assert grouped == singly
    assert 0.2 < sum(singly) / len(singly) < 0.9  # a call: speech and pauses both


def test_the_segmenter_gives_the_same_segments_with_labels_from_elsewhere(speech: Pcm) -> None:
    options = SegmenterOptions(vad="silero")
    inline = Segmenter(options)
    found = [s for i, f in enumerate(_frames(speech)) for s in inline.push(Frame(i * 20, f))]
    vad = make_vad(VadOptions("silero"))
    labels = vad.label(_frames(speech))
    outside = Segmenter(options, vad=vad)
    fed = [s for i, f in enumerate(_frames(speech)) for s in outside.push_labelled(Frame(i * 20, f), labels[i])]
    assert len(found) >= 2
    assert [(s.start_ms, s.end_ms, s.closed_at_ms, len(s.samples)) for s in fed] == [
        (s.start_ms, s.end_ms, s.closed_at_ms, len(s.samples)) for s in found
    ]


class _Recording:
    """A VAD that records which thread labels it and can be told to fail."""

    off_loop = True

    def __init__(self, fail: bool = False) -> None:
        self.threads: set[str] = set()
        self.seen: list[int] = []
        self._fail = fail

    def label(self, frames: Sequence[Pcm]) -> list[bool]:
        self.threads.add(threading.current_thread().name)
        if self._fail:
            raise RuntimeError("broken model")
        self.seen += [int(f[0]) for f in frames]
        return [bool(f[0] % 2) for f in frames]


def test_the_vad_thread_labels_every_stream_off_the_loop_in_order_and_batches_them() -> None:
    async def main() -> tuple[VadThread, list[_Recording], list[list[bool]], Exception | None]:
        thread = vad_thread()
        assert vad_thread() is thread  # one per loop
        vads = [_Recording() for _ in range(5)] + [_Recording(fail=True)]
        futures = [thread.label(v, [np.full(160, n + k, np.int16) for k in range(3)]) for n in range(4) for v in vads]
        results = await asyncio.gather(*futures, return_exceptions=True)
        labels = [r for r in results if isinstance(r, list)]
        error = next((r for r in results if isinstance(r, Exception)), None)
        return thread, vads, labels, error

    thread, vads, labels, error = asyncio.run(main())
    assert thread.runs < 24 / 2  # requests made in one tick share executor hops
    main_thread = threading.current_thread().name
    assert all(v.threads and main_thread not in v.threads for v in vads)
    assert all(v.seen == [n + k for n in range(4) for k in range(3)] for v in vads[:5])  # each stream in order
    assert labels[0] == [False, True, False]
    assert isinstance(error, RuntimeError)  # the broken stream's own requests fail; the others were answered
    assert len(labels) == 20


def test_the_onset_walks_back_over_a_quiet_first_word_but_not_over_the_line_noise() -> None:
    floor = NoiseFloor()
    for level in (30.0, 31.0, 29.0, 30.5):
        floor.update(level)
    assert floor.db == 29.0 + 0.05
    # noise, a first word ("Thank") the VAD missed, a 60 ms dip, then the voiced frame the VAD found
    levels: list[float | None] = [30.0] * 10 + [45.0] * 8 + [32.0] * 3 + [None] + [50.0] * 4
    assert onset(levels, 22, floor.db, 9.0, limit=20) == 10
    assert onset(levels, 22, floor.db, 9.0, limit=5) == 17  # no further than the search allows
    assert onset(levels, 22, None, 9.0, limit=20) == 22  # no floor yet: the VAD's start
    assert onset([30.0] * 22 + [50.0], 22, floor.db, 9.0, limit=20) == 22  # noise is not speech

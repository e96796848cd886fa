"""The media pacer: real time plus a bounded burst, credit never beyond the burst, the wait it asks for exact."""

from __future__ import annotations

import pytest

from mediagw.ingress.pacer import MediaPacer

SECOND = 8000  # samples


def test_a_burst_is_free_and_then_media_is_held_to_real_time() -> None:
    pacer = MediaPacer(burst_s=2.0, now=100.0)
    assert pacer.take(2 * SECOND, now=100.0) == 0.0  # two seconds at once: the burst
    assert pacer.take(SECOND // 2, now=100.0) == pytest.approx(0.5)  # half a second more: wait half a second
    assert pacer.take(SECOND // 2, now=100.5) == pytest.approx(0.5)  # it waited; the next half second waits too
    assert pacer.take(SECOND, now=102.0) == 0.0  # a real-time sender never waits


def test_idle_time_earns_no_more_than_the_burst() -> None:
    pacer = MediaPacer(burst_s=2.0, now=0.0)
    assert pacer.take(SECOND, now=3600.0) == 0.0
    assert pacer.take(SECOND, now=3600.0) == 0.0
    assert pacer.take(10 * SECOND, now=3600.0) == pytest.approx(10.0)  # an hour idle is not an hour of credit


def test_a_real_time_sender_never_waits() -> None:
    pacer = MediaPacer(burst_s=1.0, now=0.0)
    waits = [pacer.take(160, now=i * 0.02) for i in range(5000)]  # 100 s of 20 ms chunks on time
    assert max(waits) == 0.0

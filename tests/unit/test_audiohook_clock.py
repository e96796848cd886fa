"""AudioHook media clock: paused and discarded audio keep their place on the call's clock (positions in samples)."""

from __future__ import annotations

from mediagw.ingress.audiohook.protocol import AudioReceived, Discarded, Paused, Resumed
from tests.unit.test_audiohook_protocol import STEREO, Client, opened

RATE = 8000


def stereo_audio(seconds: float) -> bytes:
    return bytes(2 * round(seconds * RATE))


def feed(client: Client, seconds: float) -> AudioReceived:
    """`seconds` of stereo audio in one frame; the event it gives."""
    (event,) = client.session.receive_binary(stereo_audio(seconds), now=1.0)
    assert isinstance(event, AudioReceived)
    return event


def test_a_pause_moves_the_clock_by_the_audio_it_left_out_and_a_later_discard_by_its_own_duration() -> None:
    session, client = opened([STEREO])
    assert feed(client, 4.0).position == 0
    assert client.send("paused") == [Paused(4 * RATE)]
    assert client.send("resumed", {"start": "PT4S", "discarded": "PT5S"}) == [Resumed(4 * RATE, 5 * RATE)]
    assert session.position == 9 * RATE  # the pause's 5 s keep their place: audio resumes at 9 s
    assert feed(client, 15.4).position == 9 * RATE
    assert client.send("discarded", {"start": "PT24.4S", "discarded": "PT0.6S"}) == [Discarded(195_200, 4_800)]
    assert feed(client, 1.0).position == 25 * RATE  # 0.6 s filled, not 5.6 s
    assert session.position == 26 * RATE


def test_a_discard_ahead_of_the_clock_skips_only_its_duration_and_reports_the_skew() -> None:
    session, client = opened([STEREO])
    feed(client, 2.0)
    events = client.send("discarded", {"start": "PT8.3S", "discarded": "PT0.3S"})
    assert events == [Discarded(2 * RATE, 2_400, skew=50_400)]  # 0.3 s inserted, not 6.6 s
    assert feed(client, 0.5).position == 18_400
    assert session.position == 22_400


def test_a_discard_behind_the_clock_still_counts_its_duration() -> None:
    session, client = opened([STEREO])
    feed(client, 3.0)
    assert client.send("discarded", {"start": "PT1S", "discarded": "PT0.5S"}) == [Discarded(24_000, 4_000, -16_000)]
    assert session.position == 28_000


def test_an_empty_discard_and_a_resume_without_a_pause_leave_the_clock_alone() -> None:
    session, client = opened([STEREO])
    feed(client, 1.0)
    assert client.send("discarded", {"start": "PT1S", "discarded": "PT0S"}) == []
    assert client.send("resumed", {"start": "PT1S", "discarded": "PT2S"}) == []  # answers a resume; not paused
    assert session.position == RATE


def test_a_discard_before_the_first_audio_starts_the_audio_later() -> None:
    """The client's answer to opened's discardTo: audio then begins after the discarded stretch."""
    session, client = opened([STEREO])
    assert client.send("discarded", {"start": "PT0S", "discarded": "PT1.2S"}) == [Discarded(0, 9_600)]
    assert feed(client, 0.2).position == 9_600
    assert session.position == 11_200


def test_back_to_back_pauses_add_up() -> None:
    session, client = opened([STEREO])
    feed(client, 1.0)
    client.send("paused")
    assert client.send("resumed", {"start": "PT1S", "discarded": "PT2S"}) == [Resumed(RATE, 2 * RATE)]
    client.send("paused")
    assert client.send("resumed", {"start": "PT3S", "discarded": "PT1.5S"}) == [Resumed(3 * RATE, 12_000)]
    assert feed(client, 0.1).position == 36_000

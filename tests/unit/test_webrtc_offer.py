"""WHIP's SDP checks (sans-I/O) and a track's audio to 8 kHz frames."""

from __future__ import annotations

import fractions

import av
import numpy as np
import pytest

from mediagw.core.adapters import ParamsInvalid
from mediagw.ingress.webrtc.audio import TrackAudio
from mediagw.ingress.webrtc.offer import SdpRefused, parse_offer, parse_trickle
from mediagw.ingress.webrtc.params import WebrtcParams

SESSION = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
AUDIO = (
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8 126\r\nc=IN IP4 0.0.0.0\r\na=mid:{mid}\r\na=sendonly\r\n"
    "a=ice-ufrag:Ab12\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n"
    "a=fingerprint:sha-256 " + ":".join(["AB"] * 32) + "\r\n"
    "a=rtpmap:111 opus/48000/2\r\na=rtpmap:126 telephone-event/8000\r\n"
)
DATA = "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\na=sctp-port:5000\r\n"


def test_an_offer_names_its_audio_sections_and_their_codecs() -> None:
    offer = parse_offer(SESSION + AUDIO.format(mid=0) + AUDIO.format(mid=1) + DATA)
    assert [(s.index, s.mid, s.codecs) for s in offer.audio] == [
        (0, "0", ("opus", "PCMU", "PCMA")),
        (1, "1", ("opus", "PCMU", "PCMA")),
    ]
    assert offer.data_channel and offer.other == 0 and offer.ice_ufrag == "Ab12"


@pytest.mark.parametrize(
    ("sdp", "message"),
    [
        ("", "must begin with v=0"),
        ("v=0\r\nnot sdp at all\r\n", "line 2 is not <type>=<value>"),
        ("v=0\r\ns=-\r\n" + AUDIO.format(mid=0), "no o= line"),
        (SESSION + "m=audio nine UDP 0\r\n", "an m= line"),
        (SESSION, "no media section"),
        (SESSION + DATA, "no audio"),
        (SESSION + AUDIO.format(mid=0).replace("m=audio 9", "m=audio 0"), "no audio"),
        (SESSION + AUDIO.format(mid=0) * 3, "3 audio sections: at most 2"),
        (
            SESSION + AUDIO.format(mid=0).replace("111 0 8 126", "9 126").replace("opus/48000/2", "G722/8000"),
            "offered: G722, telephone-event",
        ),
        (SESSION + AUDIO.format(mid=0).replace("a=fingerprint", "a=x-fingerprint"), "no DTLS fingerprint"),
        (SESSION + AUDIO.format(mid=0).replace("a=ice-pwd", "a=x-ice-pwd"), "no ICE credentials"),
    ],
)
def test_offers_whip_cannot_take_are_refused_with_a_reason(sdp: str, message: str) -> None:
    with pytest.raises(SdpRefused, match=message) as refused:
        parse_offer(sdp)
    assert refused.value.status == 400


def test_trickle_fragments_carry_candidates_and_refuse_a_restart() -> None:
    fragment = "a=ice-ufrag:Ab12\r\na=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\n"
    trickle = parse_trickle(fragment + "a=end-of-candidates\r\n", "Ab12")
    assert trickle.candidates == (("0", "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host"),)
    assert trickle.end_of_candidates
    with pytest.raises(SdpRefused, match="ICE restarts") as restart:
        parse_trickle(fragment.replace("Ab12", "Zz99"), "Ab12")
    assert restart.value.status == 422
    with pytest.raises(SdpRefused, match="no a=candidate"):
        parse_trickle("a=ice-ufrag:Ab12\r\n", "Ab12")


def test_webrtc_params_map_tracks_to_roles() -> None:
    assert WebrtcParams().roles(1) == ("customer",)
    params = WebrtcParams.parse({"trackRoles": ["agent", "customer"]})
    assert params.role_of(0) == "agent" and params.role_of(2) is None
    assert WebrtcParams.parse(params.to_json()) == params
    for bad in (None, {"trackRoles": []}, {"trackRoles": ["agent", "agent"]}, {"trackRoles": ["caller"]}):
        with pytest.raises(ParamsInvalid):
            WebrtcParams.parse(bad)


def frame(samples: np.ndarray, rate: int, layout: str, pts: int) -> av.AudioFrame:
    audio = av.AudioFrame.from_ndarray(samples.reshape(1, -1).astype(np.int16), format="s16", layout=layout)
    audio.sample_rate, audio.pts, audio.time_base = rate, pts, fractions.Fraction(1, rate)
    return audio


def test_opus_frames_become_8_khz_with_gaps_kept() -> None:
    """48 kHz stereo in 20 ms frames, a 1 kHz tone; a frame lost after the fifth is a 160-sample gap."""
    track = TrackAudio()
    tone = (np.sin(2 * np.pi * 1000 * np.arange(960) / 48000) * 8000).astype(np.int16)
    stereo = np.repeat(tone, 2)
    out = []
    for index in (0, 1, 2, 3, 4, 6, 7, 8):
        out += track.convert(frame(stereo, 48000, "stereo", index * 960))
    positions = [c.position for c in out]
    assert sum(len(c.samples) for c in out[:5]) <= 800 and positions[5] - positions[4] == 160 + len(out[4].samples)
    steady = np.concatenate([c.samples for c in out[5:]])
    assert 8000 * 0.6 < np.abs(steady).max() < 8000 * 1.1  # the tone survives resampling


def test_g711_frames_pass_at_8_khz() -> None:
    track = TrackAudio()
    samples = np.arange(160, dtype=np.int16)
    first = track.convert(frame(samples, 8000, "mono", 0))
    second = track.convert(frame(samples, 8000, "mono", 160))
    assert [c.position for c in first + second][0] == 0
    assert sum(len(c.samples) for c in first + second) >= 300

"""SDP: a SIPREC offer's two labelled streams and their codecs read; an answer built and re-read."""

from __future__ import annotations

import pytest

from mediagw.ingress.siprec.sdp import (
    Codec,
    MediaDescription,
    Origin,
    SdpError,
    SessionDescription,
    build_media,
    parse_sdp,
)

# An Acme Packet SBC's SIPREC offer: one sendonly m-line per participant, told apart by a=label (RFC 7866 §8.1.1).
OFFER = (
    "v=0\r\n"
    "o=- 1157467291 1157467291 IN IP4 10.0.0.2\r\n"
    "s=-\r\n"
    "c=IN IP4 10.0.0.2\r\n"
    "b=AS:200\r\n"
    "t=0 0\r\n"
    "m=audio 20000 RTP/AVP 0 8 18 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:18 G729/8000\r\n"
    "a=fmtp:18 annexb=no\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-15\r\n"
    "a=ptime:20\r\n"
    "a=label:1\r\n"
    "a=sendonly\r\n"
    "m=audio 20002 RTP/AVP 8 0 18 101\r\n"
    "c=IN IP4 10.0.0.3\r\n"
    "a=rtcp:20013\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-15\r\n"
    "a=label:2\r\n"
    "a=sendonly\r\n"
)


def test_siprec_offer() -> None:
    sdp = parse_sdp(OFFER.encode())
    assert sdp.origin == Origin("-", "1157467291", 1157467291, "IN", "IP4", "10.0.0.2")
    assert (sdp.version, sdp.session_name, sdp.connection, sdp.timing) == (0, "-", "10.0.0.2", "0 0")
    first, second = sdp.media
    assert (first.media, first.port, first.proto, first.formats) == ("audio", 20000, "RTP/AVP", ["0", "8", "18", "101"])
    assert [(m.label, m.direction) for m in sdp.media] == [("1", "sendonly"), ("2", "sendonly")]
    assert first.codecs() == [
        Codec(0, "PCMU", 8000),
        Codec(8, "PCMA", 8000),
        Codec(18, "G729", 8000, fmtp="annexb=no"),
        Codec(101, "telephone-event", 8000, fmtp="0-15"),
    ]
    assert [codec.name for codec in second.codecs()] == ["PCMA", "PCMU", "G729", "telephone-event"]
    assert (sdp.connection_for(first), sdp.connection_for(second)) == ("10.0.0.2", "10.0.0.3")
    assert (first.rtcp_port, second.rtcp_port) == (20001, 20013)
    assert first.attribute("ptime") == "20" and sdp.other_lines == [("b", "AS:200")]


def test_round_trip_and_lf_only_line_ends() -> None:
    sdp = parse_sdp(OFFER)
    assert str(sdp) == OFFER and sdp.serialize() == OFFER.encode()
    assert parse_sdp(OFFER.replace("\r\n", "\n")) == sdp


# What test_sip_fuzz.py::test_sdp found (its shrunk input, verbatim): the first a=rtpmap became u=. A u= line belongs
# to the session only (RFC 4566 §5); it was kept in the m-section's other_lines but never written back, so
# parse_sdp(str(sdp)) lost it and differed from sdp.
FUZZ_U_IN_MEDIA = (
    "v=0\r\no=- 1157467291 1157467291 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
    "m=audio 20000 RTP/AVP 0 8 18 101\r\nu=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=label:1\r\n"
    "a=sendonly\r\nm=audio 20002 RTP/AVP 0 8 18 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n"
    "a=label:2\r\na=sendonly\r\n"
)


def test_fuzz_found_session_only_line_in_media_is_refused() -> None:
    with pytest.raises(SdpError, match="u= line inside a media description"):
        parse_sdp(FUZZ_U_IN_MEDIA)
    assert parse_sdp(FUZZ_U_IN_MEDIA.replace("\r\nu=rtpmap", "\r\na=rtpmap")).media[0].label == "1"


@pytest.mark.parametrize("kind", "uepzr")
def test_session_level_types_are_refused_in_media(kind: str) -> None:
    with pytest.raises(SdpError, match=f"{kind}= line inside a media description"):
        parse_sdp(OFFER.replace("a=label:2\r\n", f"a=label:2\r\n{kind}=x\r\n"))


def test_lines_out_of_rfc_order_survive_a_round_trip() -> None:
    text = OFFER.replace("b=AS:200\r\n", "x=1\r\nk=clear:k\r\nb=AS:200\r\ni=info\r\n").replace(
        "a=rtcp:20013\r\n", "a=rtcp:20013\r\ny=2\r\nb=AS:64\r\ni=two\r\n"
    )
    sdp = parse_sdp(text)
    assert sdp.other_lines == [("i", "info"), ("b", "AS:200"), ("k", "clear:k"), ("x", "1")]
    assert sdp.media[1].other_lines == [("i", "two"), ("b", "AS:64"), ("y", "2")]
    assert parse_sdp(str(sdp)) == sdp
    assert "s=-\r\ni=info\r\nc=IN IP4 10.0.0.2\r\nb=AS:200\r\nt=0 0\r\nk=clear:k\r\nx=1\r\n" in str(sdp)


def test_directions_and_session_level_default() -> None:
    text = OFFER.replace("t=0 0\r\n", "t=0 0\r\na=recvonly\r\n").replace("a=sendonly\r\n", "")
    sdp = parse_sdp(text)
    assert sdp.direction == "recvonly" and [m.direction for m in sdp.media] == ["recvonly", "recvonly"]
    assert parse_sdp(text.replace("a=label:2\r\n", "a=label:2\r\na=inactive\r\n")).media[1].direction == "inactive"
    plain = parse_sdp(OFFER.replace("a=sendonly\r\n", ""))
    assert plain.direction == "sendrecv" and plain.media[0].direction == "sendrecv"
    assert plain.media[0].label == "1" and MediaDescription("audio", 1, "RTP/AVP", ["0"]).label is None


def test_static_payload_types_need_no_rtpmap_and_unknown_dynamic_ones_are_skipped() -> None:
    sdp = parse_sdp("v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 4000 RTP/AVP 18 13 96 9\n")
    assert [(c.payload_type, c.name, c.clock_rate) for c in sdp.media[0].codecs()] == [
        (18, "G729", 8000),
        (13, "CN", 8000),
        (9, "G722", 8000),
    ]
    opus = parse_sdp(OFFER.replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:0 opus/48000/2")).media[0].codecs()[0]
    assert (opus.channels, opus.rtpmap) == (2, "opus/48000/2")


def test_non_rtp_media_and_ipv6() -> None:
    text = "v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 2001:db8::1\r\nt=0 0\r\nm=image 0 udptl t38\r\n"
    sdp = parse_sdp(text)
    assert sdp.media[0].codecs() == [] and sdp.media[0].rtcp_port is None and sdp.connection == "2001:db8::1"
    assert str(sdp) == text


def test_answer_built_with_build_media() -> None:
    offer = parse_sdp(OFFER)
    pcmu, dtmf = Codec(0, "PCMU", 8000), Codec(101, "telephone-event", 8000, fmtp="0-15")
    answer = SessionDescription(
        0,
        Origin("mediagw", "42", 1, "IN", "IP4", "10.0.0.1"),
        "mediagw",
        "10.0.0.1",
        media=[
            build_media("audio", 30000, [pcmu, dtmf], "recvonly", label="1"),
            offer.media[1].rejected(),
        ],
    )
    text = str(answer)
    assert text == (
        "v=0\r\n"
        "o=mediagw 42 1 IN IP4 10.0.0.1\r\n"
        "s=mediagw\r\n"
        "c=IN IP4 10.0.0.1\r\n"
        "t=0 0\r\n"
        "m=audio 30000 RTP/AVP 0 101\r\n"
        "a=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\n"
        "a=fmtp:101 0-15\r\n"
        "a=label:1\r\n"
        "a=recvonly\r\n"
        "m=audio 0 RTP/AVP 8 0 18 101\r\n"  # refused: the offered formats echoed (RFC 3264 §6)
    )
    reread = parse_sdp(text)
    assert reread.media[0].codecs() == [pcmu, dtmf] and reread.media[0].direction == "recvonly"
    assert "ptime" not in text
    extra = build_media("audio", 0, [pcmu], "inactive", extra=[("rtcp-mux", None)], proto="RTP/SAVP")
    assert extra.lines()[1:] == ["a=rtpmap:0 PCMU/8000", "a=rtcp-mux", "a=inactive"] and extra.proto == "RTP/SAVP"


@pytest.mark.parametrize(
    ("direction", "codecs"), [("both", [Codec(0, "PCMU", 8000)]), ("sendonly", []), ("sendonly", [Codec(128, "X", 1)])]
)
def test_build_media_refuses_bad_arguments(direction: str, codecs: list[Codec]) -> None:
    with pytest.raises(ValueError):
        build_media("audio", 1000, codecs, direction)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "v=0"),
        (OFFER.replace("v=0", "v=1"), "v=0"),
        (OFFER.replace("o=- 1157467291 1157467291 IN IP4 10.0.0.2\r\n", ""), "no o="),
        (OFFER.replace("o=- 1157467291 1157467291", "o=- 1157467291"), "six fields"),
        (OFFER.replace("o=- 1157467291 1157467291", "o=- 1 x"), "session version"),
        (OFFER.replace("s=-\r\n", "s=-\r\no=- 1 1 IN IP4 h\r\n"), "more than one o="),
        (OFFER.replace("m=audio 20000", "m=audio 70000"), "port"),
        (OFFER.replace("m=audio 20000", "m=audio -1"), "port"),
        (OFFER.replace("m=audio 20000", "m=audio 20000/0"), "port"),
        (OFFER.replace("RTP/AVP 0 8 18 101", "RTP/AVP"), "at least one format"),
        (OFFER.replace("RTP/AVP 0 8", "RTP/AVP PCMU 8"), "payload type"),
        (OFFER.replace("RTP/AVP 0 8", "RTP/AVP 0 300"), "payload type"),
        (OFFER.replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:x PCMU/8000"), "payload type"),
        (OFFER.replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:0 PCMU"), "rtpmap"),
        (OFFER.replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:0 PCMU/8000/x"), "channel"),
        (OFFER.replace("a=rtcp:20013", "a=rtcp:port"), "port"),
        (OFFER.replace("c=IN IP4 10.0.0.2", "c=IN IP4"), "c= line"),
        (OFFER.replace("c=IN IP4 10.0.0.2", "c=ATM NSAP 10.0.0.2"), "c= line"),
        (OFFER.replace("c=IN IP4 10.0.0.2", "c=IN IP4 10.0.0.256"), "IPv4"),
        (OFFER.replace("c=IN IP4 10.0.0.2", "c=IN IP6 ::g"), "IPv6"),
        (OFFER.replace("c=IN IP4 10.0.0.3", "c=IN IP4 10.0.0.3\r\nc=IN IP4 10.0.0.4"), "more than one c="),
        (OFFER.replace("a=sendonly", "a sendonly"), "<type>=<value>"),
        (OFFER.replace("a=label:2", "o=- 1 1 IN IP4 h"), "inside a media description"),
        (OFFER.replace("t=0 0", "v=0"), "second v="),
        (OFFER.replace("a=ptime:20", "a=:20"), "attribute name"),
        (OFFER + "m=audio 1 RTP/AVP 0\r\n" * 63, "more than 64"),
        (OFFER + "a=x:" + "y" * 70_000 + "\r\n", "limit"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(SdpError, match=message):
        parse_sdp(text)


def test_non_utf8_sdp() -> None:
    with pytest.raises(SdpError, match="UTF-8"):
        parse_sdp(OFFER.encode().replace(b"s=-", b"s=\xff"))


def test_sixty_four_media_lines_are_fine() -> None:
    assert len(parse_sdp(OFFER + "m=audio 1 RTP/AVP 0\r\n" * 62).media) == 64

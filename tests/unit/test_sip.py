"""SIP message layer: real SBC messages parsed, serialized and framed; every refusal carries its status."""

from __future__ import annotations

import pytest

from mediagw.ingress.siprec.sdp import parse_sdp
from mediagw.ingress.siprec.sip import (
    Headers,
    NameAddr,
    SipError,
    SipRequest,
    SipResponse,
    StreamFramer,
    Via,
    generate_branch,
    generate_tag,
    is_keepalive,
    make_response,
    parse_message,
    parse_name_addr,
    parse_via,
)

SDP = (
    "v=0\r\n"
    "o=- 1157467291 1157467291 IN IP4 10.0.0.2\r\n"
    "s=-\r\n"
    "c=IN IP4 10.0.0.2\r\n"
    "t=0 0\r\n"
    "m=audio 20000 RTP/AVP 0 8 18 101\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-15\r\n"
    "a=label:1\r\n"
    "a=sendonly\r\n"
    "m=audio 20002 RTP/AVP 0 8 18 101\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-15\r\n"
    "a=label:2\r\n"
    "a=sendonly\r\n"
)
METADATA = (
    '<?xml version="1.0" encoding="UTF-8"?>\r\n'
    "<recording xmlns='urn:ietf:params:xml:ns:recording:1'>\r\n"
    "  <datamode>complete</datamode>\r\n"
    "  <session session_id='hVpd7YQgRW2nD22h7q60JQ=='><sipSessionID>ab30317f1a784dc48ff824d0d3715d86;"
    "remote=47755a9de7794ba387653f2099600ef2</sipSessionID></session>\r\n"
    "  <stream stream_id='UAAMm5GRQKSCMVvLyl4rFw==' session_id='hVpd7YQgRW2nD22h7q60JQ=='>"
    "<label>1</label></stream>\r\n"
    "  <stream stream_id='i1Pz3to5hGk8fuXl+PbwCw==' session_id='hVpd7YQgRW2nD22h7q60JQ=='>"
    "<label>2</label></stream>\r\n"
    "</recording>\r\n"
)
MULTIPART = (
    "--unique-boundary-1\r\n"
    "Content-Type: application/sdp\r\n"
    "\r\n" + SDP + "\r\n"
    "--unique-boundary-1\r\n"
    "Content-Type: application/rs-metadata+xml\r\n"
    "Content-Disposition: recording-session\r\n"
    "\r\n" + METADATA + "\r\n"
    "--unique-boundary-1--\r\n"
).encode()
# As an Acme Packet (Oracle) SBC sends it: full header names, two Vias, a multipart body.
ACME_HEAD = (
    "INVITE sip:srs@10.0.0.1:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK3rb9vk0048e0k4ai4ta1.1\r\n"
    "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKc8d5c1ab;received=10.0.0.9;rport=5060\r\n"
    "Max-Forwards: 70\r\n"
    'From: "Acme SRC" <sip:src@10.0.0.2:5060>;tag=b6bc1ef5a1b7c10e\r\n'
    "To: <sip:srs@10.0.0.1:5060>\r\n"
    "Call-ID: 7a1c0e3f58b1d2c4a9e7f6b5d4c3b2a1@10.0.0.2\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:srs@10.0.0.1:5060>;+sip.src\r\n"
    "Require: siprec\r\n"
    "Supported: timer, replaces,100rel\r\n"
    "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, PRACK, INFO\r\n"
    "Session-Expires: 1800;refresher=uac\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed;boundary=unique-boundary-1\r\n"
    "Content-Length: {length}\r\n"
    "\r\n"
)
ACME_INVITE = ACME_HEAD.format(length=len(MULTIPART)).encode() + MULTIPART
# The same kind of INVITE with compact header names, over TCP from an IPv6 SBC.
COMPACT_INVITE = (
    b"INVITE sip:srs@example.com SIP/2.0\r\n"
    b"v: SIP/2.0/TCP [2001:db8::5]:5061;branch=z9hG4bK776asdhds\r\n"
    b'f: "SBC Recorder" <sip:src@sbc.example.com>;tag=1928301774\r\n'
    b"t: <sip:srs@example.com>\r\n"
    b"i: a84b4c76e66710@sbc.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"m: <sip:src@[2001:db8::5]:5061;transport=tcp>;+sip.src\r\n"
    b"k: siprec,timer\r\n"
    b"c: application/sdp\r\n"
    b"l: 0\r\n"
    b"\r\n"
)
OK_200 = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK3rb9vk0048e0k4ai4ta1.1\r\n"
    b'From: "Acme SRC" <sip:src@10.0.0.2:5060>;tag=b6bc1ef5a1b7c10e\r\n'
    b"To: <sip:srs@10.0.0.1:5060>;tag=8321234356\r\n"
    b"Call-ID: 7a1c0e3f58b1d2c4a9e7f6b5d4c3b2a1@10.0.0.2\r\n"
    b"CSeq: 2 BYE\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)


def test_acme_siprec_invite() -> None:
    message = parse_message(ACME_INVITE)
    assert isinstance(message, SipRequest)
    assert (message.method, message.uri) == ("INVITE", "sip:srs@10.0.0.1:5060")
    assert message.call_id == "7a1c0e3f58b1d2c4a9e7f6b5d4c3b2a1@10.0.0.2"
    assert message.cseq == (1, "INVITE")
    assert (message.from_tag, message.to_tag) == ("b6bc1ef5a1b7c10e", None)
    assert message.branch == "z9hG4bK3rb9vk0048e0k4ai4ta1.1"
    assert message.headers.get_all("via")[1].endswith("received=10.0.0.9;rport=5060")
    assert message.headers.get_all("Require") == ["siprec"]
    assert message.headers.get_all("Supported") == ["timer", "replaces", "100rel"]
    assert len(message.headers.get_all("Allow")) == 8
    assert message.headers.get("content-type") == "multipart/mixed;boundary=unique-boundary-1"
    assert message.body == MULTIPART
    contact = parse_name_addr(message.headers.get("Contact") or "")
    assert contact == NameAddr("", "sip:srs@10.0.0.1:5060", {"+sip.src": ""})
    sdp_part = MULTIPART.split(b"\r\n\r\n", 1)[1].split(b"\r\n--unique-boundary-1", 1)[0]
    assert [media.label for media in parse_sdp(sdp_part).media] == ["1", "2"]


def test_compact_forms_are_expanded() -> None:
    message = parse_message(COMPACT_INVITE)
    assert message.call_id == "a84b4c76e66710@sbc.example.com"
    assert message.from_tag == "1928301774"
    assert message.headers.get("Contact") == "<sip:src@[2001:db8::5]:5061;transport=tcp>;+sip.src"
    assert message.headers.get_all("Supported") == ["siprec", "timer"]
    assert message.headers.get("Content-Type") == "application/sdp"
    assert "Content-Length" not in message.headers  # consumed: the body is the truth
    assert message.body == b""
    via = parse_via(message.headers.get_all("Via")[0])
    assert via == Via("TCP", "2001:db8::5", 5061, {"branch": "z9hG4bK776asdhds"})
    assert [name for name, _ in message.headers.items()][:5] == ["Via", "From", "To", "Call-ID", "CSeq"]


def test_response_parses() -> None:
    message = parse_message(OK_200)
    assert isinstance(message, SipResponse)
    assert (message.status, message.reason, message.to_tag, message.cseq) == (200, "OK", "8321234356", (2, "BYE"))


def test_reason_phrase_may_have_spaces_or_be_empty() -> None:
    spaced = parse_message(OK_200.replace(b"200 OK", b"481 Call/Transaction Does Not Exist"))
    empty = parse_message(OK_200.replace(b"200 OK", b"200 "))
    assert isinstance(spaced, SipResponse) and isinstance(empty, SipResponse)
    assert (spaced.reason, empty.reason) == ("Call/Transaction Does Not Exist", "")


def test_folded_headers_are_unfolded() -> None:
    data = COMPACT_INVITE.replace(
        b"l: 0\r\n", b"Subject: I know you're there,\r\n   pull up the phone\r\n\tand talk\r\nl: 0\r\n"
    )
    message = parse_message(data)
    assert message.headers.get("Subject") == "I know you're there, pull up the phone and talk"


def test_leniency_of_rfc3261_section_7() -> None:
    data = b"\r\n\r\n" + COMPACT_INVITE.replace(b"CSeq: ", b"cseq  :   ").replace(b"\r\n", b"\n")
    message = parse_message(data)
    assert message.cseq == (314159, "INVITE")
    assert message.headers.items()[4] == ("CSeq", "314159 INVITE")


def test_body_is_content_length_bytes_or_rest_of_datagram() -> None:
    with_length = COMPACT_INVITE.replace(b"l: 0", b"l: 4") + b"abcdEXTRA"
    assert parse_message(with_length).body == b"abcd"
    without = COMPACT_INVITE.replace(b"l: 0\r\n", b"") + b"whole rest"
    assert parse_message(without).body == b"whole rest"


@pytest.mark.parametrize("data", [ACME_INVITE, COMPACT_INVITE, OK_200])
def test_round_trip(data: bytes) -> None:
    message = parse_message(data)
    assert parse_message(bytes(message)) == message


def test_serialization_writes_crlf_and_a_fresh_content_length() -> None:
    message = parse_message(ACME_INVITE)
    message.body = b"x"
    message.headers.add("Content-Length", "999")  # stale: ignored
    raw = bytes(message)
    assert raw.startswith(b"INVITE sip:srs@10.0.0.1:5060 SIP/2.0\r\nVia: ")
    assert raw.endswith(b"\r\nContent-Length: 1\r\n\r\nx")
    assert b"999" not in raw and b"\n" not in raw.replace(b"\r\n", b"")


def test_headers_multidict() -> None:
    headers = Headers([("v", "SIP/2.0/UDP a;branch=z9hG4bK1"), ("Accept", 'application/sdp, text/x;q="a,b"')])
    headers.add("VIA", "SIP/2.0/UDP b;branch=z9hG4bK2, SIP/2.0/UDP c")
    headers.add("Route", '<sip:p1;lr>, "Proxy, Two" <sip:p2;lr>')
    headers.add("X-Genesys-CallUUID", "abc")
    assert headers.get_all("Via") == ["SIP/2.0/UDP a;branch=z9hG4bK1", "SIP/2.0/UDP b;branch=z9hG4bK2", "SIP/2.0/UDP c"]
    assert headers.get_all("accept") == ["application/sdp", 'text/x;q="a,b"']
    assert headers.get_all("Route") == ["<sip:p1;lr>", '"Proxy, Two" <sip:p2;lr>']
    assert headers.get("x-genesys-calluuid") == "abc" and headers.get("Missing", "none") == "none"
    assert [name for name, _ in headers.items()] == ["Via", "Accept", "Via", "Route", "X-Genesys-CallUUID"]
    copy = headers.copy()
    headers.set("via", "SIP/2.0/TLS d")
    assert headers.items()[0] == ("Via", "SIP/2.0/TLS d") and len(headers) == 4
    headers.remove("ROUTE")
    assert "Route" not in headers and "route" in copy and "v" in copy
    with pytest.raises(ValueError, match="line break"):
        headers.add("Subject", "a\r\nInjected: yes")
    with pytest.raises(ValueError, match="header name"):
        headers.add("Bad Name", "x")


def test_parse_name_addr_forms() -> None:
    assert parse_name_addr('"Bob \\"B\\"" <sip:bob@x>;tag=1') == NameAddr('Bob "B"', "sip:bob@x", {"tag": "1"})
    assert parse_name_addr("<sip:a@b;transport=tcp>;expires=3") == NameAddr(
        "", "sip:a@b;transport=tcp", {"expires": "3"}
    )
    assert parse_name_addr("sip:a@b;tag=1") == NameAddr("", "sip:a@b", {"tag": "1"})
    assert parse_name_addr("Anonymous <sip:anonymous@anonymous.invalid>;TAG=x").tag == "x"
    instance = parse_name_addr('<sip:a@b>;+sip.instance="<urn:uuid:1;a>";reg-id=1')
    assert instance.params == {"+sip.instance": '"<urn:uuid:1;a>"', "reg-id": "1"}
    assert str(parse_name_addr('"A" <sip:a@b>;tag=1')) == '"A" <sip:a@b>;tag=1'


@pytest.mark.parametrize(
    "value",
    [
        '"unterminated <sip:a@b>',
        '"Bob" sip:a@b',
        "<sip:a@b",
        "",
        "<>",
        "<sip:a@b> junk",
        "<sip:a@b>;=x",
        '<sip:a@b>;x="open',
        "<sip:a@b>;x=<open",
        'sip:a@b;x="open',
    ],
)
def test_parse_name_addr_refuses(value: str) -> None:
    with pytest.raises(SipError) as caught:
        parse_name_addr(value)
    assert caught.value.status == 400


def test_parse_via_forms() -> None:
    assert parse_via("SIP/2.0/UDP [::1]:5060;branch=z9hG4bKa;rport") == Via(
        "UDP", "::1", 5060, {"branch": "z9hG4bKa", "rport": ""}
    )
    assert parse_via("SIP / 2.0 / tcp host.example.com : 5070 ;received=1.2.3.4") == Via(
        "TCP", "host.example.com", 5070, {"received": "1.2.3.4"}
    )
    via = parse_via("SIP/2.0/TLS [2001:db8::1];branch=z9hG4bKb")
    assert (via.port, via.branch, str(via)) == (None, "z9hG4bKb", "SIP/2.0/TLS [2001:db8::1];branch=z9hG4bKb")


@pytest.mark.parametrize(
    "value",
    [
        "SIP/3.0/UDP a",
        "SIP/2.0/UDP",
        "SIP/2.0 UDP a",
        "SIP/2.0/UDP a:99999",
        "SIP/2.0/UDP [::1",
        "SIP/2.0/UDP a b",
        'SIP/2.0/UDP a;x="open;branch=z9hG4bK1',
        "SIP/2.0/UDP a;x=<open;branch=z9hG4bK1",
    ],
)
def test_parse_via_refuses(value: str) -> None:
    with pytest.raises(SipError) as caught:
        parse_via(value)
    assert caught.value.status == 400


def test_make_response_copies_what_rfc3261_8_2_6_says() -> None:
    request = parse_message(ACME_INVITE.replace(b"Max-Forwards", b"Timestamp: 54\r\nMax-Forwards"))
    assert isinstance(request, SipRequest)
    response = make_response(request, 200, to_tag="srs1", headers=[("Contact", "<sip:srs@10.0.0.1>")], body=b"v=0")
    assert response.reason == "OK"
    assert [name for name, _ in response.headers.items()] == ["Via", "Via", "From", "To", "Call-ID", "CSeq", "Contact"]
    assert response.headers.get_all("Via") == request.headers.get_all("Via")
    assert response.headers.get("To") == "<sip:srs@10.0.0.1:5060>;tag=srs1"
    assert (response.call_id, response.cseq, response.branch) == (request.call_id, request.cseq, request.branch)
    assert parse_message(bytes(response)) == response
    trying = make_response(request, 100)
    assert (trying.reason, trying.to_tag, trying.headers.get("Timestamp")) == ("Trying", None, "54")
    assert make_response(request, 488).reason == "Not Acceptable Here"
    assert make_response(request, 499).reason == "Client Error"
    assert make_response(request, 403, "Recording Refused").reason == "Recording Refused"


def test_make_response_keeps_an_existing_to_tag() -> None:
    request = parse_message(ACME_INVITE.replace(b"To: <sip:srs@10.0.0.1:5060>", b"To: <sip:srs@10.0.0.1>;tag=old"))
    assert isinstance(request, SipRequest)
    assert make_response(request, 200, to_tag="new").to_tag == "old"
    with pytest.raises(ValueError):
        make_response(request, 700)


@pytest.mark.parametrize("params", ['x="open', "x=<open", 'x="a\\"'])
def test_to_with_an_unclosed_parameter_is_refused(params: str) -> None:
    # Accepted, it hid the tag make_response appends: `<sip:srs@10.0.0.1:5060>;x="open;tag=srs1` has no tag.
    to = b"To: <sip:srs@10.0.0.1:5060>"
    error = _error(ACME_INVITE.replace(to, to + f";{params}".encode()))
    assert error.status == 400 and "unterminated" in error.reason
    closed = parse_message(ACME_INVITE.replace(to, to + b';x="<;"'))
    assert isinstance(closed, SipRequest) and make_response(closed, 200, to_tag="srs1").to_tag == "srs1"


def test_generated_tags_and_branches_are_random() -> None:
    assert generate_branch().startswith("z9hG4bK") and generate_branch() != generate_branch()
    assert len(generate_tag()) >= 8 and generate_tag() != generate_tag()


def _error(data: bytes, **kwargs: int) -> SipError:
    with pytest.raises(SipError) as caught:
        parse_message(data, **kwargs)
    return caught.value


@pytest.mark.parametrize(
    ("data", "status", "reason"),
    [
        (b"", 400, "empty"),
        (b"\r\n\r\n", 400, "empty"),
        (COMPACT_INVITE.replace(b"\r\n\r\n", b"\r\n"), 400, "no empty line"),
        (COMPACT_INVITE.replace(b"INVITE sip:srs@example.com SIP/2.0", b"INVITE sip:srs@example.com"), 400, "request"),
        (COMPACT_INVITE.replace(b"INVITE sip:", b"INVITE  sip:"), 400, "request line"),
        (COMPACT_INVITE.replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1), 505, "SIP/2.0"),
        (COMPACT_INVITE.replace(b"SIP/2.0\r\n", b"HTTP/1.1\r\n", 1), 400, "version"),
        (OK_200.replace(b"SIP/2.0 200", b"SIP/3.0 200"), 505, "SIP/2.0"),
        (OK_200.replace(b"200 OK", b"2000 OK"), 400, "status"),
        (OK_200.replace(b"200 OK", b"099 OK"), 400, "status"),
        (COMPACT_INVITE.replace(b"i: a84b", b"i a84b"), 400, "without colon"),
        (COMPACT_INVITE.replace(b"i: a84b", b"i d: a84b"), 400, "header name"),
        (COMPACT_INVITE.replace(b"INVITE sip:srs@example.com SIP/2.0\r\n", b"INVITE sip:x SIP/2.0\r\n x\r\n"), 400, ""),
        (COMPACT_INVITE.replace(b"l: 0", b"l: 10"), 400, "truncated body"),
        (COMPACT_INVITE.replace(b"l: 0", b"l: 70000"), 413, "Content-Length"),
        (COMPACT_INVITE.replace(b"l: 0", b"l: -1"), 400, "Content-Length"),
        (COMPACT_INVITE.replace(b"l: 0", b"l: 0\r\nContent-Length: 1"), 400, "conflicting"),
        (COMPACT_INVITE.replace(b"CSeq: 314159 INVITE", b"CSeq: 314159 ACK"), 400, "does not match"),
        (COMPACT_INVITE.replace(b"CSeq: 314159 INVITE", b"CSeq: INVITE"), 400, "CSeq"),
        (COMPACT_INVITE.replace(b"CSeq: 314159 INVITE", b"CSeq: 4294967296 INVITE"), 400, "CSeq"),
        (COMPACT_INVITE.replace(b"i: a84b", b"i: a84b\r\nCall-ID: other"), 400, "more than one Call-ID"),
        (COMPACT_INVITE.replace(b"i: a84b4c76e66710@sbc.example.com", b"i: "), 400, "empty Call-ID"),
        (COMPACT_INVITE.replace(b"sbc.example.com>", "sbc.exämple.com>".encode("latin-1")), 400, "UTF-8"),
        (COMPACT_INVITE.replace(b"l: 0", b"Max-Forwards: 256\r\nl: 0"), 400, "Max-Forwards"),
        (COMPACT_INVITE.replace(b"l: 0", b"X-A: a\rb\r\nl: 0"), 400, "bare CR"),
        (COMPACT_INVITE.replace(b"[2001:db8::5]:5061", b"[2001:db8::5]:0"), 400, "port"),
        (COMPACT_INVITE.replace(b'"SBC Recorder" <sip:src@sbc.example.com>', b"<sip:src@sbc"), 400, "closing"),
        (COMPACT_INVITE.replace(b"f: ", b"f: <sip:x"), 400, "invalid one"),
    ],
)
def test_parse_errors(data: bytes, status: int, reason: str) -> None:
    error = _error(data)
    assert error.status == status
    assert reason in error.reason and str(error) == error.reason


@pytest.mark.parametrize("header", [b"v: ", b"f: ", b"t: ", b"i: ", b"CSeq: "])
def test_mandatory_headers(header: bytes) -> None:
    lines = [line for line in COMPACT_INVITE.split(b"\r\n") if not line.startswith(header)]
    error = _error(b"\r\n".join(lines))
    assert (error.status, error.reason.startswith("SIP message is missing the")) == (400, True)


def test_max_forwards_is_not_mandatory_and_size_is_limited() -> None:
    assert "Max-Forwards" not in parse_message(COMPACT_INVITE).headers
    assert _error(ACME_INVITE, max_size=len(ACME_INVITE) - 1).status == 413
    big = COMPACT_INVITE.replace(b"l: 0", b"l: 600") + bytes(600)
    assert _error(big, max_size=700).status == 413
    assert is_keepalive(b"\r\n\r\n") and not is_keepalive(COMPACT_INVITE)


def test_framer_two_messages_in_one_chunk() -> None:
    framer = StreamFramer()
    assert framer.feed(b"\r\n\r\n" + ACME_INVITE + OK_200) == [ACME_INVITE, OK_200]
    assert framer.take_keepalives() == 1 and framer.take_keepalives() == 0


def test_framer_message_split_over_three_chunks_with_keepalives() -> None:
    framer = StreamFramer()
    head = ACME_INVITE.index(b"\r\n\r\n")
    chunks = [b"\r\n\r\n\r\n" + ACME_INVITE[:100], ACME_INVITE[100 : head + 2], ACME_INVITE[head + 2 : -5]]
    assert [framer.feed(chunk) for chunk in chunks] == [[], [], []]
    assert framer.feed(ACME_INVITE[-5:] + b"\r\n") == [ACME_INVITE]
    assert framer.feed(b"\r\n" + COMPACT_INVITE[:1]) == []
    assert framer.feed(COMPACT_INVITE[1:]) == [COMPACT_INVITE]
    assert framer.take_keepalives() == 2 and not framer.broken
    (raw,) = framer.feed(OK_200)
    assert isinstance(raw, bytes) and parse_message(raw).call_id == parse_message(OK_200).call_id


def test_framer_byte_by_byte() -> None:
    framer = StreamFramer()
    stream = ACME_INVITE + b"\r\n\r\n" + OK_200
    out = [item for byte in stream for item in framer.feed(bytes([byte]))]
    assert out == [ACME_INVITE, OK_200] and framer.take_keepalives() == 1


def _broken(framer: StreamFramer, data: bytes) -> SipError:
    *messages, error = framer.feed(data)
    assert framer.broken and isinstance(error, SipError)
    assert all(isinstance(message, bytes) for message in messages)
    assert framer.feed(OK_200) == []  # stops accepting
    return error


def test_framer_requires_content_length() -> None:
    framer = StreamFramer()
    assert framer.feed(OK_200) == [OK_200]
    error = _broken(framer, OK_200 + COMPACT_INVITE.replace(b"l: 0\r\n", b""))
    assert error.status == 400 and "Content-Length" in error.reason


def test_framer_refuses_oversize_headers_and_bodies() -> None:
    assert _broken(StreamFramer(), b"INVITE sip:a SIP/2.0\r\n" + b"X: y\r\n" * 3000).status == 413
    assert _broken(StreamFramer(max_size=1000), COMPACT_INVITE.replace(b"l: 0", b"l: 1001")).status == 413
    assert _broken(StreamFramer(), COMPACT_INVITE.replace(b"l: 0", b"l: x")).status == 400
    assert _broken(StreamFramer(), COMPACT_INVITE.replace(b"l: 0", b"l: 0\r\nl: 2")).status == 400

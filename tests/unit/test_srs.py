"""The SIPREC recording server core: an SBC's requests as bytes in, responses and recording events out."""

from __future__ import annotations

import itertools
from typing import TypeVar

import pytest

from mediagw.ingress.siprec.sdp import parse_sdp
from mediagw.ingress.siprec.sip import SipRequest, SipResponse, make_response, parse_message
from mediagw.ingress.siprec.srs import (
    Action,
    Peer,
    RecordingEnded,
    RecordingServer,
    RecordingStarted,
    RecordingUpdated,
    Send,
    SrsOptions,
)

SBC = ("10.0.0.2", 5060)
UDP = Peer(SBC, "udp")
TCP = Peer(SBC, "tcp", connection=1)
BOUNDARY = "OSS-unique-boundary-42"
RTPMAP = {0: "PCMU/8000", 8: "PCMA/8000", 9: "G722/8000", 18: "G729/8000", 101: "telephone-event/8000"}
METADATA = """<?xml version="1.0" encoding="UTF-8"?>
<recording xmlns="urn:ietf:params:xml:ns:recording:1">
  <datamode>complete</datamode>
  <session session_id="hVpd7YQgRW2nD22h7q60JQ=="/>
  <participant participant_id="srfBElmCRp2QB23b7Mpk0w==">
    <nameID aor="sip:+15551230001@example.com"><name>Customer</name></nameID>
  </participant>
  <participant participant_id="zSfPoSvdSDCmU3A3TRDxAw==">
    <nameID aor="sip:agent42@example.com"><name>Agent</name></nameID>
  </participant>
  <stream stream_id="UAAMm5GRQKSCMVvLyl4rFw==" session_id="hVpd7YQgRW2nD22h7q60JQ=="><label>1</label></stream>
  <stream stream_id="i1Pz3to5hGk8fuXl+PbwCw==" session_id="hVpd7YQgRW2nD22h7q60JQ=="><label>2</label></stream>
  <participantstreamassoc participant_id="srfBElmCRp2QB23b7Mpk0w==">
    <send>UAAMm5GRQKSCMVvLyl4rFw==</send>
  </participantstreamassoc>
  <participantstreamassoc participant_id="zSfPoSvdSDCmU3A3TRDxAw==">
    <send>i1Pz3to5hGk8fuXl+PbwCw==</send>
  </participantstreamassoc>
</recording>
"""
LOL = "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10))
BILLION_LAUGHS = f"""<?xml version="1.0"?>
<!DOCTYPE recording [<!ENTITY lol0 "lol">{LOL}]>
<recording xmlns="urn:ietf:params:xml:ns:recording:1"><datamode>&lol9;</datamode></recording>
"""
_numbers = itertools.count(1)
_A = TypeVar("_A")


# ---- builders: what an SBC sends


def media(port: int, label: str, formats: tuple[int, ...] = (8, 0, 101), direction: str = "sendonly") -> str:
    lines = [f"m=audio {port} RTP/AVP {' '.join(map(str, formats))}"]
    lines += [f"a=rtpmap:{pt} {RTPMAP[pt]}" for pt in formats]
    lines += ["a=fmtp:101 0-16"] if 101 in formats else []
    lines += [f"a=label:{label}", f"a={direction}", "a=ptime:20"]
    return "".join(line + "\r\n" for line in lines)


def sdp(*streams: str, version: int = 1) -> bytes:
    streams = streams or (media(40000, "1"), media(40002, "2"))
    session = f"v=0\r\no=AcmeSBC 1718891 {version} IN IP4 10.0.0.2\r\ns=SIPREC\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
    return (session + "".join(streams)).encode()


def multipart(sdp_body: bytes, metadata: str = METADATA) -> bytes:
    return (
        f"--{BOUNDARY}\r\nContent-Type: application/sdp\r\n\r\n{sdp_body.decode()}\r\n"
        f"--{BOUNDARY}\r\nContent-Type: application/rs-metadata+xml\r\nContent-Disposition: recording-session\r\n"
        f"\r\n{metadata}\r\n--{BOUNDARY}--\r\n"
    ).encode()


SIPREC_BODY = f"multipart/mixed;boundary={BOUNDARY}", multipart(sdp())


class Src:
    """One recording session as an SBC runs it: its requests built as bytes and parsed like the transport does."""

    def __init__(self, transport: str = "UDP") -> None:
        self.transport = transport
        self.call_id = f"{next(_numbers)}-a84b4c76e66710@10.0.0.2"
        self.cseq = 0
        self.to_tag: str | None = None  # the SRS's, once a 2xx set up the dialog

    def request(
        self,
        method: str,
        *headers: str,
        body: tuple[str, bytes] | None = None,
        cseq: int | None = None,
        branch: str | None = None,
        to_tag: str | None = None,
    ) -> SipRequest:
        if cseq is None:
            self.cseq = cseq = self.cseq + 1
        to_tag = to_tag or self.to_tag
        lines = [
            f"{method} sip:srs@10.0.0.1:5060 SIP/2.0",
            f"Via: SIP/2.0/{self.transport} 10.0.0.2:5060;branch={branch or f'z9hG4bK{next(_numbers):06x}'};rport",
            "Max-Forwards: 70",
            'From: "Acme SRC" <sip:src@10.0.0.2:5060>;tag=b6bc1ef5',
            "To: <sip:srs@10.0.0.1:5060>" + (f";tag={to_tag}" if to_tag else ""),
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq} {method}",
            "Contact: <sip:src@10.0.0.2:5060>;+sip.src",
            "User-Agent: Acme Packet SBC",
            *headers,
        ]
        if body is not None:
            lines.append(f"Content-Type: {body[0]}")
        raw = ("\r\n".join(lines) + f"\r\nContent-Length: {len(body[1]) if body else 0}\r\n\r\n").encode()
        message = parse_message(raw + (body[1] if body else b""))
        assert isinstance(message, SipRequest)
        return message

    def invite(self, *headers: str, body: tuple[str, bytes] | None = SIPREC_BODY) -> SipRequest:
        """A SIPREC INVITE; in a dialog (after `start`) a re-INVITE."""
        extra = () if self.to_tag else ("Require: siprec", "Supported: timer, replaces")
        return self.request("INVITE", *extra, *headers, body=body)

    def ack(self, response: SipResponse) -> SipRequest:
        """ACK of a 2xx: a new transaction; of a non-2xx: the INVITE's branch (RFC 3261 §17.1.1.3)."""
        branch = None if response.status < 300 else response.branch
        return self.request("ACK", cseq=response.cseq[0], branch=branch, to_tag=response.to_tag)


class Ports:
    """The RTP port allocator: hands out even ports from a list, records what comes back."""

    def __init__(self, count: int = 50) -> None:
        self.free = list(range(30000, 30000 + 2 * count, 2))
        self.taken: list[int] = []
        self.released: list[int] = []

    def allocate(self, _index: int) -> int | None:
        if not self.free:
            return None
        self.taken.append(self.free.pop(0))
        return self.taken[-1]

    def release(self, port: int) -> None:
        self.released.append(port)


def server(ports: Ports, max_recordings: int = 2000) -> RecordingServer:
    options = SrsOptions("10.0.0.1", 5060, max_recordings=max_recordings)
    return RecordingServer(options, ports.allocate, ports.release)


@pytest.fixture
def ports() -> Ports:
    return Ports()


@pytest.fixture
def srs(ports: Ports) -> RecordingServer:
    return server(ports)


# ---- reading what comes out


def sent(actions: list[Action]) -> list[SipRequest | SipResponse]:
    """The messages sent, as the SBC reads them: serialized and parsed again."""
    return [parse_message(bytes(action.message)) for action in actions if isinstance(action, Send)]


def wire(actions: list[Action]) -> list[bytes]:
    return [bytes(action.message) for action in actions if isinstance(action, Send)]


def responses(actions: list[Action]) -> list[SipResponse]:
    return [message for message in sent(actions) if isinstance(message, SipResponse)]


def final(actions: list[Action]) -> SipResponse:
    (response,) = [r for r in responses(actions) if r.status >= 200]
    return response


def events(actions: list[Action], kind: type[_A]) -> list[_A]:
    return [action for action in actions if isinstance(action, kind)]


def start(srs: RecordingServer, src: Src, *headers: str, peer: Peer = UDP, now: float = 0.0) -> SipResponse:
    """An INVITE answered 200 and ACKed: the dialog is up."""
    ok = final(srs.receive(src.invite(*headers), peer, now))
    assert ok.status == 200
    src.to_tag = ok.to_tag
    assert srs.receive(src.ack(ok), peer, now + 0.05) == []
    return ok


def run_until(srs: RecordingServer, end: float) -> list[tuple[float, Action]]:
    """tick at every deadline up to `end`: what happened when."""
    out: list[tuple[float, Action]] = []
    while (at := srs.next_deadline()) is not None and at <= end:
        out += [(at, action) for action in srs.tick(at)]
    return out


def answered_media(response: SipResponse) -> list[tuple[int, list[str], str, str | None]]:
    """(port, formats, direction, label) per m-line of the SDP answer."""
    return [(m.port, m.formats, m.direction, m.label) for m in parse_sdp(response.body).media]


# ---- the initial INVITE


def test_a_siprec_invite_over_udp_gets_100_then_200_with_a_recvonly_answer(srs: RecordingServer) -> None:
    actions = srs.receive(Src().invite(), UDP, 0.0)
    trying, ok = responses(actions)
    assert (trying.status, ok.status) == (100, 200)
    assert ok.to_tag and ok.headers.get("Content-Type") == "application/sdp"
    assert "siprec" in ok.headers.get_all("Supported") and ok.headers.get("Contact") == "<sip:srs@10.0.0.1:5060>"
    answer = parse_sdp(ok.body)
    assert answer.connection == "10.0.0.1"
    # PCMA: the SBC's first choice among ours, telephone-event kept; ports from the allocator, labels echoed
    assert answered_media(ok) == [(30000, ["8", "101"], "recvonly", "1"), (30002, ["8", "101"], "recvonly", "2")]
    assert [c.name for c in answer.media[0].codecs()] == ["PCMA", "telephone-event"]
    (started,) = events(actions, RecordingStarted)
    assert [p.port for p in started.recording.plans] == [30000, 30002]
    assert started.recording.metadata is not None and len(started.recording.metadata.participants) == 2


def test_over_tcp_there_is_no_100_and_no_retransmission(srs: RecordingServer) -> None:
    actions = srs.receive(Src("TCP").invite(), TCP, 0.0)
    assert [r.status for r in responses(actions)] == [200]
    assert final(actions).headers.get("Contact") == "<sip:srs@10.0.0.1:5060;transport=tcp>"
    assert events([a for _, a in run_until(srs, 31.9)], Send) == []


def test_a_plain_sdp_invite_is_accepted(srs: RecordingServer) -> None:
    actions = srs.receive(Src().request("INVITE", body=("application/sdp", sdp())), UDP, 0.0)
    assert final(actions).status == 200
    (started,) = events(actions, RecordingStarted)
    assert started.recording.metadata is None


def test_a_retransmitted_invite_gets_the_same_200_and_starts_nothing(srs: RecordingServer) -> None:
    invite = Src().invite()
    first = srs.receive(invite, UDP, 0.0)
    again = srs.receive(invite, UDP, 0.3)
    assert wire(again) == wire(first)[1:] and events(again, RecordingStarted) == []  # the 200, not the 100
    assert srs.counters["retransmissions"] == 1


def test_the_200_is_retransmitted_doubling_to_t2_until_the_ack(srs: RecordingServer) -> None:
    src = Src()
    actions = srs.receive(src.invite(), UDP, 0.0)
    before = run_until(srs, 13.0)
    assert [at for at, _ in before] == [0.5, 1.5, 3.5, 7.5, 11.5]
    assert wire([action for _, action in before]) == wire(actions)[1:] * 5
    ok = final(actions)
    srs.receive(src.ack(ok), UDP, 13.0)
    assert run_until(srs, 100.0) == [] and len(srs.recordings) == 1


def test_no_ack_within_32_s_sends_bye_and_ends_the_recording(srs: RecordingServer, ports: Ports) -> None:
    ok = final(srs.receive(Src().invite(), UDP, 0.0))
    timeline = run_until(srs, 32.0)
    assert [at for at, a in timeline if isinstance(a, Send)][-3:] == [27.5, 31.5, 32.0]
    bye = sent([timeline[-2][1]])[0]
    assert isinstance(bye, SipRequest) and bye.method == "BYE" and bye.uri == "sip:src@10.0.0.2:5060"
    assert (bye.from_tag, bye.to_tag, bye.call_id) == (ok.to_tag, ok.from_tag, ok.call_id)
    assert [e.reason for _, e in timeline if isinstance(e, RecordingEnded)] == ["no ack"]
    assert sorted(ports.released) == [30000, 30002] and srs.recordings == {}
    assert [at for at, _ in run_until(srs, 34.0)] == [32.5, 33.5]  # the BYE, retransmitted over UDP


def test_the_bye_we_send_is_retransmitted_until_its_final_response(srs: RecordingServer) -> None:
    start(srs, Src())
    (bye,) = sent(srs.end_all(1.0))
    assert [at for at, _ in run_until(srs, 2.0)] == [1.5]
    assert isinstance(bye, SipRequest)
    assert srs.receive(parse_message(bytes(make_response(bye, 200))), UDP, 2.1) == []
    assert run_until(srs, 100.0) == []


# ---- refusals


@pytest.mark.parametrize(
    ("request_", "status", "header"),
    [
        (Src().invite("Require: foo"), 420, ("Unsupported", "foo")),
        (Src().request("INVITE", body=("text/plain", b"hello")), 415, ("Accept", "application/sdp")),
        (Src().invite(body=("application/sdp", sdp(media(40000, "1", (9, 101))))), 488, None),
        (Src().invite(body=("application/sdp", b"v=0\r\nthis is not SDP\r\n")), 400, None),
        (Src().invite(body=(SIPREC_BODY[0], multipart(sdp(), BILLION_LAUGHS))), 400, None),
        (Src().invite("Session-Expires: 60"), 422, ("Min-SE", "90")),
        (Src().request("MESSAGE", body=("text/plain", b"hi")), 405, ("Allow", "INVITE")),
        (Src().request("BYE", to_tag="nosuchdialog"), 481, None),
        (Src().request("CANCEL"), 481, None),
    ],
    ids=[
        "require-foo",
        "text-plain",
        "only-g722",
        "garbage-sdp",
        "billion-laughs",
        "se-60",
        "message",
        "bye",
        "cancel",
    ],
)
def test_requests_that_cannot_be_taken_are_refused(
    srs: RecordingServer, ports: Ports, request_: SipRequest, status: int, header: tuple[str, str] | None
) -> None:
    actions = srs.receive(request_, UDP, 0.0)
    response = final(actions)
    assert response.status == status and response.to_tag
    if header is not None:
        assert header[1] in (response.headers.get(header[0]) or "")
    assert events(actions, RecordingStarted) == [] and sorted(ports.taken) == sorted(ports.released)


def test_the_ack_of_a_non_2xx_response_stops_its_retransmission(srs: RecordingServer) -> None:
    src = Src()
    refused = final(srs.receive(src.invite("Require: foo"), UDP, 0.0))
    assert [at for at, _ in run_until(srs, 1.0)] == [0.5]
    srs.receive(src.ack(refused), UDP, 1.0)
    assert run_until(srs, 100.0) == []


def test_max_recordings_reached_is_503(ports: Ports) -> None:
    srs = server(ports, max_recordings=1)
    start(srs, Src())
    response = final(srs.receive(Src().invite(), UDP, 1.0))
    assert response.status == 503 and response.headers.get("Retry-After")


def test_no_rtp_port_free_is_503_and_leaks_nothing() -> None:
    ports = Ports(count=1)  # the first stream gets a port, the second none
    srs = server(ports)
    actions = srs.receive(Src().invite(), UDP, 0.0)
    assert final(actions).status == 503 and events(actions, RecordingStarted) == []
    assert ports.taken == ports.released == [30000]


def test_options_answers_with_what_the_srs_can_do(srs: RecordingServer) -> None:
    response = final(srs.receive(Src().request("OPTIONS"), UDP, 0.0))
    assert response.status == 200 and response.to_tag
    assert "UPDATE" in response.headers.get_all("Allow") and "siprec" in response.headers.get_all("Supported")
    assert "application/rs-metadata+xml" in response.headers.get_all("Accept")


# ---- in the dialog


def test_bye_ends_the_recording_and_releases_its_ports(srs: RecordingServer, ports: Ports) -> None:
    src = Src()
    start(srs, src)
    bye = src.request("BYE")
    actions = srs.receive(bye, UDP, 5.0)
    assert final(actions).status == 200 and [e.reason for e in events(actions, RecordingEnded)] == ["bye"]
    assert sorted(ports.released) == [30000, 30002]
    again = srs.receive(bye, UDP, 5.5)
    assert wire(again) == wire(actions) and events(again, RecordingEnded) == []


def test_a_reinvite_to_hold_answers_inactive_on_the_same_ports(srs: RecordingServer) -> None:
    src = Src()
    start(srs, src)
    held = sdp(media(40000, "1", direction="inactive"), media(40002, "2", direction="inactive"), version=2)
    actions = srs.receive(src.invite(body=(SIPREC_BODY[0], multipart(held))), UDP, 10.0)
    ok = final(actions)
    assert [(port, direction) for port, _, direction, _ in answered_media(ok)] == [
        (30000, "inactive"),
        (30002, "inactive"),
    ]
    assert parse_sdp(ok.body).origin.session_version == 1
    (updated,) = events(actions, RecordingUpdated)
    assert updated.released_ports == () and [p.direction for p in updated.recording.plans] == ["inactive"] * 2


def test_a_reinvite_that_drops_a_stream_releases_its_port(srs: RecordingServer, ports: Ports) -> None:
    src = Src()
    start(srs, src)
    body = ("application/sdp", sdp(media(40000, "1"), media(0, "2"), version=2))
    actions = srs.receive(src.invite(body=body), UDP, 10.0)
    assert [port for port, *_ in answered_media(final(actions))] == [30000, 0]
    assert events(actions, RecordingUpdated)[0].released_ports == (30002,) and ports.released == [30002]


@pytest.mark.parametrize("method", ["INVITE", "UPDATE"])
def test_a_refresh_without_an_offer_repeats_the_last_answer(srs: RecordingServer, method: str) -> None:
    src = Src()
    first = start(srs, src)
    actions = srs.receive(src.request(method), UDP, 10.0)
    ok = final(actions)
    # an offerless re-INVITE gets our SDP as its offer again; an UPDATE without an offer gets no SDP (RFC 3311)
    assert ok.status == 200 and ok.body == (first.body if method == "INVITE" else b"")
    assert events(actions, RecordingUpdated) == []


def test_an_update_with_an_offer_updates_the_recording(srs: RecordingServer) -> None:
    src = Src()
    start(srs, src)
    body = ("application/sdp", sdp(media(40004, "1", (0,)), media(40006, "2", (0,)), version=2))
    actions = srs.receive(src.request("UPDATE", body=body), UDP, 10.0)
    assert [formats for _, formats, _, _ in answered_media(final(actions))] == [["0"], ["0"]]
    assert events(actions, RecordingUpdated)[0].recording.plans[0].remote == ("10.0.0.2", 40004)


def test_an_in_dialog_request_with_a_lower_cseq_is_500(srs: RecordingServer) -> None:
    src = Src()
    start(srs, src)
    srs.receive(src.request("INFO"), UDP, 1.0)
    assert final(srs.receive(src.request("INFO", cseq=1), UDP, 2.0)).status == 500


def test_info_in_the_dialog_is_200(srs: RecordingServer) -> None:
    src = Src()
    start(srs, src)
    body = ("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n")
    assert final(srs.receive(src.request("INFO", body=body), UDP, 1.0)).status == 200


def test_cancel_after_the_200_is_200_and_changes_nothing(srs: RecordingServer) -> None:
    src = Src()
    invite = src.invite()
    ok = final(srs.receive(invite, UDP, 0.0))
    cancel = src.request("CANCEL", cseq=invite.cseq[0], branch=invite.branch)
    actions = srs.receive(cancel, UDP, 0.1)
    assert final(actions).status == 200 and final(actions).to_tag == ok.to_tag
    assert events(actions, RecordingEnded) == [] and len(srs.recordings) == 1


# ---- session timers (RFC 4028)


def test_a_session_timer_is_accepted_and_ends_an_unrefreshed_session(srs: RecordingServer) -> None:
    ok = start(srs, Src(), "Session-Expires: 120;refresher=uac")
    assert ok.headers.get("Session-Expires") == "120;refresher=uac" and "timer" in ok.headers.get_all("Require")
    timeline = run_until(srs, 88.0)
    assert [at for at, _ in timeline] == [88.0, 88.0]  # 120 - min(32, 120 / 3)
    bye = sent([timeline[0][1]])[0]
    assert isinstance(bye, SipRequest) and bye.method == "BYE" and "408" in (bye.headers.get("Reason") or "")
    assert [e.reason for _, e in timeline if isinstance(e, RecordingEnded)] == ["session timer expired"]


def test_a_refresh_postpones_the_session_timer(srs: RecordingServer) -> None:
    src = Src()
    start(srs, src, "Session-Expires: 120;refresher=uac")
    assert run_until(srs, 60.0) == []
    start(srs, src, "Session-Expires: 120;refresher=uac", now=60.0)
    assert events([a for _, a in run_until(srs, 147.0)], Send) == []
    assert [at for at, a in run_until(srs, 200.0) if isinstance(a, RecordingEnded)] == [148.0]


def test_a_refused_reinvite_does_not_refresh_the_session(srs: RecordingServer) -> None:
    src = Src()
    start(srs, src, "Session-Expires: 120;refresher=uac")
    g722 = ("application/sdp", sdp(media(40000, "1", (9,)), media(40002, "2", (9,)), version=2))
    refused = final(srs.receive(src.invite("Session-Expires: 120;refresher=uac", body=g722), UDP, 60.0))
    assert refused.status == 488
    srs.receive(src.ack(refused), UDP, 60.1)
    assert [at for at, a in run_until(srs, 200.0) if isinstance(a, RecordingEnded)] == [88.0]


def test_a_reinvite_with_a_body_of_another_type_is_415_with_accept(srs: RecordingServer) -> None:
    src = Src()
    start(srs, src)
    refused = final(srs.receive(src.invite(body=("text/plain", b"hello")), UDP, 10.0))
    assert refused.status == 415 and "application/sdp" in (refused.headers.get("Accept") or "")


def test_a_refused_reinvite_is_retransmitted_until_its_ack(srs: RecordingServer) -> None:
    src = Src()
    start(srs, src)
    refused = final(srs.receive(src.invite(body=("application/sdp", sdp(media(40000, "1", (9,))))), UDP, 10.0))
    assert refused.status == 488 and len(srs.recordings) == 1
    assert [at for at, _ in run_until(srs, 11.6)] == [10.5, 11.5]
    srs.receive(src.ack(refused), UDP, 11.6)
    assert run_until(srs, 100.0) == []


# ---- several sessions


def test_end_all_sends_a_bye_per_recording(srs: RecordingServer, ports: Ports) -> None:
    srcs = [Src(), Src()]
    for src in srcs:
        start(srs, src)
    actions = srs.end_all(5.0)
    byes = [m for m in sent(actions) if isinstance(m, SipRequest) and m.method == "BYE"]
    assert sorted(b.call_id for b in byes) == sorted(s.call_id for s in srcs)
    assert [e.reason for e in events(actions, RecordingEnded)] == ["shutdown"] * 2 and srs.recordings == {}
    assert sorted(ports.released) == sorted(ports.taken)


def test_invites_without_a_magic_cookie_branch_are_told_apart(srs: RecordingServer) -> None:
    first = final(srs.receive(Src().request("INVITE", body=SIPREC_BODY, branch="1"), UDP, 0.0))
    second = final(srs.receive(Src().request("INVITE", body=SIPREC_BODY, branch="1"), UDP, 0.1))
    assert first.call_id != second.call_id and len(srs.recordings) == 2

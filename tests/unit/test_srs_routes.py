"""Dialog details with SBCs and proxies: Record-Route is echoed and our BYE follows the route set; session timers
run only when the SRC refreshes."""

from __future__ import annotations

import pytest

from mediagw.ingress.siprec.sip import SipRequest
from mediagw.ingress.siprec.srs import RecordingServer
from tests.unit.test_srs import SIPREC_BODY, UDP, Ports, Src, final, sent, server, start

PROXIES = ("Record-Route: <sip:p2.example.com;lr>", "Record-Route: <sip:p1.example.com;lr;transport=udp>")


def bye_of(srs: RecordingServer) -> SipRequest:
    (bye,) = [m for m in sent(srs.end_all(5.0)) if isinstance(m, SipRequest) and m.method == "BYE"]
    return bye


def test_the_2xx_echoes_record_route_in_order_and_the_bye_carries_the_route_set() -> None:
    srs = server(Ports())
    ok = start(srs, Src(), *PROXIES)
    assert ok.headers.get_all("Record-Route") == ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr;transport=udp>"]
    bye = bye_of(srs)
    assert bye.uri == "sip:src@10.0.0.2:5060"  # loose routing: the remote target stays the Request-URI
    assert bye.headers.get_all("Route") == ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr;transport=udp>"]


def test_record_route_values_in_one_header_keep_their_order() -> None:
    srs = server(Ports())
    start(srs, Src(), "Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>")
    assert bye_of(srs).headers.get_all("Route") == ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"]


def test_a_strict_router_gets_the_request_uri_and_the_remote_target_goes_last() -> None:
    srs = server(Ports())
    start(srs, Src(), "Record-Route: <sip:strict.example.com>", "Record-Route: <sip:p1.example.com;lr>")
    bye = bye_of(srs)
    assert bye.uri == "sip:strict.example.com"
    assert bye.headers.get_all("Route") == ["<sip:p1.example.com;lr>", "<sip:src@10.0.0.2:5060>"]


def test_without_record_route_nothing_is_added() -> None:
    srs = server(Ports())
    ok = start(srs, Src())
    assert "Record-Route" not in ok.headers
    bye = bye_of(srs)
    assert bye.uri == "sip:src@10.0.0.2:5060" and "Route" not in bye.headers


def test_a_malformed_record_route_is_400_and_no_recording() -> None:
    srs = server(Ports())
    answer = final(srs.receive(Src().invite("Record-Route: sip:p1.example.com;lr, <sip:"), UDP, 0.0))
    assert answer.status == 400 and srs.recordings == {}


# ---- session timer negotiation (RFC 4028 §9): we never become the refresher


@pytest.mark.parametrize(
    ("headers", "timer"),
    [
        (("Session-Expires: 120;refresher=uac",), True),
        (("Session-Expires: 120",), True),  # no refresher named: the SRC, which supports timers, refreshes
        (("Session-Expires: 120;refresher=uas",), False),  # it asks us to: declined
    ],
)
def test_the_session_timer_runs_only_when_the_src_refreshes(headers: tuple[str, ...], timer: bool) -> None:
    srs = server(Ports())
    ok = start(srs, Src(), *headers)
    assert (ok.headers.get("Session-Expires") == "120;refresher=uac") is timer
    assert ("timer" in ok.headers.get_all("Require")) is timer
    (recording,) = srs.recordings.values()
    assert recording.session_expires == (120 if timer else 0)  # 0: never ended by a timer


def test_a_src_without_timer_support_gets_no_session_timer_and_no_422() -> None:
    srs = server(Ports())
    src = Src()
    invite = src.request("INVITE", "Require: siprec", "Session-Expires: 60", body=SIPREC_BODY)  # a proxy's header
    ok = final(srs.receive(invite, UDP, 0.0))
    assert ok.status == 200 and "Session-Expires" not in ok.headers and "timer" not in ok.headers.get_all("Require")

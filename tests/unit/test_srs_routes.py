"""Proxies between the SBC and the recording server: Record-Route is echoed, and our BYE follows the route set."""

from __future__ import annotations

from mediagw.ingress.siprec.sip import SipRequest
from mediagw.ingress.siprec.srs import RecordingServer
from tests.unit.test_srs import UDP, Ports, Src, final, sent, server, start

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

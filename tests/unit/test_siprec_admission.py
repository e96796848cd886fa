"""Who may hold the recording server's ports: the source allowlist (SIP 403, stateless), the per-source limit on
dialogs no ACK confirmed (503 with Retry-After, stateless), and ports given back as soon as an INVITE fails."""

from __future__ import annotations

import logging

import pytest

from mediagw.config import ConfigError, load_config
from mediagw.ingress.siprec.admission import SourceFilter, UnconfirmedDialogs, same_host
from mediagw.ingress.siprec.srs import InviteRefused, RecordingEnded, RecordingServer, SrsOptions
from mediagw.ingress.siprec.transactions import Peer
from mediagw.throttle import ThrottledLog
from tests.unit.test_srs import UDP, Ports, Src, events, final, media, responses, sdp

ELSEWHERE = Peer(("192.0.2.66", 5060), "udp")
OTHER_SBC = Peer(("10.0.0.3", 5060), "udp")


def admitting(ports: Ports, allowed: tuple[str, ...] = (), unconfirmed: int = 0) -> RecordingServer:
    options = SrsOptions("10.0.0.1", 5060, allowed_sources=allowed, max_unconfirmed_per_source=unconfirmed)
    return RecordingServer(options, ports.allocate, ports.release)


def refusals(actions: list[object]) -> list[str]:
    return [action.reason for action in actions if isinstance(action, InviteRefused)]


def test_a_source_outside_allowed_sources_gets_a_stateless_403_and_takes_no_port() -> None:
    ports = Ports()
    srs = admitting(ports, allowed=("10.0.0.0/24", "2001:db8::/32"))
    invite = Src().invite()
    actions = srs.receive(invite, ELSEWHERE, 0.0)
    refused = final(actions)
    assert refused.status == 403 and refusals(actions) == ["source-not-allowed"]
    assert ports.taken == [] and srs.recordings == {}
    assert srs.tick(40.0) == []  # no transaction: the 403 is never retransmitted to a forged source
    again = final(srs.receive(invite, ELSEWHERE, 0.5))  # a retransmission is answered again, the same To tag
    assert again.to_tag == refused.to_tag
    assert srs.receive(Src().ack(refused), ELSEWHERE, 0.6) == []  # an ACK from there: dropped, unanswered
    options = Src().request("OPTIONS")
    assert [r.status for r in responses(srs.receive(options, ELSEWHERE, 1.0))] == [403]
    assert refusals(srs.receive(Src().request("OPTIONS"), ELSEWHERE, 1.0)) == []  # counted as INVITEs only
    assert final(srs.receive(Src().invite(), UDP, 2.0)).status == 200  # 10.0.0.2 is in 10.0.0.0/24


def test_a_source_past_its_unconfirmed_dialogs_gets_503_with_retry_after_others_go_on() -> None:
    ports = Ports()
    srs = admitting(ports, unconfirmed=2)
    src = Src()
    ok = final(srs.receive(src.invite(), UDP, 0.0))
    assert ok.status == 200 and final(srs.receive(Src().invite(), UDP, 0.1)).status == 200
    flood = srs.receive(Src().invite(), UDP, 0.2)
    busy = final(flood)
    assert (busy.status, busy.headers.get("Retry-After")) == (503, "5")
    assert refusals(flood) == ["unconfirmed-dialogs"] and len(ports.taken) == 4  # no port for the refused one
    assert final(srs.receive(Src().invite(), OTHER_SBC, 0.3)).status == 200  # another source is not held back
    src.to_tag = ok.to_tag
    assert srs.receive(src.ack(ok), UDP, 0.4) == []  # confirmed: it no longer counts
    assert final(srs.receive(Src().invite(), UDP, 0.5)).status == 200


def test_timer_h_gives_the_ports_and_the_sources_room_back() -> None:
    ports = Ports()
    srs = admitting(ports, unconfirmed=1)
    final(srs.receive(Src().invite(), UDP, 0.0))
    assert final(srs.receive(Src().invite(), UDP, 1.0)).status == 503
    ended = srs.tick(32.0)  # timer H: no ACK for the 200
    assert [e.reason for e in events(ended, RecordingEnded)] == ["no ack"]
    assert sorted(ports.released) == sorted(ports.taken) == [30000, 30002]
    assert final(srs.receive(Src().invite(), UDP, 33.0)).status == 200


def test_an_invite_refused_after_its_first_port_gives_that_port_back_at_once() -> None:
    ports = Ports(count=1)
    srs = admitting(ports)
    actions = srs.receive(Src().invite(), UDP, 0.0)
    assert final(actions).status == 503 and refusals(actions) == ["no-rtp-port"]
    assert ports.taken == ports.released == [30000]
    body = ("application/sdp", sdp(media(40000, "1", formats=(9,))))  # G.722 only: nothing we can take
    refused = srs.receive(Src().invite(body=body), UDP, 1.0)
    assert final(refused).status == 488 and refusals(refused) == ["not-acceptable"]
    unsupported = srs.receive(Src().invite("Require: foo"), UDP, 2.0)
    assert final(unsupported).status == 420 and refusals(unsupported) == ["require"]


def test_the_source_filter_takes_hosts_networks_and_mapped_addresses() -> None:
    sources = SourceFilter(["127.0.0.1", "10.1.0.0/16", "2001:db8::/32"])
    assert sources.allows("127.0.0.1") and sources.allows("::ffff:127.0.0.1") and sources.allows("10.1.200.3")
    assert sources.allows("2001:db8::7%eth0")
    assert not sources.allows("127.0.0.2") and not sources.allows("10.2.0.1") and not sources.allows("sbc.example")
    assert SourceFilter().allows("203.0.113.9")
    assert same_host("::ffff:10.0.0.2", "10.0.0.2") and not same_host("10.0.0.2", "10.0.0.3")
    with pytest.raises(ValueError, match="10.0.0.300"):
        SourceFilter(["10.0.0.300/8"])


def test_unconfirmed_dialogs_count_per_source() -> None:
    pending = UnconfirmedDialogs(2)
    pending.add("10.0.0.2", ("a", "1", "x"))
    pending.add("10.0.0.2", ("b", "1", "x"))
    assert pending.full("10.0.0.2") and not pending.full("10.0.0.3")
    pending.confirmed(("a", "1", "x"))
    pending.confirmed(("a", "1", "x"))  # twice (ACK retransmitted, then BYE): counted once
    assert pending.count("10.0.0.2") == 1 and not UnconfirmedDialogs(0).full("10.0.0.2")


def test_settings_are_checked_at_start_up() -> None:
    config = load_config(environ={})
    assert config.siprec.rtp_source_check == "sdp" and config.siprec.allowed_sources == ()
    assert config.siprec.max_unconfirmed_per_source > 0 and config.siprec.tcp_max_connections > 0
    assert config.server.max_connections > 0 and config.server.body_timeout_s > 0
    with pytest.raises(ConfigError, match="allowed_sources"):
        load_config(environ={"MEDIAGW_SIPREC__ALLOWED_SOURCES": "[10.0.0.0/33]"})
    with pytest.raises(ConfigError, match="rtp_source_check"):
        load_config(environ={"MEDIAGW_SIPREC__RTP_SOURCE_CHECK": "first"})
    with pytest.raises(ConfigError, match="max_connections"):
        load_config(environ={"MEDIAGW_SERVER__MAX_CONNECTIONS": "-1"})


def test_a_throttled_log_writes_once_per_interval_and_counts_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    throttled = ThrottledLog(logging.getLogger("test.throttle"), interval_s=10.0)
    with caplog.at_level(logging.WARNING, "test.throttle"):
        for second in range(25):
            throttled.log(float(second), "refused %s", "x")
    assert [r.getMessage() for r in caplog.records] == [
        "refused x",
        "refused x (and 9 more like it in the last 10 s)",
        "refused x (and 9 more like it in the last 10 s)",
    ]

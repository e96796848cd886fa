"""The console's pure parts: session cookies and CSRF tokens, the health history's rates and quantiles, and the
rows a call shows."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from mediagw.console.history import MetricsHistory, histogram_quantile
from mediagw.console.sessions import Sessions
from mediagw.console.views import call_view
from mediagw.core.frames import Frame
from mediagw.core.media import CallMedia
from mediagw.core.record import CallRecord


def test_a_session_cookie_is_signed_expires_and_can_be_revoked() -> None:
    sessions = Sessions("", 900)
    session, cookie = sessions.issue("ops", now=1000.0)
    assert sessions.read(cookie, now=1001.0) == session
    assert sessions.read(cookie, now=1900.0) is None  # expired
    claims, _, signature = cookie.partition(".")
    assert sessions.read(f"{claims}.{signature[:-2]}xx", now=1001.0) is None
    assert sessions.read(f"{claims[:-2]}AA.{signature}", now=1001.0) is None
    assert sessions.read("garbage", now=1001.0) is None
    assert Sessions("", 900).read(cookie, now=1001.0) is None  # another process's random key
    sessions.revoke(session, now=1002.0)
    assert sessions.read(cookie, now=1003.0) is None


def test_nodes_sharing_the_token_secret_accept_each_others_sessions_and_csrf_tokens() -> None:
    one, two = Sessions("shared-secret", 900), Sessions("shared-secret", 900)
    session, cookie = one.issue("ops")
    assert two.read(cookie) == session
    assert two.csrf_ok(session, one.csrf(session))
    assert not two.csrf_ok(session, "") and not two.csrf_ok(session, one.csrf(one.issue("ops")[0]))


def test_a_renewal_keeps_the_session_and_its_csrf_token() -> None:
    sessions = Sessions("", 900)
    session, _ = sessions.issue("ops", now=1000.0)
    assert not sessions.needs_renewal(session, now=1100.0) and sessions.needs_renewal(session, now=1500.0)
    renewed, _ = sessions.issue("ops", now=1500.0, session_id=session.session_id)
    assert renewed.expires_at == 2400.0 and sessions.csrf(renewed) == sessions.csrf(session)


def test_histogram_quantile_interpolates_as_prometheus_does() -> None:
    buckets = [(0.1, 0.0), (0.5, 50.0), (1.0, 100.0), (float("inf"), 100.0)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.5)
    assert histogram_quantile(0.25, buckets) == pytest.approx(0.3)
    assert histogram_quantile(0.95, buckets) == pytest.approx(0.95)
    assert histogram_quantile(0.99, [(1.0, 1.0), (float("inf"), 10.0)]) == 1.0  # in +Inf: the highest bound


def test_the_history_reads_gauges_counter_rates_and_interval_quantiles() -> None:
    registry = CollectorRegistry()
    streams = Gauge("mediagw_open_streams", "", ["ingress"], registry=registry)
    utterances = Counter("mediagw_utterances", "", ["ingress"], registry=registry)
    latency = Histogram("mediagw_speech_to_transcript_seconds", "", buckets=(0.5, 1.0, 2.0), registry=registry)
    errors = Counter("mediagw_errors", "", ["code"], registry=registry)
    history = MetricsHistory(registry, 5.0)
    streams.labels("twilio").set(4)
    latency.observe(0.9)  # before the first sample: not in the second's interval
    first = history.sample(100.0)
    assert first.plots["open_streams"] == {"twilio": 4} and first.plots["utterances"] == {"utterances/s": None}
    utterances.labels("twilio").inc(10)
    errors.labels("4080").inc(5)
    for _ in range(10):
        latency.observe(1.5)
    second = history.sample(105.0)
    assert second.plots["utterances"] == {"utterances/s": 2.0} and second.plots["errors"] == {"4080": 1.0}
    assert 1.0 < (second.plots["latency"]["p50"] or 0) <= 2.0
    assert history.sample(110.0).plots["latency"] == {"p50": None, "p95": None}  # nothing said meanwhile
    data = history.to_json()
    assert data["t"] == [100.0, 105.0, 110.0]
    plot = next(p for p in data["plots"] if p["name"] == "utterances")
    assert plot["lines"]["utterances/s"] == [None, 2.0, 0.0]


def test_a_calls_row_says_each_roles_state() -> None:
    media = CallMedia("twilio", "CA1")
    media.connected["customer"] = 1
    record = CallRecord("twilio", "CA1", media_nodes={"customer": "local"})
    view = call_view(record, media, "local")
    assert view is not None
    assert [(r.role, r.state) for r in view.roles] == [("customer", "connected"), ("agent", "no media")]
    media.take("customer", Frame.silence(0, 160), 0)  # a pause: silence in place of audio
    view = call_view(record, media, "local")
    assert view is not None and view.roles[0].state == "paused" and view.roles[0].media_ms == 20
    assert call_view(None, None, "local") is None


def test_the_webhook_plot_has_deliveries_failures_and_drops_per_target() -> None:
    registry = CollectorRegistry()
    delivered = Counter("mediagw_webhook_deliveries", "", ["target"], registry=registry)
    failures = Counter("mediagw_webhook_failures", "", ["target", "outcome"], registry=registry)
    history = MetricsHistory(registry, 2.0)
    delivered.labels("crm").inc(0)
    history.sample(0.0)
    delivered.labels("crm").inc(10)
    failures.labels("crm", "failed").inc(2)
    failures.labels("crm", "timeout").inc(2)
    failures.labels("crm", "dropped").inc(4)
    lines = history.sample(2.0).plots["webhooks"]
    assert lines == {"crm delivered": 5.0, "crm failed": 2.0, "crm dropped": 2.0}

"""The health page's plots: the very registry /metrics serves, sampled in-process into a 15-minute ring.

One source of truth: nothing here counts anything; each sample reads the Prometheus registry's families, gauges
as they are, counters as their rate over the interval, and the end-of-speech -> transcript histogram as the p50
and p95 of the observations within the interval (Prometheus' histogram_quantile, on the bucket deltas).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry

WINDOW_S = 900.0
LATENCY = "mediagw_speech_to_transcript_seconds"

Lines = dict[str, float | None]  # line label -> value


@dataclass(frozen=True)
class Plot:
    name: str
    title: str
    unit: str


PLOTS = (
    Plot("open_streams", "Open streams by ingress", "streams"),
    Plot("utterances", "Utterances", "per second"),
    Plot("latency", "End of speech to transcript", "seconds"),
    Plot("asr_queue", "ASR queue depth", "utterances"),
    Plot("webhooks", "Webhook deliveries, failures and drops by target", "per second"),
    Plot("errors", "Errors by status code", "per second"),
)


@dataclass(frozen=True)
class Sample:
    at: float  # wall clock
    plots: dict[str, Lines]


class Readings:
    """One pass over the registry: gauges, counter totals and histogram buckets by (name, labels)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        for family in registry.collect():
            for sample in family.samples:
                self.values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value

    def series(self, name: str) -> Iterable[tuple[dict[str, str], float]]:
        for (each, labels), value in self.values.items():
            if each == name:
                yield dict(labels), value


class MetricsHistory:
    def __init__(
        self, registry: CollectorRegistry, interval_s: float, before: Callable[[], None] | None = None
    ) -> None:
        """`before` runs ahead of each sample, as ahead of each scrape (the gauges set only then)."""
        self._registry = registry
        self.interval_s = interval_s
        self._before = before
        self._ring: deque[Sample] = deque(maxlen=math.ceil(WINDOW_S / interval_s) + 1)
        self._last: Readings | None = None
        self._last_at = 0.0

    def sample(self, now: float) -> Sample:
        if self._before is not None:
            self._before()
        readings = Readings(self._registry)
        last, elapsed = self._last, now - self._last_at
        rate = _Rates(readings, last, elapsed)
        streams: Lines = {labels.get("ingress", ""): v for labels, v in readings.series("mediagw_open_streams")}
        plots: dict[str, Lines] = {
            "open_streams": streams,
            "utterances": {"utterances/s": rate.total("mediagw_utterances_total")},
            "latency": rate.quantiles(f"{LATENCY}_bucket", (0.5, 0.95)),
            "asr_queue": {"queued": readings.values.get(("mediagw_asr_queue_depth", ()), 0.0)},
            "webhooks": _webhooks(rate),
            "errors": rate.by("mediagw_errors_total", "code"),
        }
        sample = Sample(now, plots)
        self._ring.append(sample)
        self._last, self._last_at = readings, now
        return sample

    def to_json(self) -> dict[str, Any]:
        """Each plot as aligned columns: times, and per line its values (null where it had none)."""
        samples = list(self._ring)
        plots = []
        for plot in PLOTS:
            labels = sorted({label for s in samples for label in s.plots.get(plot.name, {})})
            lines = {label: [s.plots.get(plot.name, {}).get(label) for s in samples] for label in labels}
            plots.append({"name": plot.name, "title": plot.title, "unit": plot.unit, "lines": lines})
        return {"intervalS": self.interval_s, "t": [s.at for s in samples], "plots": plots}


class _Rates:
    """Counters' increase over the interval, per second (None on the first sample: no interval yet)."""

    def __init__(self, now: Readings, last: Readings | None, elapsed_s: float) -> None:
        self._now, self._last, self._elapsed = now, last, elapsed_s

    def _increase(self, key: tuple[str, tuple[tuple[str, str], ...]]) -> float | None:
        if self._last is None or self._elapsed <= 0:
            return None
        before = self._last.values.get(key, 0.0)
        value = self._now.values.get(key, 0.0)
        return value - before if value >= before else value  # a reset counter starts again from 0

    def total(self, name: str) -> float | None:
        if self._last is None or self._elapsed <= 0:
            return None
        increases = (self._increase((each, labels)) for (each, labels) in self._now.values if each == name)
        return sum(i for i in increases if i is not None) / self._elapsed

    def by(self, name: str, label: str) -> Lines:
        lines: Lines = {}
        for (each, labels), _ in self._now.values.items():
            if each == name:
                increase = self._increase((each, labels))
                lines[dict(labels).get(label, "")] = None if increase is None else increase / self._elapsed
        return lines

    def labelled(self, name: str) -> Iterable[tuple[dict[str, str], float | None]]:
        for (each, labels), _ in self._now.values.items():
            if each == name:
                increase = self._increase((each, labels))
                yield dict(labels), None if increase is None else increase / self._elapsed

    def quantiles(self, bucket_name: str, qs: tuple[float, ...]) -> Lines:
        buckets = sorted(
            (float(dict(labels)["le"]), self._increase((each, labels)))
            for (each, labels) in self._now.values
            if each == bucket_name
        )
        names = {q: f"p{round(q * 100)}" for q in qs}
        if not buckets or any(count is None for _, count in buckets) or not buckets[-1][1]:
            return dict.fromkeys(names.values())  # no utterance within the interval
        counts = [(bound, float(count or 0.0)) for bound, count in buckets]
        return {names[q]: histogram_quantile(q, counts) for q in qs}


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus' estimate from cumulative (upper bound, count) buckets ending with +Inf: linear within the
    bucket the rank falls in; in the +Inf bucket, the highest finite bound."""
    total = buckets[-1][1]
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def _webhooks(rate: _Rates) -> Lines:
    lines: Lines = {}
    for labels, value in rate.labelled("mediagw_webhook_deliveries_total"):
        lines[f"{labels.get('target', '')} delivered"] = value
    for labels, value in rate.labelled("mediagw_webhook_failures_total"):
        kind = "dropped" if labels.get("outcome") == "dropped" else "failed"
        name = f"{labels.get('target', '')} {kind}"
        current = lines.get(name)  # failed: every outcome but dropped, summed
        lines[name] = value if current is None else current + (value or 0.0)
    return lines

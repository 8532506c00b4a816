"""A small stand-in for CloudWatch's metric store, fed with the analyzer's EMF documents.

Why: CloudWatch turns EMF log lines into metrics; moto does not. The demo extracts the same
metrics from the same documents (every dimension set of every directive), keeps the raw values
per minute so percentiles are computed as CloudWatch does, and can hand them to PutMetricData.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

MINUTE_MS = 60_000

MetricKey = tuple[str, str, tuple[tuple[str, str], ...]]  # namespace, metric name, sorted dimensions


def metric_key(namespace: str, metric: str, dimensions: Mapping[str, str] | Iterable[tuple[str, str]]) -> MetricKey:
    items = dimensions.items() if isinstance(dimensions, Mapping) else dimensions
    return namespace, metric, tuple(sorted((str(k), str(v)) for k, v in items))


def _numbers(value: Any) -> list[float]:
    """An EMF value (a number or a list of them) as floats; anything else (booleans, text) is ignored."""
    values = value if isinstance(value, list) else [value]
    return [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]


@dataclass(frozen=True)
class Datum:
    """One minute of one metric, as PutMetricData takes it (values with counts)."""

    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    timestamp_ms: int
    values: tuple[float, ...]
    counts: tuple[float, ...]
    unit: str


class MetricStore:
    """Raw values per (metric, dimensions, minute)."""

    def __init__(self) -> None:
        self._points: dict[MetricKey, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
        self._units: dict[MetricKey, str] = {}

    def add_emf(self, doc: Mapping[str, Any]) -> int:
        """Extract every metric of one EMF document; returns how many metric series it touched."""
        aws = doc.get("_aws") or {}
        timestamp = int(aws.get("Timestamp") or 0)
        minute = timestamp - timestamp % MINUTE_MS
        touched = 0
        for directive in aws.get("CloudWatchMetrics") or []:
            namespace = directive.get("Namespace", "")
            for dim_set in directive.get("Dimensions") or [[]]:
                dims = [(name, doc[name]) for name in dim_set if name in doc]
                if len(dims) != len(dim_set):
                    continue  # CloudWatch drops a dimension set whose values are missing
                for definition in directive.get("Metrics") or []:
                    touched += self._add_metric(namespace, definition, dims, doc, minute)
        return touched

    def _add_metric(
        self,
        namespace: str,
        definition: Mapping[str, Any],
        dims: list[tuple[str, Any]],
        doc: Mapping[str, Any],
        minute: int,
    ) -> int:
        """Store one metric of the document under one dimension set: 1 if it had numbers, else 0."""
        name = definition.get("Name")
        if not isinstance(name, str):  # JSON keys are strings: no value is filed under anything else
            return 0
        numbers = _numbers(doc.get(name))
        if not numbers:
            return 0
        key = metric_key(namespace, name, dims)
        self._points[key][minute].extend(numbers)
        self._units[key] = definition.get("Unit", "None")
        return 1

    def add_value(
        self,
        namespace: str,
        metric: str,
        dimensions: Mapping[str, str],
        timestamp_ms: int,
        value: float,
        unit: str = "Count",
    ) -> None:
        key = metric_key(namespace, metric, dimensions)
        self._points[key][timestamp_ms - timestamp_ms % MINUTE_MS].append(float(value))
        self._units[key] = unit

    def keys(self) -> list[MetricKey]:
        return list(self._points)

    def values(
        self, namespace: str, metric: str, dimensions: Mapping[str, str], start_ms: int, end_ms: int
    ) -> list[float]:
        """Every raw value of the metric with exactly these dimensions in [start_ms, end_ms)."""
        by_minute = self._points.get(metric_key(namespace, metric, dimensions))
        if not by_minute:
            return []
        out: list[float] = []
        for minute, vals in by_minute.items():
            if start_ms <= minute < end_ms:
                out.extend(vals)
        return out

    def stat(
        self, namespace: str, metric: str, dimensions: Mapping[str, str], start_ms: int, period_s: int, statistic: str
    ) -> float | None:
        """CloudWatch's statistic over one period; None when there is no data point (missing data)."""
        return statistic_of(self.values(namespace, metric, dimensions, start_ms, start_ms + period_s * 1000), statistic)

    def dimension_values(self, namespace: str, metric: str, name: str, **fixed: str) -> set[str]:
        """Which values a dimension takes for a metric (e.g. the categories seen for Errors)."""
        out: set[str] = set()
        for ns, m, dims in self._points:
            d = dict(dims)
            if (
                ns == namespace
                and m == metric
                and name in d
                and all(d.get(k) == v for k, v in fixed.items())
                and len(d) == len(fixed) + 1
            ):
                out.add(d[name])
        return out

    def time_range(self) -> tuple[int, int] | None:
        minutes = [m for series in self._points.values() for m in series]
        return (min(minutes), max(minutes) + MINUTE_MS) if minutes else None

    def data(self) -> Iterator[Datum]:
        """Everything as PutMetricData entries: one datum per metric and minute, values with counts."""
        for key, by_minute in self._points.items():
            namespace, metric, dims = key
            for minute, vals in sorted(by_minute.items()):
                counts: dict[float, int] = defaultdict(int)
                for v in vals:
                    counts[v] += 1
                values = sorted(counts)
                yield Datum(
                    namespace,
                    metric,
                    dims,
                    minute,
                    tuple(values),
                    tuple(float(counts[v]) for v in values),
                    self._units.get(key, "None"),
                )


def statistic_of(values: list[float], statistic: str) -> float | None:
    """Sum, Average, Minimum, Maximum, SampleCount or pNN (nearest rank) of raw values."""
    if not values:
        return None
    s = statistic.strip()
    if s == "Sum":
        return float(sum(values))
    if s == "SampleCount":
        return float(len(values))
    if s == "Average":
        return float(sum(values) / len(values))
    if s == "Minimum":
        return float(min(values))
    if s == "Maximum":
        return float(max(values))
    if s[:1].lower() == "p":
        q = float(s[1:])
        ordered = sorted(values)
        rank = max(1, math.ceil(q / 100 * len(ordered)))
        return ordered[min(rank, len(ordered)) - 1]
    raise ValueError(f"unsupported statistic {statistic!r}")


@dataclass(frozen=True)
class PercentileCheck:
    """One percentile of one window: what CloudWatch computes from the published metrics, and the truth."""

    window: str
    statistic: str
    published: float | None
    truth: float | None

    @property
    def error(self) -> float | None:
        """Relative difference (0.01 = 1 %); None when either side has no data."""
        if self.published is None or self.truth is None:
            return None
        return abs(self.published - self.truth) / self.truth if self.truth else abs(self.published)


def percentile_checks(
    store: MetricStore,
    truth: Iterable[tuple[int, float]],
    namespace: str,
    dimensions: Mapping[str, str],
    start_ms: int,
    end_ms: int,
    statistics: tuple[str, ...] = ("p50", "p90", "p99"),
) -> list[PercentileCheck]:
    """Latency percentiles over the whole window and over its busiest minute, published vs true.

    `truth` is (event time, latency) of every request the simulator sent: the published side must be
    computed from what the analyzer printed alone, as CloudWatch would."""
    true_values = [(ts, float(v)) for ts, v in truth if start_ms <= ts < end_ms]
    by_minute: dict[int, list[float]] = defaultdict(list)
    for ts, v in true_values:
        by_minute[ts - ts % MINUTE_MS].append(v)
    windows = [("hour", start_ms, end_ms, [v for _, v in true_values])]
    if by_minute:
        busiest = max(by_minute, key=lambda m: (len(by_minute[m]), m))
        windows.append(("busiest minute", busiest, busiest + MINUTE_MS, by_minute[busiest]))
    out: list[PercentileCheck] = []
    for label, start, end, values in windows:
        published = store.values(namespace, "Latency", dimensions, start, end)
        for stat in statistics:
            out.append(PercentileCheck(label, stat, statistic_of(published, stat), statistic_of(values, stat)))
    return out

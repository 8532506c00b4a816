"""CloudWatch Embedded Metric Format documents for one invocation, serialised by Powertools Metrics.

Why Powertools' serializer with our own aggregated values (and not `add_metric` per request): the
metric contract is "aggregate per invocation" — one document per dimension-value combination, counts
summed, latencies as value arrays — and `add_metric` would auto-flush (print) at 100 values, before
the handler knows whether its alerts went out. So `EphemeralMetrics.serialize_metric_set` builds each
document (Namespace, Dimensions, Metrics, Timestamp exactly as Powertools does) and the handler
decides when to print.

The EMF target member is a number or an array of at most 100 numbers — there is no values/counts
pair in EMF (that exists only in PutMetricData). A distribution with more than 100 values is
therefore represented by 100 quantile representatives (the value at rank (i + 0.5)/100 · N of the
sorted list, bucketed to 1 ms below 100 ms and to ~2 % above), which keeps CloudWatch percentiles
within about 1-2 %. SampleCount then counts representatives, not requests: use `Requests` for volume.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from operator import itemgetter
from typing import Any, cast

import orjson
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from gatewatch.constants import DEFAULT_NAMESPACE
from gatewatch.metrics.aggregate import DISTRIBUTION_METRICS, InvocationMetrics, MetricDocument

#: EMF: a metric's value array holds at most 100 numbers; a directive at most 100 metrics.
MAX_VALUES_PER_METRIC = 100
MAX_METRICS_PER_DOCUMENT = 100
#: CloudWatch drops EMF whose timestamp is older than 14 days or more than 2 hours ahead.
_MAX_PAST_MS = 14 * 24 * 3600 * 1000 - 10 * 60 * 1000
_MAX_FUTURE_MS = 2 * 3600 * 1000 - 10 * 60 * 1000

_EXACT_BELOW_MS = 100.0
_RELATIVE_STEP = math.log(1.02)  # ~2 % wide buckets above 100 ms

_COUNT = MetricUnit.Count.value
_MILLISECONDS = MetricUnit.Milliseconds.value


def _bucket_table() -> tuple[list[float], list[float]]:
    """Edges and centres of the ~2 % geometric buckets from 100 ms to ~28 hours (then computed directly)."""
    edges: list[float] = []
    centres: list[float] = []
    k = math.ceil(math.log(_EXACT_BELOW_MS) / _RELATIVE_STEP - 0.5)
    while True:
        centre = math.exp(k * _RELATIVE_STEP)
        if centre > 1e8:
            return edges, centres
        edges.append(math.exp((k + 0.5) * _RELATIVE_STEP))
        centres.append(float(round(centre)))
        k += 1


_EDGES, _CENTRES = _bucket_table()
_LAST_EDGE = _EDGES[-1]


def bucket_ms(value: float) -> float:
    """Round a latency to its bucket: 1 ms below 100 ms, a ~2 % geometric bucket above (centre, rounded)."""
    if value < _EXACT_BELOW_MS:
        return float(round(value))
    if value < _LAST_EDGE:
        return _CENTRES[bisect_right(_EDGES, value)]
    return float(round(math.exp(round(math.log(value) / _RELATIVE_STEP) * _RELATIVE_STEP)))


class _BucketMemo(dict):
    """value -> bucket_ms(value), remembered: latencies are mostly whole milliseconds that repeat, so
    a representative is one dict lookup (mapped in C) instead of a call. Bounded."""

    def __missing__(self, value: float) -> float:
        bucket = bucket_ms(value)
        if len(self) < _MEMO_LIMIT:
            self[value] = bucket
        return bucket


_MEMO_LIMIT = 100_000
_BUCKETS = _BucketMemo()


@lru_cache(maxsize=512)
def _quantile_ranks(n: int, limit: int) -> Callable[[Sequence[float]], tuple[float, ...]]:
    """An itemgetter for the ranks (2i + 1) · n // (2 · limit), i < limit, of a sorted list of n values."""
    step = 2 * limit
    return itemgetter(*[(2 * i + 1) * n // step for i in range(limit)])


def representative_values(values: Sequence[float], limit: int = MAX_VALUES_PER_METRIC) -> list[float]:
    """The values themselves when there are ≤ `limit`, else `limit` bucketed quantile representatives.

    Representative i is the value at rank (i + 0.5) / limit · N of the sorted values.
    """
    n = len(values)
    if n <= limit:
        return [float(v) for v in values]
    if limit < 2:  # an itemgetter of one rank returns the value, not a tuple
        return [_BUCKETS[sorted(values)[n // 2]]] if limit == 1 else []
    return list(map(_BUCKETS.__getitem__, _quantile_ranks(n, limit)(sorted(values))))


def emf_timestamp_ms(latest_event_ms: int | None, now_ms: int) -> int:
    """The documents' timestamp: the newest log event's time when CloudWatch accepts it, else now.

    Why event time: a Kinesis retry or a delayed subscription delivers minutes-old events, and the
    metrics belong to the minute the requests happened.
    """
    if latest_event_ms is None or latest_event_ms < now_ms - _MAX_PAST_MS or latest_event_ms > now_ms + _MAX_FUTURE_MS:
        return int(now_ms)
    return int(latest_event_ms)


class EmfWriter:
    """Turns `InvocationMetrics` into EMF documents (dicts) and renders them as JSON lines."""

    def __init__(self, namespace: str | None = None) -> None:
        self.namespace = namespace or DEFAULT_NAMESPACE

    def documents(self, metrics: InvocationMetrics, *, now_ms: int | None = None) -> list[dict[str, Any]]:
        now = int(time.time() * 1000) if now_ms is None else int(now_ms)
        serializer = EphemeralMetrics(namespace=self.namespace)
        # set directly: Powertools' set_timestamp warns about old timestamps, emf_timestamp_ms already clamps
        serializer.timestamp = emf_timestamp_ms(metrics.latest_timestamp_ms, now)
        out: list[dict[str, Any]] = []
        for doc in metrics.documents:
            for chunk in _metric_chunks(doc):
                document = serializer.serialize_metric_set(metrics=chunk, dimensions=dict(doc.dimensions), metadata={})
                # Powertools types the document as CloudWatchEMFOutput, which declares `_aws` only; the metric
                # values and dimensions are top-level keys of the same dict.
                out.append(cast(dict[str, Any], document))
        return out

    def render(self, metrics: InvocationMetrics, *, now_ms: int | None = None) -> str:
        """All documents as newline-terminated JSON lines ("" when there is nothing to publish)."""
        docs = self.documents(metrics, now_ms=now_ms)
        if not docs:
            return ""
        return b"\n".join(orjson.dumps(d) for d in docs).decode() + "\n"


def _metric_chunks(doc: MetricDocument) -> Iterable[dict[str, dict[str, Any]]]:
    """Powertools' metric_set shape ({name: {Unit, StorageResolution, Value}}), ≤ 100 metrics per chunk."""
    metric_set: dict[str, dict[str, Any]] = {}
    for name, count in doc.counts.items():
        metric_set[name] = {"Unit": _COUNT, "StorageResolution": 60, "Value": int(count)}
    for name, values in doc.distributions.items():
        if not values:
            continue
        unit = _MILLISECONDS if name in DISTRIBUTION_METRICS else _COUNT
        metric_set[name] = {"Unit": unit, "StorageResolution": 60, "Value": representative_values(values)}
    items = list(metric_set.items())
    for start in range(0, len(items), MAX_METRICS_PER_DOCUMENT):
        yield dict(items[start : start + MAX_METRICS_PER_DOCUMENT])


__all__ = ["MAX_VALUES_PER_METRIC", "EmfWriter", "bucket_ms", "emf_timestamp_ms", "representative_values"]

"""CloudWatch Embedded Metric Format documents for one invocation, serialised by Powertools Metrics.

Why Powertools' serializer with our own aggregated values (and not `add_metric` per request): the
metric contract is "aggregate per invocation and minute" — counts summed, latencies as value arrays —
and `add_metric` would auto-flush (print) at 100 values, before the handler knows whether its alerts
went out. So `EphemeralMetrics.serialize_metric_set` builds each document (Namespace, Dimensions,
Metrics, Timestamp exactly as Powertools does) and the handler decides when to print.

Why every latency value is published: EMF has no values/counts pair (that exists only in
PutMetricData), and CloudWatch computes a percentile over all the values it received in the period,
across invocations. Any reduction per invocation (100 quantile representatives, say) gives a batch
of 2,000 requests the weight of a batch of 100, and the minute's p90 is then wrong exactly when a
burst arrives in a big batch. So a distribution is published whole: at most 100 values per array (the
EMF limit), in as many documents as it takes — the counts ride on the first. Values are whole
milliseconds (API Gateway logs whole milliseconds), about 4-5 bytes each in the log line.

Each document carries its minute's timestamp (`MetricDocument.timestamp_ms`); gatewatch's own line
counts carry the time of publishing.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, cast

import orjson
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from gatewatch.constants import DEFAULT_NAMESPACE, EMF_MAX_FUTURE_MS, EMF_MAX_PAST_MS
from gatewatch.metrics.aggregate import DISTRIBUTION_METRICS, InvocationMetrics, MetricDocument

#: EMF: a metric's value array holds at most 100 numbers; a directive at most 100 metrics.
MAX_VALUES_PER_METRIC = 100
MAX_METRICS_PER_DOCUMENT = 100

_COUNT = MetricUnit.Count.value
_MILLISECONDS = MetricUnit.Milliseconds.value

#: Powertools' metric_set shape: {name: {Unit, StorageResolution, Value}}
MetricSet = dict[str, dict[str, Any]]


def emf_timestamp_ms(minute_ms: int | None, now_ms: int) -> int:
    """A document's timestamp: its minute when CloudWatch accepts it (the aggregator already left out
    minutes it would not), else the time of publishing."""
    if minute_ms is None or not now_ms - EMF_MAX_PAST_MS <= minute_ms <= now_ms + EMF_MAX_FUTURE_MS:
        return int(now_ms)
    return int(minute_ms)


def value_chunks(values: Sequence[float], size: int = MAX_VALUES_PER_METRIC) -> Iterator[list[int]]:
    """Every value, in arrays of at most `size`, as whole milliseconds (shorter in the log line; the
    unit CloudWatch's percentiles are read in)."""
    for start in range(0, len(values), size):
        yield list(map(round, values[start : start + size]))


class EmfWriter:
    """Turns `InvocationMetrics` into EMF documents (dicts) and renders them as JSON lines."""

    def __init__(self, namespace: str | None = None) -> None:
        self.namespace = namespace or DEFAULT_NAMESPACE

    def documents(self, metrics: InvocationMetrics, *, now_ms: int | None = None) -> list[dict[str, Any]]:
        now = int(time.time() * 1000) if now_ms is None else int(now_ms)
        serializer = EphemeralMetrics(namespace=self.namespace)
        out: list[dict[str, Any]] = []
        for doc in metrics.documents:
            # set directly: Powertools' set_timestamp warns about old timestamps; the window is checked here
            serializer.timestamp = emf_timestamp_ms(doc.timestamp_ms, now)
            dimensions = dict(doc.dimensions)
            for metric_set in metric_sets(doc):
                document = serializer.serialize_metric_set(metrics=metric_set, dimensions=dimensions, metadata={})
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


def metric_sets(doc: MetricDocument) -> Iterable[MetricSet]:
    """The metric sets of one MetricDocument, one per EMF document: the counts and the first 100 values of
    each distribution, then the next 100 values of each, and so on; at most 100 metrics per set."""
    first: MetricSet = {}
    for name, count in doc.counts.items():
        first[name] = {"Unit": _COUNT, "StorageResolution": 60, "Value": int(count)}
    arrays = {name: value_chunks(values) for name, values in doc.distributions.items() if values}
    units = {name: _MILLISECONDS if name in DISTRIBUTION_METRICS else _COUNT for name in arrays}
    current = first
    while True:
        for name, chunks in list(arrays.items()):
            chunk = next(chunks, None)
            if chunk is None:
                del arrays[name]
            else:
                current[name] = {"Unit": units[name], "StorageResolution": 60, "Value": chunk}
        if not current:
            return
        items = list(current.items())
        for start in range(0, len(items), MAX_METRICS_PER_DOCUMENT):
            yield dict(items[start : start + MAX_METRICS_PER_DOCUMENT])
        if not arrays:
            return
        current = {}


__all__ = ["MAX_VALUES_PER_METRIC", "EmfWriter", "emf_timestamp_ms", "metric_sets", "value_chunks"]

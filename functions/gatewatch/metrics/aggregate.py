"""Per-invocation metric aggregation: classified requests in, one `MetricDocument` per minute and dimension
combination out.

Why aggregate: EMF lines are billed as log ingestion and every dimension combination is a custom
metric, so a 10,000-event batch must become a handful of documents, not 10,000 lines (DESIGN §5).

The rules this module owns (the metric contract):
- access-log requests are the only source of Requests, Errors4xx/5xx, Errors, latencies, NearTimeout;
  execution-log requests only add Causes — a request in both logs is counted once in Requests;
- dimension sets: [Api, Stage], [Api, Stage, Route], [Api, Stage, Category], [Source];
- every request counts in the minute of its own log event (a delivery or a Kinesis backlog that spans
  minutes gives one set of documents per minute); a minute CloudWatch would not accept (older than
  14 days, more than 2 hours ahead) is not published at the wrong time but counted, per source, as
  LinesUnparsed under Source "out-of-window";
- Api is the configured friendly name, else the api id, else "unknown";
- routes: an API configured with its `routes` names only those (a hard ceiling across invocations,
  as the API definition has); otherwise the `routeCap` busiest routes of an invocation keep their
  name and the rest become OTHER (routes only ever come from API Gateway's templates);
- which APIs, stages and routes get a value of their own is decided from the whole invocation (the
  busiest, ties by name), never by arrival order, so every way of reading a delivery agrees;
- dimension values are sanitised (control characters removed, at most 250 characters, never empty).

Pure: no AWS, no I/O. Counts are summed; latencies are kept as raw values — every one of them is
published (see `gatewatch.metrics.emf`), so CloudWatch's percentiles over many invocations are true.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gatewatch.classify.taxonomy import CATEGORY_TABLE, ErrorCategory
from gatewatch.config import EngineConfig
from gatewatch.constants import (
    DEFAULT_ROUTE_CAP,
    DIM_API,
    DIM_CATEGORY,
    DIM_ROUTE,
    DIM_SOURCE,
    DIM_STAGE,
    EMF_MAX_FUTURE_MS,
    EMF_MAX_PAST_MS,
    MAX_DIMENSION_VALUE_LENGTH,
    METRIC_CAUSES,
    METRIC_ERRORS,
    METRIC_ERRORS_4XX,
    METRIC_ERRORS_5XX,
    METRIC_GATEWAY_OVERHEAD,
    METRIC_INTEGRATION_LATENCY,
    METRIC_LATENCY,
    METRIC_LINES_PARSED,
    METRIC_LINES_SUSPICIOUS,
    METRIC_LINES_UNPARSED,
    METRIC_NEAR_TIMEOUT,
    METRIC_REQUESTS,
    ROUTE_OTHER,
    ROUTE_UNMATCHED,
    SOURCE_ACCESS,
    SOURCE_EXECUTION,
    SOURCE_INPUT,
    SOURCE_OTHER,
    SOURCE_OUT_OF_WINDOW,
)
from gatewatch.metrics.tally import MINUTE_MS, Minute
from gatewatch.models import ClassifiedRequest, LatencyClass, RouteTally

if TYPE_CHECKING:  # the pipeline imports the parsers; aggregation needs only the Analysis' shape
    from gatewatch.pipeline import Analysis

UNKNOWN = "unknown"
#: What an API Gateway API id looks like; what a stage name may be ("$default" for HTTP APIs).
API_ID = re.compile(r"[a-z0-9]{10}")
STAGE_NAME = re.compile(r"\$default|[A-Za-z0-9_-]{1,128}")
#: Without configured APIs, at most this many api ids get an Api dimension of their own per invocation.
MAX_UNCONFIGURED_APIS = 20
#: At most this many stages of one API get a Stage of their own per invocation.
MAX_STAGES_PER_API = 10

#: Metrics whose unit is Milliseconds and whose values are a distribution (percentiles must work).
DISTRIBUTION_METRICS: frozenset[str] = frozenset({METRIC_LATENCY, METRIC_INTEGRATION_LATENCY, METRIC_GATEWAY_OVERHEAD})

_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NEAR_TIMEOUT = (LatencyClass.NEAR_TIMEOUT, LatencyClass.TIMEOUT)
_OK = ErrorCategory.OK
_INF = float("inf")  # `0 <= v < _INF` is False for NaN and infinities: hostile lines may carry "NaN"
#: Sources whose lines are never parsed (so they carry LinesUnparsed only).
_UNREAD_SOURCES = frozenset({SOURCE_INPUT, SOURCE_OTHER, SOURCE_OUT_OF_WINDOW})


def sanitize_dimension_value(value: object) -> str:
    """A CloudWatch-safe dimension value: printable, at most 250 characters, never empty ("unknown")."""
    if value is None:
        return UNKNOWN
    text = _CONTROL_CHARS.sub("", str(value)).strip()
    if len(text) > MAX_DIMENSION_VALUE_LENGTH:
        text = text[:MAX_DIMENSION_VALUE_LENGTH].rstrip()
    return text or UNKNOWN


@dataclass(frozen=True, slots=True)
class MetricDocument:
    """All metrics of one minute and dimension-value combination.

    `dimensions` is ordered (it is the EMF dimension set); `counts` are Count metrics summed over the
    minute; `distributions` are Milliseconds values, every one of them (the EMF layer spreads them over
    as many documents as needed). `timestamp_ms` is the minute's start; None for what belongs to the
    time of publishing (gatewatch's own line counts, events without a time).
    """

    dimensions: tuple[tuple[str, str], ...]
    counts: Mapping[str, int] = field(default_factory=dict)
    distributions: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    timestamp_ms: int | None = None

    @property
    def dimension_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.dimensions)

    def dimension(self, name: str) -> str | None:
        for key, value in self.dimensions:
            if key == name:
                return value
        return None


@dataclass(frozen=True, slots=True)
class InvocationMetrics:
    """What one invocation publishes, plus what the handler should say about it."""

    documents: tuple[MetricDocument, ...]
    routes_folded: Mapping[str, int] = field(default_factory=dict)  # Api -> distinct routes folded into OTHER
    # source -> requests of minutes CloudWatch would not accept (also in LinesUnparsed, Source out-of-window)
    out_of_window: Mapping[str, int] = field(default_factory=dict)

    @property
    def minutes(self) -> tuple[int, ...]:
        """The minutes (epoch ms) that requests were published in, oldest first."""
        return tuple(sorted({d.timestamp_ms for d in self.documents if d.timestamp_ms is not None}))

    def total(self, metric: str, **dimensions: str) -> int:
        """Sum of a Count metric over the documents whose dimension set is exactly `dimensions`' keys."""
        wanted = set(dimensions)
        out = 0
        for doc in self.documents:
            if set(doc.dimension_names) != wanted or metric not in doc.counts:
                continue
            if all(doc.dimension(k) == v for k, v in dimensions.items() if v is not None):
                out += doc.counts[metric]
        return out


class _RouteTotals:
    __slots__ = ("errors_4xx", "errors_5xx", "latency", "requests")

    def __init__(self) -> None:
        self.requests = 0
        self.errors_4xx = 0
        self.errors_5xx = 0
        self.latency: list[float] = []

    def add(self, other: _RouteTotals) -> None:
        self.requests += other.requests
        self.errors_4xx += other.errors_4xx
        self.errors_5xx += other.errors_5xx
        self.latency += other.latency


class _StageTotals:
    """Running totals of one minute of one (api id, stage, api name) as the requests carry them, routes
    as classified; `result` merges them into dimension values."""

    __slots__ = (
        "by_route",
        "causes",
        "errors",
        "errors_4xx",
        "errors_5xx",
        "integration_latency",
        "latency",
        "near_timeout",
        "overhead",
        "requests",
    )

    def __init__(self) -> None:
        self.requests = 0
        self.errors_4xx = 0
        self.errors_5xx = 0
        self.near_timeout = 0
        self.latency: list[float] = []
        self.integration_latency: list[float] = []
        self.overhead: list[float] = []
        self.errors: Counter[ErrorCategory] = Counter()
        self.causes: Counter[ErrorCategory] = Counter()
        self.by_route: dict[str, _RouteTotals] = {}

    def route(self, route: str) -> _RouteTotals:
        totals = self.by_route[route] = _RouteTotals()
        return totals

    @property
    def weight(self) -> int:
        """What ranks an API, stage or route for a dimension of its own: its requests, else its causes."""
        return self.requests + sum(self.causes.values())

    def add(self, other: _StageTotals, route_names: Mapping[str, str]) -> None:
        self.requests += other.requests
        self.errors_4xx += other.errors_4xx
        self.errors_5xx += other.errors_5xx
        self.near_timeout += other.near_timeout
        self.latency += other.latency
        self.integration_latency += other.integration_latency
        self.overhead += other.overhead
        self.errors.update(other.errors)
        self.causes.update(other.causes)
        for route, totals in other.by_route.items():
            name = route_names[route]
            into = self.by_route.get(name)
            if into is None:
                into = self.by_route[name] = _RouteTotals()
            into.add(totals)


#: (minute, api_id, stage, api_name) as the requests carry them
_RawKey = tuple[Minute, str | None, str | None, str | None]


def _top(weights: Mapping[str, int], cap: int) -> set[str]:
    """The `cap` values with the most weight, ties by value: the same choice whatever order the lines
    came in (so the fast path and the full path, and two runs of one delivery, agree)."""
    return set(sorted(weights, key=lambda value: (-weights[value], value))[:cap])


class MetricAggregator:
    """Accumulates classified requests of one invocation and produces its metric documents.

    `route_cap` is the default cap for APIs whose configuration does not set one (GATEWATCH_ROUTE_CAP);
    an API configured with its own routeCap keeps it. Which APIs, stages and routes get a dimension
    value of their own is decided in `result`, from the whole invocation: the busiest ones.
    """

    def __init__(self, config: EngineConfig | None = None, *, route_cap: int | None = None) -> None:
        self.config = config or EngineConfig()
        self.default_route_cap = route_cap if route_cap and route_cap > 0 else self.config.default.route_cap
        self._raw: dict[_RawKey, _StageTotals] = {}
        self._lines_parsed: Counter[str] = Counter()
        self._lines_unparsed: Counter[str] = Counter()
        self._lines_suspicious: Counter[str] = Counter()

    # -- input -----------------------------------------------------------------------------------
    def add_analysis(self, analysis: Analysis) -> MetricAggregator:
        self.add_successes(analysis.successes)
        self.add_access(analysis.access)
        self.add_execution(analysis.execution)
        self.add_line_counts(analysis.lines_parsed, analysis.lines_unparsed, analysis.lines_suspicious)
        return self

    def add_line_counts(
        self, parsed: Mapping[str, int], unparsed: Mapping[str, int], suspicious: Mapping[str, int] | None = None
    ) -> None:
        self._lines_parsed.update(parsed)
        self._lines_unparsed.update(unparsed)
        self._lines_suspicious.update(suspicious or {})

    def add_access(self, requests: Iterable[ClassifiedRequest]) -> None:
        """Hot path (one call per access-log entry): plain attribute reads and list appends only."""
        raw = self._raw
        near = _NEAR_TIMEOUT
        ok = _OK
        for req in requests:
            ts = req.timestamp
            key = (None if ts is None else ts - ts % MINUTE_MS, req.api_id, req.stage, req.api_name)
            totals = raw.get(key)
            if totals is None:
                totals = raw[key] = _StageTotals()
            totals.requests += 1
            route = totals.by_route.get(req.route)
            if route is None:
                route = totals.route(req.route)
            route.requests += 1
            category = req.category
            if category is not ok:
                totals.errors[category] += 1
                status = req.status
                if (status is not None and status >= 500) or (
                    status is None and not CATEGORY_TABLE[category].is_client_error
                ):
                    totals.errors_5xx += 1
                    route.errors_5xx += 1
                elif status is None or status >= 400:
                    totals.errors_4xx += 1
                    route.errors_4xx += 1
            elif req.status is not None and req.status >= 400:  # defensive: an error status is an error
                if req.status >= 500:
                    totals.errors_5xx += 1
                    route.errors_5xx += 1
                else:
                    totals.errors_4xx += 1
                    route.errors_4xx += 1
            if req.latency_class in near:
                totals.near_timeout += 1
            latency = req.latency_ms
            if latency is not None and 0 <= latency < _INF:
                totals.latency.append(latency)
                route.latency.append(latency)
            else:
                latency = None  # not a valid latency: no gateway overhead either
            value = req.integration_latency_ms
            if value is not None and 0 <= value < _INF:
                totals.integration_latency.append(value)
                value = req.gateway_overhead_ms
                if latency is not None and value is not None and -_INF < value < _INF:
                    # Only from two valid latencies (as classify.tally_success). CloudWatch refuses
                    # percentiles for negative values; rounding can make response - integration
                    # latency slightly negative, which means "no overhead".
                    totals.overhead.append(value if value > 0 else 0.0)

    def add_successes(self, tallies: Mapping[tuple, RouteTally]) -> None:
        """Successful requests from the fast path, already tallied per (minute, api_id, stage, api_name, route)."""
        raw = self._raw
        for (minute, api_id, stage, api_name, route_name), tally in tallies.items():
            key = (minute, api_id, stage, api_name)
            totals = raw.get(key)
            if totals is None:
                totals = raw[key] = _StageTotals()
            route = totals.by_route.get(route_name) or totals.route(route_name)
            totals.requests += tally.requests
            route.requests += tally.requests
            totals.near_timeout += tally.near_timeouts
            totals.latency += tally.latency_ms
            route.latency += tally.latency_ms
            totals.integration_latency += tally.integration_latency_ms
            totals.overhead += tally.gateway_overhead_ms

    def add_execution(self, requests: Iterable[ClassifiedRequest]) -> None:
        """Execution-log requests only add Causes (every non-OK one, by category, in its own minute)."""
        raw = self._raw
        for req in requests:
            if req.category is _OK:
                continue
            ts = req.timestamp
            key = (None if ts is None else ts - ts % MINUTE_MS, req.api_id, req.stage, req.api_name)
            totals = raw.get(key)
            if totals is None:
                totals = raw[key] = _StageTotals()
            totals.causes[req.category] += 1

    # -- dimension values ------------------------------------------------------------------------
    def _dimension_values(self) -> dict[_RawKey, tuple[str, str]]:
        """(Api, Stage) of every raw key — bounded, whatever the lines say.

        With APIs configured, only they get an Api of their own; any other api id goes to the one bucket
        ("unknown", "unknown"). Without, an api id must look like one (10 lower-case letters or digits)
        and the MAX_UNCONFIGURED_APIS busiest get their own. A stage must look like a stage name, and the
        MAX_STAGES_PER_API busiest of an API get their own; any other stage is "unknown".
        """
        configured = self.config.apis
        api_weights: Counter[str] = Counter()
        if not configured:
            for (_minute, api_id, _stage, _name), totals in self._raw.items():
                if api_id is not None and API_ID.fullmatch(api_id):
                    api_weights[api_id] += totals.weight
        own = set(configured) | _top(api_weights, MAX_UNCONFIGURED_APIS)
        apis: dict[_RawKey, str | None] = {}
        stage_weights: dict[str, Counter[str]] = {}
        for key, totals in self._raw.items():
            _minute, api_id, stage, api_name = key
            if api_id is not None and api_id not in own:
                apis[key] = None
                continue
            name = apis[key] = sanitize_dimension_value(api_name or self.config.display_name(api_id) or UNKNOWN)
            if stage is not None and STAGE_NAME.fullmatch(stage):
                stage_weights.setdefault(name, Counter())[stage] += totals.weight
        kept = {name: _top(weights, MAX_STAGES_PER_API) for name, weights in stage_weights.items()}
        out: dict[_RawKey, tuple[str, str]] = {}
        for key, api in apis.items():
            stage = key[2]
            if api is None:
                out[key] = (UNKNOWN, UNKNOWN)
            else:
                out[key] = (api, stage if stage is not None and stage in kept.get(api, ()) else UNKNOWN)
        return out

    def _route_names(self, api_id: str | None, weights: Mapping[str, int]) -> tuple[dict[str, str], int]:
        """Route -> its Route value for one API: its configured routes only, when it has a list (`ANY /x`
        covers every method of /x); else its `routeCap` busiest routes. The rest are OTHER. Also returns
        how many distinct routes were folded into OTHER."""
        settings = self.config.apis.get(api_id) if api_id is not None else None
        cleaned = {route: sanitize_dimension_value(route) for route in weights}
        fixed = {ROUTE_UNMATCHED, ROUTE_OTHER}  # fixed values never use up the cap
        if settings is not None and settings.routes:
            allowed = settings.routes
            kept = {
                clean for clean in cleaned.values() if clean in allowed or "ANY " + clean.partition(" ")[2] in allowed
            }
        else:
            cap = settings.route_cap if settings is not None and settings.route_cap != DEFAULT_ROUTE_CAP else None
            by_clean: Counter[str] = Counter()
            for route, weight in weights.items():
                if cleaned[route] not in fixed:
                    by_clean[cleaned[route]] += weight
            kept = _top(by_clean, cap or self.default_route_cap)
        names = {route: clean if clean in kept or clean in fixed else ROUTE_OTHER for route, clean in cleaned.items()}
        folded = len({clean for clean in cleaned.values() if clean not in kept and clean not in fixed})
        return names, folded

    def _merged(self) -> tuple[dict[tuple[Minute, str, str], _StageTotals], dict[str, int]]:
        """The raw totals merged into (minute, Api, Stage), routes named; and the routes folded per Api."""
        dims = self._dimension_values()
        by_api: dict[str, list[_RawKey]] = {}
        for key, (api, _stage) in dims.items():
            by_api.setdefault(api, []).append(key)
        merged: dict[tuple[Minute, str, str], _StageTotals] = {}
        folded: dict[str, int] = {}
        for api, keys in by_api.items():
            route_weights: Counter[str] = Counter()
            for key in keys:
                for route, totals in self._raw[key].by_route.items():
                    route_weights[route] += totals.requests
            api_id = next((key[1] for key in keys if key[1] in self.config.apis), None) if api != UNKNOWN else None
            names, folded_here = self._route_names(api_id, route_weights)
            if folded_here:
                folded[api] = folded_here
            for key in keys:
                target = (key[0], *dims[key])
                into = merged.get(target)
                if into is None:
                    into = merged[target] = _StageTotals()
                into.add(self._raw[key], names)
        return merged, folded

    # -- output ----------------------------------------------------------------------------------
    def result(self, *, now_ms: int | None = None) -> InvocationMetrics:
        """The documents, one set per minute. With `now_ms`, a minute CloudWatch would not accept for a
        metric at that time is left out and its requests counted under Source "out-of-window"."""
        merged, folded = self._merged()
        docs: list[MetricDocument] = []
        late: Counter[str] = Counter()
        for (minute, api, stage), totals in merged.items():
            if now_ms is not None and minute is not None and not _in_window(minute, now_ms):
                late[SOURCE_ACCESS] += totals.requests
                late[SOURCE_EXECUTION] += sum(totals.causes.values())
                continue
            docs.extend(_stage_documents(minute, api, stage, totals))
        unparsed = self._lines_unparsed.copy()
        late = +late  # drop zero counts
        if late:
            unparsed[SOURCE_OUT_OF_WINDOW] += sum(late.values())
        for source in sorted(set(self._lines_parsed) | set(unparsed)):
            counts = {}
            if source not in _UNREAD_SOURCES:
                counts[METRIC_LINES_PARSED] = self._lines_parsed[source]
            counts[METRIC_LINES_UNPARSED] = unparsed[source]
            if self._lines_suspicious[source]:
                counts[METRIC_LINES_SUSPICIOUS] = self._lines_suspicious[source]
            docs.append(MetricDocument(((DIM_SOURCE, sanitize_dimension_value(source)),), counts))
        return InvocationMetrics(tuple(docs), folded, dict(late))


def _in_window(minute: int, now_ms: int) -> bool:
    """Would CloudWatch accept a metric of this minute now? (EMF: 14 days back, 2 hours ahead.)"""
    return now_ms - EMF_MAX_PAST_MS <= minute + MINUTE_MS - 1 and minute <= now_ms + EMF_MAX_FUTURE_MS


def _stage_documents(minute: Minute, api: str, stage: str, totals: _StageTotals) -> Iterable[MetricDocument]:
    """One minute of one (Api, Stage): its totals, its routes and its categories."""
    base = ((DIM_API, api), (DIM_STAGE, stage))
    if totals.requests:
        dists = {
            name: tuple(values)
            for name, values in (
                (METRIC_LATENCY, totals.latency),
                (METRIC_INTEGRATION_LATENCY, totals.integration_latency),
                (METRIC_GATEWAY_OVERHEAD, totals.overhead),
            )
            if values
        }
        counts = {
            METRIC_REQUESTS: totals.requests,
            METRIC_ERRORS_4XX: totals.errors_4xx,
            METRIC_ERRORS_5XX: totals.errors_5xx,
            METRIC_NEAR_TIMEOUT: totals.near_timeout,
        }
        yield MetricDocument(base, counts, dists, minute)
        for route_name, route in totals.by_route.items():
            if not route.requests:
                continue
            yield MetricDocument(
                base + ((DIM_ROUTE, route_name),),
                {
                    METRIC_REQUESTS: route.requests,
                    METRIC_ERRORS_4XX: route.errors_4xx,
                    METRIC_ERRORS_5XX: route.errors_5xx,
                },
                {METRIC_LATENCY: tuple(route.latency)} if route.latency else {},
                minute,
            )
    for category in sorted(set(totals.errors) | set(totals.causes), key=lambda c: c.value):
        by_category: dict[str, int] = {}
        if totals.errors[category]:
            by_category[METRIC_ERRORS] = totals.errors[category]
        if totals.causes[category]:
            by_category[METRIC_CAUSES] = totals.causes[category]
        yield MetricDocument(base + ((DIM_CATEGORY, category.value),), by_category, {}, minute)


def aggregate(
    analysis: Analysis,
    config: EngineConfig | None = None,
    *,
    route_cap: int | None = None,
    now_ms: int | None = None,
) -> InvocationMetrics:
    """The metrics of one invocation's Analysis (see the module docstring for the rules); with `now_ms`,
    minutes outside CloudWatch's window are counted instead of published."""
    return MetricAggregator(config, route_cap=route_cap).add_analysis(analysis).result(now_ms=now_ms)


__all__ = [
    "DISTRIBUTION_METRICS",
    "InvocationMetrics",
    "MetricAggregator",
    "MetricDocument",
    "aggregate",
    "sanitize_dimension_value",
]

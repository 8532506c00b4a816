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
  as the API definition has); otherwise the first `routeCap` distinct routes of an invocation keep
  their name and later ones become OTHER (routes only ever come from API Gateway's templates);
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


class _RouteNames:
    """The Route dimension values of one API: its configured routes only, when it has a list (`ANY /x`
    covers every method of /x); else the first `cap` distinct routes keep their (sanitised) name. The
    rest become OTHER."""

    __slots__ = ("allowed", "cap", "folded", "kept", "names")

    def __init__(self, cap: int, allowed: frozenset[str] = frozenset()) -> None:
        self.cap = cap
        self.allowed = allowed
        self.names: dict[str, str] = {}
        self.kept = 0
        self.folded = 0

    def _listed(self, route: str) -> bool:
        allowed = self.allowed
        return route in allowed or ("ANY " + route.partition(" ")[2]) in allowed

    def name(self, route: str) -> str:
        found = self.names.get(route)
        if found is not None:
            return found
        clean = sanitize_dimension_value(route)
        if clean in (ROUTE_UNMATCHED, ROUTE_OTHER):  # fixed values never use up the cap
            name = clean
        elif self.allowed:
            name = clean if self._listed(clean) else ROUTE_OTHER
            self.folded += name == ROUTE_OTHER
        elif self.kept < self.cap:
            self.kept += 1
            name = clean
        else:
            self.folded += 1
            name = ROUTE_OTHER
        self.names[route] = name
        return name


class _RouteTotals:
    __slots__ = ("errors_4xx", "errors_5xx", "latency", "requests")

    def __init__(self) -> None:
        self.requests = 0
        self.errors_4xx = 0
        self.errors_5xx = 0
        self.latency: list[float] = []


class _StageTotals:
    """Running totals for one (minute, Api, Stage)."""

    __slots__ = (
        "api",
        "by_raw_route",
        "by_route",
        "causes",
        "errors",
        "errors_4xx",
        "errors_5xx",
        "integration_latency",
        "latency",
        "minute",
        "near_timeout",
        "overhead",
        "requests",
        "routes",
        "stage",
    )

    def __init__(self, minute: Minute, api: str, stage: str, routes: _RouteNames) -> None:
        self.minute = minute
        self.api = api
        self.stage = stage
        self.routes = routes
        self.requests = 0
        self.errors_4xx = 0
        self.errors_5xx = 0
        self.near_timeout = 0
        self.latency: list[float] = []
        self.integration_latency: list[float] = []
        self.overhead: list[float] = []
        self.errors: Counter[ErrorCategory] = Counter()
        self.causes: Counter[ErrorCategory] = Counter()
        self.by_route: dict[str, _RouteTotals] = {}  # dimension value -> totals
        self.by_raw_route: dict[str, _RouteTotals] = {}  # route as classified -> the same totals (fast path)

    def route(self, raw: str) -> _RouteTotals:
        name = self.routes.name(raw)
        totals = self.by_route.get(name)
        if totals is None:
            totals = self.by_route[name] = _RouteTotals()
        self.by_raw_route[raw] = totals
        return totals


class MetricAggregator:
    """Accumulates classified requests of one invocation and produces its metric documents.

    `route_cap` is the default cap for APIs whose configuration does not set one (GATEWATCH_ROUTE_CAP);
    an API configured with its own routeCap keeps it.
    """

    def __init__(self, config: EngineConfig | None = None, *, route_cap: int | None = None) -> None:
        self.config = config or EngineConfig()
        self.default_route_cap = route_cap if route_cap and route_cap > 0 else self.config.default.route_cap
        self._stages: dict[tuple[Minute, str, str], _StageTotals] = {}
        # (minute, api_id, stage, api_name) as the requests carry them -> their totals
        self._by_raw: dict[tuple[Minute, str | None, str | None, str | None], _StageTotals] = {}
        self._dimensions: dict[tuple[str | None, str | None, str | None], tuple[str, str]] = {}
        self._route_names: dict[str, _RouteNames] = {}
        self._lines_parsed: Counter[str] = Counter()
        self._lines_unparsed: Counter[str] = Counter()
        self._lines_suspicious: Counter[str] = Counter()
        self._unconfigured: set[str] = set()  # api ids without configuration given an Api of their own
        self._stages_of: dict[str, set[str]] = {}  # Api -> the stages given a Stage of their own

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
        totals_for = self._totals_for
        by_raw = self._by_raw
        near = _NEAR_TIMEOUT
        ok = _OK
        for req in requests:
            ts = req.timestamp
            key = (None if ts is None else ts - ts % MINUTE_MS, req.api_id, req.stage, req.api_name)
            totals = by_raw.get(key)
            if totals is None:
                totals = totals_for(*key)
            totals.requests += 1
            route = totals.by_raw_route.get(req.route)
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
        for (minute, api_id, stage, api_name, raw_route), tally in tallies.items():
            key = (minute, api_id, stage, api_name)
            totals = self._by_raw.get(key) or self._totals_for(*key)
            route = totals.by_raw_route.get(raw_route) or totals.route(raw_route)
            totals.requests += tally.requests
            route.requests += tally.requests
            totals.near_timeout += tally.near_timeouts
            totals.latency.extend(tally.latency_ms)
            route.latency.extend(tally.latency_ms)
            totals.integration_latency.extend(tally.integration_latency_ms)
            totals.overhead.extend(tally.gateway_overhead_ms)

    def add_execution(self, requests: Iterable[ClassifiedRequest]) -> None:
        """Execution-log requests only add Causes (every non-OK one, by category, in its own minute)."""
        for req in requests:
            if req.category is _OK:
                continue
            ts = req.timestamp
            key = (None if ts is None else ts - ts % MINUTE_MS, req.api_id, req.stage, req.api_name)
            totals = self._by_raw.get(key) or self._totals_for(*key)
            totals.causes[req.category] += 1

    def _totals_for(self, minute: Minute, api_id: str | None, stage: str | None, api_name: str | None) -> _StageTotals:
        dims = self._dimensions.get((api_id, stage, api_name))
        if dims is None:
            dims = self._dimensions[(api_id, stage, api_name)] = self._dimensions_of(api_id, stage, api_name)
        api, stage_name = dims
        totals = self._stages.get((minute, api, stage_name))
        if totals is None:
            routes = self._route_names.get(api)
            if routes is None:
                routes = self._route_names[api] = self._routes_for(api_id)
            totals = self._stages[(minute, api, stage_name)] = _StageTotals(minute, api, stage_name, routes)
        self._by_raw[(minute, api_id, stage, api_name)] = totals
        return totals

    def _dimensions_of(self, api_id: str | None, stage: str | None, api_name: str | None) -> tuple[str, str]:
        """The (Api, Stage) dimension values of a request — bounded, whatever the lines say.

        With APIs configured, only they get an Api of their own; any other api id goes to the one
        bucket ("unknown", "unknown"). Without, an api id must look like one (10 lower-case letters or
        digits) and at most MAX_UNCONFIGURED_APIS get their own. A stage must look like a stage name,
        and each API has at most MAX_STAGES_PER_API; anything else is "unknown".
        """
        configured = self.config.apis
        if api_id is not None and api_id not in configured and not self._own_api(api_id):
            return UNKNOWN, UNKNOWN
        api = sanitize_dimension_value(api_name or self.config.display_name(api_id) or UNKNOWN)
        if stage is None or not STAGE_NAME.fullmatch(stage):
            return api, UNKNOWN
        stages = self._stages_of.setdefault(api, set())
        return api, (stage if self._admit(stages, stage, MAX_STAGES_PER_API) else UNKNOWN)

    def _own_api(self, api_id: str) -> bool:
        """May an api id nobody configured have an Api of its own? Only when nothing is configured."""
        if self.config.apis or not API_ID.fullmatch(api_id):
            return False
        return self._admit(self._unconfigured, api_id, MAX_UNCONFIGURED_APIS)

    @staticmethod
    def _admit(seen: set[str], value: str, cap: int) -> bool:
        if value in seen:
            return True
        if len(seen) >= cap:
            return False
        seen.add(value)
        return True

    def _routes_for(self, api_id: str | None) -> _RouteNames:
        settings = self.config.apis.get(api_id) if api_id is not None else None
        if settings is not None and settings.route_cap != DEFAULT_ROUTE_CAP:
            cap = settings.route_cap  # set explicitly for this API (routeCap)
        else:
            cap = self.default_route_cap
        return _RouteNames(cap, settings.routes if settings is not None else frozenset())

    # -- output ----------------------------------------------------------------------------------
    def result(self, *, now_ms: int | None = None) -> InvocationMetrics:
        """The documents, one set per minute. With `now_ms`, a minute CloudWatch would not accept for a
        metric at that time is left out and its requests counted under Source "out-of-window"."""
        docs: list[MetricDocument] = []
        late: Counter[str] = Counter()
        for totals in self._stages.values():
            minute = totals.minute
            if now_ms is not None and minute is not None and not _in_window(minute, now_ms):
                late[SOURCE_ACCESS] += totals.requests
                late[SOURCE_EXECUTION] += sum(totals.causes.values())
                continue
            docs.extend(_stage_documents(totals))
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
        folded = {api: names.folded for api, names in self._route_names.items() if names.folded}
        return InvocationMetrics(tuple(docs), folded, dict(late))


def _in_window(minute: int, now_ms: int) -> bool:
    """Would CloudWatch accept a metric of this minute now? (EMF: 14 days back, 2 hours ahead.)"""
    return now_ms - EMF_MAX_PAST_MS <= minute + MINUTE_MS - 1 and minute <= now_ms + EMF_MAX_FUTURE_MS


def _stage_documents(totals: _StageTotals) -> Iterable[MetricDocument]:
    """One minute of one (Api, Stage): its totals, its routes and its categories."""
    minute = totals.minute
    base = ((DIM_API, totals.api), (DIM_STAGE, totals.stage))
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

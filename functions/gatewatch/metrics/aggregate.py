"""Per-invocation metric aggregation: classified requests in, one `MetricDocument` per dimension combination out.

Why aggregate: EMF lines are billed as log ingestion and every dimension combination is a custom
metric, so a 10,000-event batch must become a handful of documents, not 10,000 lines (DESIGN §5).

The rules this module owns (the metric contract):
- access-log requests are the only source of Requests, Errors4xx/5xx, Errors, latencies, NearTimeout;
  execution-log requests only add Causes — a request in both logs is counted once in Requests;
- dimension sets: [Api, Stage], [Api, Stage, Route], [Api, Stage, Category], [Source];
- Api is the configured friendly name, else the api id, else "unknown";
- routes are capped per API and per invocation (first N distinct routes keep their name, the rest
  become OTHER) — there is no cross-invocation state, so the cap bounds one invocation's output;
- dimension values are sanitised (control characters removed, at most 250 characters, never empty).

Pure: no AWS, no I/O. Counts are summed; latencies are kept as raw values here and reduced to the
EMF limit of 100 values by `gatewatch.emf`.
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
    SOURCE_INPUT,
)
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
    """All metrics of one dimension-value combination — exactly one EMF document.

    `dimensions` is ordered (it is the EMF dimension set); `counts` are Count metrics summed over the
    invocation; `distributions` are Milliseconds values, raw (the EMF layer reduces them to ≤ 100).
    """

    dimensions: tuple[tuple[str, str], ...]
    counts: Mapping[str, int] = field(default_factory=dict)
    distributions: Mapping[str, tuple[float, ...]] = field(default_factory=dict)

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
    latest_timestamp_ms: int | None = None  # newest log-event time seen (the EMF timestamp), None if none
    routes_folded: Mapping[str, int] = field(default_factory=dict)  # Api -> distinct routes folded into OTHER

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
    """First `cap` distinct routes of one API keep their (sanitised) name; later ones become OTHER."""

    __slots__ = ("cap", "folded", "kept", "names")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.names: dict[str, str] = {}
        self.kept = 0
        self.folded = 0

    def name(self, route: str) -> str:
        found = self.names.get(route)
        if found is not None:
            return found
        clean = sanitize_dimension_value(route)
        if clean in (ROUTE_UNMATCHED, ROUTE_OTHER):  # fixed values never use up the cap
            name = clean
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
    """Running totals for one (Api, Stage)."""

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
        "near_timeout",
        "overhead",
        "requests",
        "routes",
        "stage",
    )

    def __init__(self, api: str, stage: str, routes: _RouteNames) -> None:
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
        self._stages: dict[tuple[str, str], _StageTotals] = {}
        self._by_raw: dict[tuple[str | None, str | None, str | None], _StageTotals] = {}
        self._route_names: dict[str, _RouteNames] = {}
        self._lines_parsed: Counter[str] = Counter()
        self._lines_unparsed: Counter[str] = Counter()
        self._lines_suspicious: Counter[str] = Counter()
        self._unconfigured: set[str] = set()  # api ids without configuration given an Api of their own
        self._stages_of: dict[str, set[str]] = {}  # Api -> the stages given a Stage of their own
        self._latest_ms: int | None = None

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
        latest = self._latest_ms
        for req in requests:
            key = (req.api_id, req.stage, req.api_name)
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
            ts = req.timestamp
            if ts is not None and (latest is None or ts > latest):
                latest = ts
        self._latest_ms = latest

    def add_successes(self, tallies: Mapping[tuple, RouteTally]) -> None:
        """Successful requests from the fast path, already tallied per (api_id, stage, api_name, route)."""
        latest = self._latest_ms
        for (api_id, stage, api_name, raw_route), tally in tallies.items():
            key = (api_id, stage, api_name)
            totals = self._by_raw.get(key) or self._totals_for(*key)
            route = totals.by_raw_route.get(raw_route) or totals.route(raw_route)
            totals.requests += tally.requests
            route.requests += tally.requests
            totals.near_timeout += tally.near_timeouts
            totals.latency.extend(tally.latency_ms)
            route.latency.extend(tally.latency_ms)
            totals.integration_latency.extend(tally.integration_latency_ms)
            totals.overhead.extend(tally.gateway_overhead_ms)
            ts = tally.latest_timestamp
            if ts is not None and (latest is None or ts > latest):
                latest = ts
        self._latest_ms = latest

    def add_execution(self, requests: Iterable[ClassifiedRequest]) -> None:
        """Execution-log requests only add Causes (every non-OK one, by category)."""
        latest = self._latest_ms
        for req in requests:
            ts = req.timestamp
            if ts is not None and (latest is None or ts > latest):
                latest = ts
            if req.category is _OK:
                continue
            key = (req.api_id, req.stage, req.api_name)
            totals = self._by_raw.get(key) or self._totals_for(*key)
            totals.causes[req.category] += 1
        self._latest_ms = latest

    def _totals_for(self, api_id: str | None, stage: str | None, api_name: str | None) -> _StageTotals:
        api, stage_name = self._dimensions_of(api_id, stage, api_name)
        totals = self._stages.get((api, stage_name))
        if totals is None:
            routes = self._route_names.get(api)
            if routes is None:
                routes = self._route_names[api] = _RouteNames(self._route_cap(api_id))
            totals = self._stages[(api, stage_name)] = _StageTotals(api, stage_name, routes)
        self._by_raw[(api_id, stage, api_name)] = totals
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

    def _route_cap(self, api_id: str | None) -> int:
        settings = self.config.apis.get(api_id) if api_id is not None else None
        if settings is not None and settings.route_cap != DEFAULT_ROUTE_CAP:
            return settings.route_cap  # set explicitly for this API (routeCap)
        return self.default_route_cap

    # -- output ----------------------------------------------------------------------------------
    def result(self) -> InvocationMetrics:
        docs: list[MetricDocument] = []
        for totals in self._stages.values():
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
                docs.append(
                    MetricDocument(
                        base,
                        {
                            METRIC_REQUESTS: totals.requests,
                            METRIC_ERRORS_4XX: totals.errors_4xx,
                            METRIC_ERRORS_5XX: totals.errors_5xx,
                            METRIC_NEAR_TIMEOUT: totals.near_timeout,
                        },
                        dists,
                    )
                )
                for route_name, route in totals.by_route.items():
                    docs.append(
                        MetricDocument(
                            base + ((DIM_ROUTE, route_name),),
                            {
                                METRIC_REQUESTS: route.requests,
                                METRIC_ERRORS_4XX: route.errors_4xx,
                                METRIC_ERRORS_5XX: route.errors_5xx,
                            },
                            {METRIC_LATENCY: tuple(route.latency)} if route.latency else {},
                        )
                    )
            for category in sorted(set(totals.errors) | set(totals.causes), key=lambda c: c.value):
                counts: dict[str, int] = {}
                if totals.errors[category]:
                    counts[METRIC_ERRORS] = totals.errors[category]
                if totals.causes[category]:
                    counts[METRIC_CAUSES] = totals.causes[category]
                docs.append(MetricDocument(base + ((DIM_CATEGORY, category.value),), counts))
        for source in sorted(set(self._lines_parsed) | set(self._lines_unparsed)):
            counts = {}
            if source != SOURCE_INPUT:  # "input" = undecodable records: nothing of it was ever parsed
                counts[METRIC_LINES_PARSED] = self._lines_parsed[source]
            counts[METRIC_LINES_UNPARSED] = self._lines_unparsed[source]
            if self._lines_suspicious[source]:
                counts[METRIC_LINES_SUSPICIOUS] = self._lines_suspicious[source]
            docs.append(MetricDocument(((DIM_SOURCE, sanitize_dimension_value(source)),), counts))
        folded = {api: names.folded for api, names in self._route_names.items() if names.folded}
        return InvocationMetrics(tuple(docs), self._latest_ms, folded)


def aggregate(
    analysis: Analysis, config: EngineConfig | None = None, *, route_cap: int | None = None
) -> InvocationMetrics:
    """The metrics of one invocation's Analysis (see the module docstring for the rules)."""
    return MetricAggregator(config, route_cap=route_cap).add_analysis(analysis).result()


__all__ = [
    "DISTRIBUTION_METRICS",
    "InvocationMetrics",
    "MetricAggregator",
    "MetricDocument",
    "aggregate",
    "sanitize_dimension_value",
]

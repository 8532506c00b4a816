"""Success tallies: the successful requests of one run, counted per route without a record each.

Why: in the Lambda nine requests in ten are successes whose only use is a count and three latency
distributions for their route. Tallying them in place (the analyzer's metrics-only mode) instead of
classifying each one is what makes the hot path fast. Failed requests are always classified in full.
The latency rules are gatewatch.classify.latency's, the route rule gatewatch.classify.routes'.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gatewatch.classify.latency import gateway_overhead_ms, is_near_timeout, latency_basis, valid_ms
from gatewatch.classify.routes import route_of
from gatewatch.models import AccessSummary, RouteTally

#: One minute: the epoch milliseconds of its start, or None for events without a time (published at "now").
Minute = int | None
#: (minute, api_id, stage, http_method, resource_path, route_key) -> RouteTally, until `route_tallies`.
RawTallies = dict[tuple[Minute, str | None, str | None, str | None, str | None, str | None], RouteTally]
#: (minute, api_id, stage, api_name, route) -> RouteTally: what the aggregator reads.
SuccessTallies = dict[tuple[Minute, str | None, str | None, str | None, str], RouteTally]

MINUTE_MS = 60_000


def minute_of(timestamp_ms: int | None) -> Minute:
    """The minute an event belongs to (metrics are published per minute of the events' own time)."""
    return None if timestamp_ms is None else timestamp_ms - timestamp_ms % MINUTE_MS


def minute_runs(timestamps: Sequence[int | None]) -> list[tuple[Minute, int, int]]:
    """(minute, start, end) of each run of consecutive events in one minute.

    A delivery's events are in time order and usually within one minute: that case is one min/max
    (in C), not a loop. A delivery that spans minutes (a backlog, a Kinesis retry) is split at each
    change of minute, so every request lands in its own minute.
    """
    n = len(timestamps)
    if not n:
        return []
    try:
        low, high = min(timestamps), max(timestamps)  # type: ignore[type-var]  # TypeError when one is None
    except TypeError:
        low = high = None
    if low is not None and high is not None and minute_of(low) == minute_of(high):
        return [(minute_of(low), 0, n)]
    runs: list[tuple[Minute, int, int]] = []
    current, start = minute_of(timestamps[0]), 0
    for i in range(1, n):
        minute = minute_of(timestamps[i])
        if minute != current:
            runs.append((current, start, i))
            current, start = minute, i
    runs.append((current, start, n))
    return runs


def owned(
    api_id: str | None, stage: str | None, owner_api: str | None, owner_stage: str | None
) -> tuple[str | None, str | None]:
    """A line without an api id belongs to its log group's API (GATEWATCH_APIS accessLogGroup), and to
    that API's stage unless it names one."""
    if api_id is None and owner_api is not None:
        return owner_api, stage or owner_stage
    return api_id, stage


def tally_success(
    tallies: RawTallies, summary: AccessSummary, api_id: str | None, stage: str | None, near_timeout_ms: float
) -> None:
    """Count one successful request in its route's tally (the tally is keyed by the route's parts; the
    route text is made once per key, see `route_tallies`)."""
    key = (minute_of(summary.timestamp), api_id, stage, summary.http_method, summary.resource_path, summary.route_key)
    tally = tallies.get(key)
    if tally is None:
        tally = tallies[key] = RouteTally()
    tally.requests += 1
    latency, integration = summary.response_latency_ms, summary.integration_latency_ms
    if is_near_timeout(latency_basis(latency, integration), near_timeout_ms):
        tally.near_timeouts += 1
    if valid_ms(latency):
        tally.latency_ms.append(latency)  # type: ignore[arg-type]  # valid_ms: not None
    if valid_ms(integration):
        tally.integration_latency_ms.append(integration)  # type: ignore[arg-type]  # valid_ms: not None
    overhead = gateway_overhead_ms(latency, integration, summary.authorizer_latency_ms)
    if overhead is not None:
        tally.gateway_overhead_ms.append(overhead)


def tally_summary(
    tallies: RawTallies,
    summary: AccessSummary,
    near_for: Mapping[Any, float],
    default_near: float,
    owner_api: str | None,
    owner_stage: str | None,
) -> tuple[str | None, str | None, float]:
    """Tally one successful request's AccessSummary; returns the (api id, stage, near-timeout threshold) used."""
    api_id, stage = owned(summary.api_id, summary.stage, owner_api, owner_stage)
    near = near_for.get(api_id, default_near)
    tally_success(tallies, summary, api_id, stage, near)
    return api_id, stage, near


def route_tallies(tallies: RawTallies, name_for: Callable[[str | None], str | None]) -> SuccessTallies:
    """Raw tallies per (minute, api_id, stage, method, resource path, route key) -> per (minute, api_id,
    stage, api_name, route)."""
    out: SuccessTallies = {}
    for (minute, api_id, stage, method, resource_path, route_key), tally in tallies.items():
        key = (minute, api_id, stage, name_for(api_id), route_of(method, resource_path, route_key))
        out[key] = out[key].merge(tally) if key in out else tally
    return out

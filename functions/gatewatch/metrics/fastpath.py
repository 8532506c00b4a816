"""The analyzer's metrics-only fast path: successful JSON access lines go straight into per-route tallies.

Why: in the Lambda, nine requests in ten are successes whose only use is a count and three latencies
for their route. Each line of a delivery is decoded with its layout's typed msgspec decoder — the
nine summary fields only, unknown keys skipped — and a success updates its RouteTally in place.
Everything else is handed back for the full path (classify, evidence, alerts), parsed once.

A line is decoded typed only when its quote count is exactly its layout's clean count (see
gatewatch.parse.layouts and gatewatch.parse.trust): an injected key adds quotes, so such a line is
read in full, where duplicate keys are found. The layout itself comes from the last line read in
full: the first line of a delivery, or one whose keys differ. The rules are `metrics.tally`'s and the
property tests prove the metrics identical to the full path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec
import orjson

from gatewatch.metrics.tally import Minute, RawTallies, owned, tally_summary
from gatewatch.models import AccessRecord, Rejection, RouteTally
from gatewatch.parse.access import has_object_value
from gatewatch.parse.layouts import JsonLayouts, KeyLayout
from gatewatch.parse.trust import has_shadowed_keys
from gatewatch.parse.values import MILLISECONDS, SUCCESS_STATUS, text_value

_UNSET = msgspec.UNSET
_astuple = msgspec.structs.astuple
_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError)

#: (tally, near-timeout threshold, and the bound appends of its three latency lists)
RouteEntry = tuple[RouteTally, float, Any, Any, Any]
#: Reads one line in full: (its parsed object, or None when it is not parsed yet; the line; its event time)
ReadLine = Callable[["dict[str, Any] | None", str, "int | None"], "AccessRecord | Rejection"]


class _RouteEntries(dict[tuple[Any, ...], RouteEntry]):
    """The route entries of one minute of a delivery, keyed by the route fields exactly as the lines
    carry them (api, stage, method, resource path, route key; absent ones None).

    Why: normalising those strings per line ("-" and "" mean absent, numbers become text, the log
    group's API fills a missing api id) cost more than the rest of a line's tally. Lines of one route
    repeat the same raw values, so each distinct raw key is normalised once, in `__missing__`.

    Only keys whose values are all strings (or null) are remembered: `1`, `1.0` and `true` are equal
    dict keys but not the same text, so a key holding a number is normalised every time.
    """

    __slots__ = ("default_near", "minute", "near_for", "owner_api", "owner_stage", "tallies")

    def __init__(
        self,
        tallies: RawTallies,
        minute: Minute,
        near_for: Mapping[Any, float],
        default_near: float,
        owner_api: str | None,
        owner_stage: str | None,
    ) -> None:
        super().__init__()
        self.tallies = tallies
        self.minute = minute
        self.near_for = near_for
        self.default_near = default_near
        self.owner_api = owner_api
        self.owner_stage = owner_stage

    def __missing__(self, raw: tuple[Any, ...]) -> RouteEntry:
        api, stage, method, resource, route_key = map(text_value, raw)
        api, stage = owned(api, stage, self.owner_api, self.owner_stage)
        key = (self.minute, api, stage, method, resource, route_key)
        tally = self.tallies.get(key)
        if tally is None:
            tally = self.tallies[key] = RouteTally()
        entry = (
            tally,
            self.near_for.get(api, self.default_near),
            tally.latency_ms.append,
            tally.integration_latency_ms.append,
            tally.gateway_overhead_ms.append,
        )
        if all(v.__class__ is str or v is None for v in raw):
            self[raw] = entry
        return entry


def tally_json_lines(
    messages: Sequence[str],
    timestamps: Sequence[int | None],
    *,
    minute: Minute,
    read: ReadLine,
    layouts: JsonLayouts,
    tallies: RawTallies,
    near_for: Mapping[Any, float],
    default_near: float,
    owner_api: str | None,
    owner_stage: str | None,
) -> tuple[list[AccessRecord | Rejection], dict[frozenset[str], int]]:
    """Tally every successful line of one minute of a delivery (all its events are in `minute`, see
    `metrics.tally.minute_runs`); returns the other lines read in full by `read` — in line order, as
    the full path reads them, so the layouts learned on the way are the same — and, per set of fields a
    layout carries, how many lines were tallied (the report's format summary).

    Each line is decoded on its own: one parse of the lines joined into an array would be unsafe, as a
    crafted user agent can leave an array open and swallow the next request's line into its own.
    """
    rest: list[AccessRecord | Rejection] = []
    counts: dict[KeyLayout, int] = {}
    entries = _RouteEntries(tallies, minute, near_for, default_near, owner_api, owner_stage)
    layout: KeyLayout | None = None
    decode: Any = None
    quotes = -2  # no line has a negative count: nothing is decoded typed until a layout is known
    tallied = 0  # successes of the current layout since it became current
    status_of, ms = SUCCESS_STATUS, MILLISECONDS
    for i, line in enumerate(messages):
        if line.count('"') == quotes:
            try:
                values = _astuple(decode(line))[:9]
            except _DECODE_ERRORS:
                rest.append(read(None, line, timestamps[i]))
                continue
            if _UNSET not in values:
                # _tally_typed, inlined: this runs once per successful request
                if status_of[values[0]] is None:
                    rest.append(read(None, line, timestamps[i]))
                    continue
                try:
                    latency, integration, authorizer = ms[values[6]], ms[values[7]], ms[values[8]]
                except (ValueError, TypeError):
                    rest.append(read(None, line, timestamps[i]))
                    continue
                tally, near, add_latency, add_integration, add_overhead = entries[values[1:6]]
                tally.requests += 1
                basis = integration if integration is not None else latency
                if basis is not None and basis >= near:
                    tally.near_timeouts += 1
                if integration is not None:
                    add_integration(integration)
                if latency is not None:
                    add_latency(latency)
                    if integration is not None:
                        overhead = latency - integration - (authorizer or 0.0)
                        add_overhead(overhead if overhead > 0.0 else 0.0)
                tallied += 1
                continue
        # Read in full: the first line, a new layout, an odd value or an injected key.
        obj, seen, success = _generic_line(
            line, timestamps[i], layouts, tallies, near_for, default_near, owner_api, owner_stage
        )
        if seen is not None and seen is not layout:
            if layout is not None and tallied:
                counts[layout] = counts.get(layout, 0) + tallied
            layout, tallied = seen, 0
        if layout is not None and layout.quotes >= 0 and layout.summary_decoder is not None:
            decode, quotes = layout.summary_decoder.decode, layout.quotes
        if success:
            tallied += 1
        else:
            rest.append(read(obj, line, timestamps[i]))
    if layout is not None and tallied:
        counts[layout] = counts.get(layout, 0) + tallied
    present: dict[frozenset[str], int] = {}
    for known, n in counts.items():  # two key layouts (e.g. camelCase and snake_case) can carry the same fields
        present[known.present] = present.get(known.present, 0) + n
    return rest, present


def _generic_line(
    line: str,
    timestamp: int | None,
    layouts: JsonLayouts,
    tallies: RawTallies,
    near_for: Mapping[Any, float],
    default_near: float,
    owner_api: str | None,
    owner_stage: str | None,
) -> tuple[dict[str, Any] | None, KeyLayout | None, bool]:
    """Parse one line in full and tally it when it is a clean success.

    Returns (its parsed object for the full path — None when it did not parse as an object —, the
    layout of a clean line, whether it was tallied). A clean line teaches its layout its quote count.
    """
    try:
        obj = orjson.loads(line)
    except (ValueError, TypeError):  # orjson.JSONDecodeError is a ValueError; the full path repairs it
        return None, None, False
    if obj.__class__ is not dict:
        return None, None, False
    if has_object_value(obj) or has_shadowed_keys(line, obj):
        return obj, None, False  # the full path flattens it, or reads it distrustfully
    layout = layouts.layout_for(obj)
    if layout.injected:
        return obj, None, False
    layout.learn_quotes(line)
    try:
        summary = layout.summarize(obj, timestamp)
    except TypeError:
        return obj, layout, False
    if summary is None:
        return obj, layout, False
    tally_summary(tallies, summary, near_for, default_near, owner_api, owner_stage)
    return None, layout, True

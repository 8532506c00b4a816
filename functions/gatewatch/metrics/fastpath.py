"""The analyzer's metrics-only fast path: successful JSON access lines go straight into per-route tallies.

Why: in the Lambda, nine requests in ten are successes whose only use is a count and three latencies
for their route. Reading them into an AccessRecord, classifying them into a ClassifiedRequest and
aggregating those objects cost more than everything else per event (bench/). Here each line of a
delivery is parsed with one orjson call and, per key layout, a loop generated once reads its status,
API, stage, route parts and latencies, updates its RouteTally in place and drops the line. Anything
that is not a 2xx/3xx JSON line is handed back, parsed, for the full path (classify, alerts).

The rules are `classify.tally_success`'s; the generated function is checked against it on a real
line before it is used, and tests prove the metrics identical to the full path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from gatewatch.metrics.tally import owned, tally_success, tally_summary
from gatewatch.models import RouteTally
from gatewatch.parse.access import NOT_JSON, has_object_value
from gatewatch.parse.layouts import SUMMARY_FIELDS, json_layout, summary_read_statements
from gatewatch.parse.values import text_value

_COMPILE_AFTER = 8
_UNREAD = object()  # "the next line is not parsed yet"

#: tally(obj, timestamp, tallies, near_for, default_near, owner_api, owner_stage) -> tallied?
Tally = Callable[[dict[str, Any], "int | None", dict, Mapping[Any, float], float, "str | None", "str | None"], bool]


class GenericTally:
    """The first lines of a layout: summarize + tally_success; compiles the layout's own function after a few.

    The compiled function is checked against `tally_success` on a line before it takes over. A line it
    cannot read (an odd value raises) proves nothing: the check waits for the next line. A line it
    reads differently keeps the layout on this generic path for good.
    """

    __slots__ = ("compiled", "plan", "uses")

    def __init__(self, plan: Any) -> None:
        self.plan = plan
        self.uses = 0
        self.compiled: Any = None  # (single, run) once generated; _GAVE_UP when it read a line differently

    def __call__(
        self,
        obj: dict[str, Any],
        timestamp: int | None,
        tallies: dict,
        near_for: Mapping[Any, float],
        default_near: float,
        owner_api: str | None,
        owner_stage: str | None,
    ) -> bool:
        summary = self.plan.summarize(obj, timestamp)
        if summary is None:
            return False
        api_id, stage, near = tally_summary(tallies, summary, near_for, default_near, owner_api, owner_stage)
        self.uses += 1
        # A risky layout stays here, where each line is checked for object values (the loop does not check).
        if self.uses >= _COMPILE_AFTER and self.compiled is not _GAVE_UP and not self.plan.risky:
            self._check_compiled(
                summary, api_id, stage, near, obj, timestamp, near_for, default_near, owner_api, owner_stage
            )
        return True  # the line is tallied, whatever the check found

    def _check_compiled(
        self,
        summary: Any,
        api_id: str | None,
        stage: str | None,
        near: float,
        obj: dict[str, Any],
        timestamp: int | None,
        near_for: Mapping[Any, float],
        default_near: float,
        owner_api: str | None,
        owner_stage: str | None,
    ) -> None:
        if self.compiled is None:
            self.compiled = _compile(self.plan)
        single, run = self.compiled
        mine: dict = {}
        theirs: dict = {}
        tally_success(theirs, summary, api_id, stage, near)
        try:
            read = single(obj, timestamp, mine, near_for, default_near, owner_api, owner_stage)
        except (ValueError, TypeError, OverflowError):
            return  # a value the compiled reader leaves to the full path: check on the next line
        if read and mine == theirs:
            self.plan.tally = run  # checked before use: from now on the layout's lines run in one loop
        else:
            self.compiled = _GAVE_UP


_GAVE_UP = object()


class _RouteEntries(dict):
    """One delivery's route entries for one key layout, keyed by the route fields exactly as the lines
    carry them (`raw`: the layout's api, stage, method, resource path, route key that are present).

    Why: normalising those strings per line ("-" and "" mean absent, numbers become text, the log
    group's API fills a missing api id) cost more than the rest of a line's tally. Lines of one route
    repeat the same raw values, so each distinct raw key is normalised once, in `__missing__`; the
    generated loop finds its entry with one lookup. An entry is (tally, near-timeout threshold, and
    the bound appends of its three latency lists).

    Only keys whose values are all strings (or null) are remembered: `1`, `1.0` and `true` are equal
    dict keys but not the same text, so a key holding a number is normalised every time. Every tally
    handed out is noted in `touched` (the delivery's newest timestamp is set on those afterwards).
    """

    __slots__ = ("default_near", "near_for", "owner_api", "owner_stage", "positions", "tallies", "touched")

    def __init__(
        self,
        positions: tuple[int | None, ...],
        tallies: dict,
        near_for: Mapping[Any, float],
        default_near: float,
        owner_api: str | None,
        owner_stage: str | None,
        touched: list,
    ) -> None:
        super().__init__()
        self.positions = positions
        self.tallies = tallies
        self.near_for = near_for
        self.default_near = default_near
        self.owner_api = owner_api
        self.owner_stage = owner_stage
        self.touched = touched

    def __missing__(self, raw: tuple) -> tuple:
        api, stage, method, resource, route_key = (None if p is None else text_value(raw[p]) for p in self.positions)
        api, stage = owned(api, stage, self.owner_api, self.owner_stage)
        key = (api, stage, method, resource, route_key)
        tally = self.tallies.get(key)
        if tally is None:
            tally = self.tallies[key] = RouteTally()
        self.touched.append(tally)
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


def _set_latest(touched: list, timestamps: Sequence[int | None]) -> None:
    """The newest event time of a delivery onto the tallies it added to (the EMF timestamp; see aggregate)."""
    if touched:
        newest = max(filter(None, timestamps), default=None)
        if newest is not None:
            for tally in touched:
                if tally.latest_timestamp is None or newest > tally.latest_timestamp:
                    tally.latest_timestamp = newest


_ROUTE_FIELDS = ("api_id", "stage", "http_method", "resource_path", "route_key")


class _Layout:
    """The route fields one key layout carries: the raw key is their values, in `_ROUTE_FIELDS` order;
    `positions` says where each of the five is in it (None: the layout lacks it)."""

    __slots__ = ("positions", "present")

    def __init__(self, plan: Any) -> None:
        keys = dict(zip(SUMMARY_FIELDS, plan.summary_keys, strict=False))
        self.present = [SUMMARY_FIELDS.index(name) for name in _ROUTE_FIELDS if keys[name] is not None]
        order = [name for name in _ROUTE_FIELDS if keys[name] is not None]
        self.positions = tuple(order.index(name) if name in order else None for name in _ROUTE_FIELDS)

    def raw_key(self) -> str:
        """The expression of the raw key in the generated source (the `v<n>` summary_read_statements read)."""
        names = [f"v{n}" for n in self.present]
        return f"({', '.join(names)}{',' if len(names) == 1 else ''})"


def _compile(plan: Any) -> tuple[Tally, Callable[..., tuple[int, int, Any]]]:
    """Generate the layout's tally functions from one set of statements: `tally` for one line (checked
    against the generic rules before use) and `run`, the same statements in a loop over consecutive
    lines of this layout (no call per line). The source holds only generated names: the line's keys are
    passed in as default-argument values, never as source text (as in access._compile_reader).

    The status and latencies are table lookups; a value the tables do not cover raises, and that line
    goes down the full path, which judges it as parse_access_line does. The newest timestamp is set
    per delivery (`_set_latest`), not per line.
    """
    layout = _Layout(plan)
    defaults = ["_dict=dict", "_tuple=tuple"]
    env: dict[str, Any] = {
        "_RouteEntries": _RouteEntries,
        "_set_latest": _set_latest,
        "_positions": layout.positions,
        "_loads": orjson.loads,
        "_UNREAD": _UNREAD,
        "_NOT_JSON": NOT_JSON,
    }
    reads = summary_read_statements(plan, env, defaults, "REJECT", raw_strings=True)
    names = {field_name: f"f{n}" for n, field_name in enumerate(SUMMARY_FIELDS)}
    rl, il, al = names["response_latency_ms"], names["integration_latency_ms"], names["authorizer_latency_ms"]
    has_authorizer = plan.summary_keys[SUMMARY_FIELDS.index("authorizer_latency_ms")] is not None
    reads.append(f"t, near, add_latency, add_integration, add_overhead = entries[{layout.raw_key()}]")
    updates = (
        [
            "t.requests += 1",
            f"basis = {il} if {il} is not None else {rl}",
            "if basis is not None and basis >= near:",
            "    t.near_timeouts += 1",
            f"if {rl} is not None:",
            f"    add_latency({rl})",
            f"    if {il} is not None:",
            f"        add_integration({il})",
            f"        o = {rl} - {il}",
        ]
        + ([f"        if {al} is not None:", f"            o -= {al}"] if has_authorizer else [])
        + [
            "        add_overhead(o if o > 0 else 0.0)",
            f"elif {il} is not None:",
            f"    add_integration({il})",
        ]
    )

    def indent(lines: list[str], spaces: int, reject: str) -> list[str]:
        out = []
        for line in lines:
            stripped = line.lstrip(" ")
            pad = " " * (spaces + len(line) - len(stripped))
            if stripped == "REJECT":
                out += [pad + r for r in reject.split("\n")]
            else:
                out.append(pad + stripped)
        return out

    single = (
        [
            "def tally(obj, timestamp, tallies, near_for, default_near, owner_api, owner_stage, "
            + ", ".join(defaults)
            + ", _RouteEntries=_RouteEntries, _set_latest=_set_latest, "
            "_positions=_positions):",
            "    touched = []",
            "    entries = _RouteEntries(_positions, tallies, near_for, default_near, owner_api, owner_stage, touched)",
        ]
        + indent(reads, 4, "return False")
        + indent(updates, 4, "")
        + ["    _set_latest(touched, (timestamp,))", "    return True"]
    )
    # The next line: parsed here, and handed back (with where the run stopped) when it ends the run.
    advance = [
        "i += 1",
        "if i == n:",
        "    return i, (i - start) - (len(rest) - rejected), _UNREAD",
        "try:",
        "    obj = _loads(messages[i])",
        "except (ValueError, TypeError):",
        "    return i, (i - start) - (len(rest) - rejected), _NOT_JSON",
        "if obj.__class__ is not _dict or _tuple(obj) != keys:",
        "    return i, (i - start) - (len(rest) - rejected), obj",
    ]
    run = (
        [
            "def run(messages, start, n, obj, keys, entries, rest, _loads=_loads, _UNREAD=_UNREAD, "
            "_NOT_JSON=_NOT_JSON, " + ", ".join(defaults) + "):",
            "    rejected = len(rest)",
            "    i = start",
            "    while True:",
            "        try:",
        ]
        + indent(reads, 12, "\n".join(["rest.append((i, obj))"] + advance + ["continue"]))
        + [
            "        except (ValueError, TypeError, OverflowError):",
            "            rest.append((i, obj))  # an odd value: the full path judges the line (nothing tallied yet)",
        ]
        + indent(advance + ["continue"], 12, "")
        + indent(updates, 8, "")
        + indent(advance, 8, "")
    )
    source = "\n".join(single) + "\n\n\n" + "\n".join(run) + "\n"
    exec(compile(source, "<gatewatch.fastpath>", "exec"), env)  # noqa: S102 - generated, see docstring
    return env["tally"], _with_layout(env["run"], layout)


def _with_layout(run: Callable[..., tuple[int, int, Any]], layout: _Layout) -> Callable[..., tuple[int, int, Any]]:
    """`run(messages, start, n, obj, keys, entries, rest)` -> (where it stopped, lines tallied, the parsed
    line there or _UNREAD/NOT_JSON), with its layout attached (tally_json_lines keys route entries by it)."""
    run.layout = layout  # type: ignore[attr-defined]
    return run


def tally_json_lines(
    messages: Sequence[str],
    timestamps: Sequence[int | None],
    *,
    field_map: Mapping[str, str] | None,
    tallies: dict,
    near_for: Mapping[Any, float],
    default_near: float,
    owner_api: str | None,
    owner_stage: str | None,
) -> tuple[list[tuple[int, Any]], dict[frozenset, int]]:
    """Parse and tally every successful line of a delivery; returns the others as (index, parsed object
    or `NOT_JSON`), for the full path, and per key layout how many lines were tallied
    (`fields_present` -> count).

    Each line is parsed on its own, in the loop that tallies it, and a success is dropped at once, so
    only the failures' objects outlive the loop (the handler's peak memory fell from 26 to 23 MB).
    One parse of the lines joined into an array would be unsafe: API Gateway does not escape values,
    so a crafted user agent can leave an array open and swallow the next request's line into its own.
    """
    rest: list[tuple[int, Any]] = []
    layouts: dict[Any, int] = {}
    entries_by_plan: dict[Any, _RouteEntries] = {}
    touched: list[RouteTally] = []
    loads = orjson.loads
    i, n = 0, len(messages)
    obj: Any = _UNREAD
    while i < n:
        if obj is _UNREAD:
            try:
                obj = loads(messages[i])
            except (ValueError, TypeError):  # orjson.JSONDecodeError is a ValueError
                obj = NOT_JSON
        if obj.__class__ is not dict:
            rest.append((i, obj))
            i, obj = i + 1, _UNREAD
            continue
        plan = json_layout(obj, field_map)
        tally = plan.tally
        if plan.risky and has_object_value(obj):  # the full path flattens it first (see _Plan.risky)
            rest.append((i, obj))
            i, obj = i + 1, _UNREAD
            continue
        if tally is None:
            tally = plan.tally = GenericTally(plan)
        if tally.__class__ is GenericTally:
            try:
                tallied = tally(obj, timestamps[i], tallies, near_for, default_near, owner_api, owner_stage)
            except (ValueError, TypeError, OverflowError):
                tallied = False  # an odd value: the full path judges the line (nothing was tallied yet)
            if tallied:
                layouts[plan] = layouts.get(plan, 0) + 1
            else:
                rest.append((i, obj))
            i, obj = i + 1, _UNREAD
            continue
        # The compiled loop takes the following lines of exactly this key layout in one call (a line with
        # other keys ends the run: a layout that lacks a key could otherwise misread another's line).
        entries = entries_by_plan.get(plan)
        if entries is None:
            entries = entries_by_plan[plan] = _RouteEntries(
                tally.layout.positions, tallies, near_for, default_near, owner_api, owner_stage, touched
            )
        i, count, obj = tally(messages, i, n, obj, tuple(obj), entries, rest)
        layouts[plan] = layouts.get(plan, 0) + count
    _set_latest(touched, timestamps)
    counts: dict[frozenset, int] = {}
    for plan, c in layouts.items():  # two key layouts (e.g. camelCase and snake_case) can carry the same fields
        if c:
            counts[plan.present] = counts.get(plan.present, 0) + c
    return rest, counts

"""The analyzer's metrics-only fast path: successful JSON access lines go straight into per-route tallies.

Why: in the Lambda, nine requests in ten are successes whose only use is a count and three latencies
for their route. Reading them into an AccessRecord, classifying them into a ClassifiedRequest and
aggregating those objects cost more than everything else per event (bench/). Here a delivery is
parsed with one orjson call (`access.load_json_lines`) and, per key layout, a function generated once
reads a line's status, API, stage, route parts and latencies and updates its RouteTally in place.
Anything that is not a 2xx/3xx JSON line is handed back for the full path (parse, classify, alerts).

The rules are `classify.tally_success`'s; the generated function is checked against it on a real
line before it is used, and tests prove the metrics identical to the full path.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from .access import _SUMMARY_FIELDS, json_layout, summary_read_statements
from .classify import tally_success
from .models import RouteTally

_COMPILE_AFTER = 8
_INF = float("inf")

#: tally(obj, timestamp, tallies, near_for, default_near, owner_api, owner_stage) -> tallied?
Tally = Callable[[dict[str, Any], "int | None", dict, Mapping[Any, float], float, "str | None", "str | None"], bool]


class _GenericTally:
    """The first lines of a layout: summarize + tally_success; compiles the layout's own function after a few."""

    __slots__ = ("plan", "uses")

    def __init__(self, plan: Any) -> None:
        self.plan = plan
        self.uses = 0

    def __call__(self, obj: dict[str, Any], timestamp: int | None, tallies: dict, near_for: Mapping[Any, float],
                 default_near: float, owner_api: str | None, owner_stage: str | None) -> bool:
        summary = self.plan.summarize(obj, timestamp)
        if summary is None:
            return False
        api_id, stage = summary.api_id, summary.stage
        if api_id is None and owner_api is not None:
            api_id, stage = owner_api, stage or owner_stage
        tally_success(tallies, summary, api_id, stage, near_for.get(api_id, default_near))
        self.uses += 1
        if self.uses == _COMPILE_AFTER:
            single, run = _compile(self.plan)
            mine: dict = {}
            theirs: dict = {}
            tally_success(theirs, summary, api_id, stage, near_for.get(api_id, default_near))
            if single(obj, timestamp, mine, near_for, default_near, owner_api, owner_stage) and mine == theirs:
                self.plan.tally = run  # checked before use: from now on the layout's lines run in one loop
        return True


def _compile(plan: Any) -> tuple[Tally, Callable[..., tuple[int, int]]]:
    """Generate the layout's tally functions from one set of statements: `tally` for one line (checked
    against the generic rules before use) and `run`, the same statements in a loop over consecutive
    lines of this layout (no call per line). The source holds only generated names: the line's keys are
    passed in as default-argument values, never as source text (as in access._compile_reader).

    Conversions are inline (`int(v)`, `float(v)` on the usual strings); anything they refuse raises, and
    that line goes down the full path, which judges it as parse_access_line does.
    """
    defaults = ["_RouteTally=_RouteTally", "_INF=_INF", "_dict=dict", "_tuple=tuple"]
    env: dict[str, Any] = {"_RouteTally": RouteTally, "_INF": _INF}
    reads = summary_read_statements(plan, env, defaults, "REJECT")  # REJECT: where a non-success leaves
    names = {field_name: f"f{n}" for n, field_name in enumerate(_SUMMARY_FIELDS)}
    api, stage = names["api_id"], names["stage"]
    rl, il, al = names["response_latency_ms"], names["integration_latency_ms"], names["authorizer_latency_ms"]
    updates = [
        f"if {api} is None and owner_api is not None:",
        f"    {api} = owner_api",
        f"    {stage} = {stage} or owner_stage",
        f"key = ({api}, {stage}, {names['http_method']}, {names['resource_path']}, {names['route_key']})",
        "t = tallies.get(key)",
        "if t is None:",
        "    t = tallies[key] = _RouteTally()",
        "t.requests += 1",
        f"basis = {il} if {il} is not None else {rl}",
        f"if basis is not None and basis >= near_for.get({api}, default_near):",
        "    t.near_timeouts += 1",
        f"rl_ok = {rl} is not None and 0 <= {rl} < _INF",
        "if rl_ok:",
        f"    t.latency_ms.append({rl})",
        f"if {il} is not None and 0 <= {il} < _INF:",
        f"    t.integration_latency_ms.append({il})",
        "    if rl_ok:",
        f"        o = {rl} - {il}",
        f"        if {al} is not None:",
        f"            o -= {al}",
        "        t.gateway_overhead_ms.append(o if o > 0 else 0.0)",
        "if timestamp is not None and (t.latest_timestamp is None or timestamp > t.latest_timestamp):",
        "    t.latest_timestamp = timestamp",
    ]

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

    single = (["def tally(obj, timestamp, tallies, near_for, default_near, owner_api, owner_stage, "
               + ", ".join(defaults) + "):"]
              + indent(reads, 4, "return False") + indent(updates, 4, "") + ["    return True"])
    run = (["def run(objs, i, n, timestamps, keys, tallies, near_for, default_near, owner_api, owner_stage, rest, "
            + ", ".join(defaults) + "):",
            "    count = 0",
            "    while i < n:",
            "        obj = objs[i]",
            "        if obj.__class__ is not _dict or _tuple(obj) != keys:",
            "            break",
            "        timestamp = timestamps[i]",
            "        try:"]
           + indent(reads, 12, "rest.append(i)\ni += 1\ncontinue")
           + ["        except (ValueError, TypeError, OverflowError):",
              "            rest.append(i)  # an odd value: the full path judges the line (nothing tallied yet)",
              "            i += 1",
              "            continue"]
           + indent(updates, 8, "")
           + ["        count += 1", "        i += 1", "    return i, count"])
    source = "\n".join(single) + "\n\n\n" + "\n".join(run) + "\n"
    exec(compile(source, "<gatewatch.fastpath>", "exec"), env)  # noqa: S102 - generated, see docstring
    return env["tally"], env["run"]


def tally_json_lines(objs: Sequence[Any], timestamps: Sequence[int | None], *, field_map: Mapping[str, str] | None,
                     tallies: dict, near_for: Mapping[Any, float], default_near: float, owner_api: str | None,
                     owner_stage: str | None) -> tuple[list[int], dict[frozenset, int]]:
    """Tally every successful line of a parsed delivery; returns the indices of the others (for the full
    path) and, per key layout, how many lines were tallied (`fields_present` -> count)."""
    rest: list[int] = []
    layouts: dict[Any, int] = {}
    i, n = 0, len(objs)
    while i < n:
        obj = objs[i]
        if obj.__class__ is not dict:
            rest.append(i)
            i += 1
            continue
        plan = json_layout(obj, field_map)
        tally = plan.tally
        if plan.nested:
            rest.append(i)
            i += 1
            continue
        if tally is None:
            tally = plan.tally = _GenericTally(plan)
        if tally.__class__ is _GenericTally:
            try:
                tallied = tally(obj, timestamps[i], tallies, near_for, default_near, owner_api, owner_stage)
            except (ValueError, TypeError, OverflowError):
                tallied = False  # an odd value: the full path judges the line (nothing was tallied yet)
            if tallied:
                layouts[plan] = layouts.get(plan, 0) + 1
            else:
                rest.append(i)
            i += 1
            continue
        # The compiled loop takes the following lines of exactly this key layout in one call (a line with
        # other keys ends the run: a layout that lacks a key could otherwise misread another's line).
        i, count = tally(objs, i, n, timestamps, tuple(obj), tallies, near_for, default_near, owner_api,
                         owner_stage, rest)
        layouts[plan] = layouts.get(plan, 0) + count
    counts: dict[frozenset, int] = {}
    for plan, c in layouts.items():  # two key layouts (e.g. camelCase and snake_case) can carry the same fields
        if c:
            counts[plan.present] = counts.get(plan.present, 0) + c
    return rest, counts

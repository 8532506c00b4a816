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

from .access import _as_float, _as_int, _as_str, _kind_of, _FLOAT, _SUMMARY_FIELDS, json_layout
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
            compiled = _compile(self.plan)
            mine: dict = {}
            theirs: dict = {}
            tally_success(theirs, summary, api_id, stage, near_for.get(api_id, default_near))
            if compiled(obj, timestamp, mine, near_for, default_near, owner_api, owner_stage) and mine == theirs:
                self.plan.tally = compiled
        return True


def _compile(plan: Any) -> Tally:
    """Generate the layout's tally function. The source holds only generated names: the line's keys are
    passed in as default-argument values, never as source text (as in access._compile_reader).

    Conversions are inline (`int(v)`, `float(v)` on the usual strings); anything they refuse raises,
    and the caller sends that line down the full path, which judges it as parse_access_line does.
    """
    params = ["obj", "timestamp", "tallies", "near_for", "default_near", "owner_api", "owner_stage",
              "_RouteTally=_RouteTally", "_as_int=_as_int", "_as_str=_as_str", "_as_float=_as_float", "_INF=_INF",
              "_str=str"]
    env: dict[str, Any] = {"_RouteTally": RouteTally, "_as_int": _as_int, "_as_str": _as_str, "_as_float": _as_float,
                           "_INF": _INF}
    body: list[str] = []
    names: dict[str, str] = {}
    for n, (field_name, key) in enumerate(zip(_SUMMARY_FIELDS, plan.summary_keys)):
        name = names[field_name] = f"f{n}"
        if key is None:
            body.append(f"    {name} = None")
            continue
        params.append(f"_k{n}=_k{n}")
        env[f"_k{n}"] = key
        body.append(f"    v = obj[_k{n}]")
        if field_name == "status":
            body.append(f"    {name} = int(v) if v.__class__ is _str and len(v) == 3 and v.isdigit() else _as_int(v)")
            body.append(f"    if {name} is None or not 100 <= {name} < 400:")
            body.append("        return False")
        elif _kind_of(field_name) == _FLOAT:
            # Digit strings are the norm; anything else (decimals, "-", NaN, huge) goes through _as_float,
            # which turns "-" and non-finite values into None exactly as the generic path does.
            body.append(f"    {name} = (float(v) if len(v) < 16 and v.isdigit() else _as_float(v)) "
                        f"if v.__class__ is _str else _as_float(v)")
        else:
            body.append(f"    {name} = (v if v and v != '-' else None) if v.__class__ is _str else _as_str(v)")
    api, stage = names["api_id"], names["stage"]
    rl, il, al = names["response_latency_ms"], names["integration_latency_ms"], names["authorizer_latency_ms"]
    body += [
        f"    if {api} is None and owner_api is not None:",
        f"        {api} = owner_api",
        f"        {stage} = {stage} or owner_stage",
        f"    key = ({api}, {stage}, {names['http_method']}, {names['resource_path']}, {names['route_key']})",
        "    t = tallies.get(key)",
        "    if t is None:",
        "        t = tallies[key] = _RouteTally()",
        "    t.requests += 1",
        f"    basis = {il} if {il} is not None else {rl}",
        f"    if basis is not None and basis >= near_for.get({api}, default_near):",
        "        t.near_timeouts += 1",
        f"    rl_ok = {rl} is not None and 0 <= {rl} < _INF",
        "    if rl_ok:",
        f"        t.latency_ms.append({rl})",
        f"    if {il} is not None and 0 <= {il} < _INF:",
        f"        t.integration_latency_ms.append({il})",
        "        if rl_ok:",
        f"            o = {rl} - {il}",
        f"            if {al} is not None:",
        f"                o -= {al}",
        "            t.gateway_overhead_ms.append(o if o > 0 else 0.0)",
        "    if timestamp is not None and (t.latest_timestamp is None or timestamp > t.latest_timestamp):",
        "        t.latest_timestamp = timestamp",
        "    return True",
    ]
    source = f"def tally({', '.join(params)}):\n" + "\n".join(body)
    exec(compile(source, "<gatewatch.fastpath.tally>", "exec"), env)  # noqa: S102 - generated, see docstring
    return env["tally"]


def tally_json_lines(objs: Sequence[Any], timestamps: Sequence[int | None], *, field_map: Mapping[str, str] | None,
                     tallies: dict, near_for: Mapping[Any, float], default_near: float, owner_api: str | None,
                     owner_stage: str | None) -> tuple[list[int], dict[frozenset, int]]:
    """Tally every successful line of a parsed delivery; returns the indices of the others (for the full
    path) and, per key layout, how many lines were tallied (`fields_present` -> count)."""
    rest: list[int] = []
    layouts: dict[Any, int] = {}
    plan = None
    last_keys: tuple = ()
    tally: Any = None
    for i, obj in enumerate(objs):
        if obj.__class__ is not dict:
            rest.append(i)
            continue
        keys = tuple(obj)
        if keys != last_keys:
            plan = json_layout(obj, field_map)
            last_keys = keys
            if plan.nested:
                tally = None
            else:
                if plan.tally is None:
                    plan.tally = _GenericTally(plan)
                tally = plan.tally
        elif tally is not None and tally is not plan.tally:
            tally = plan.tally  # compiled since the last line
        try:
            tallied = tally is not None and tally(obj, timestamps[i], tallies, near_for, default_near,
                                                  owner_api, owner_stage)
        except (ValueError, TypeError, OverflowError):
            tallied = False  # an odd value: the full path judges the line (nothing was tallied yet)
        if tallied:
            layouts[plan] = layouts.get(plan, 0) + 1
        else:
            rest.append(i)
    return rest, {p.present: n for p, n in layouts.items()}

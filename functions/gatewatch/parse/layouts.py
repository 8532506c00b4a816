"""JSON key layouts: for one format's keys, which key feeds which field, read once and cached.

A format's keys repeat on every line, so everything that depends only on the keys (alias
resolution, duplicate handling, `fields_present`, whether an object value could hide a field) is
decided once per layout. A layout reads a parsed line into an `AccessRecord` (every field) or, for a
successful request, an `AccessSummary` (what its metrics need). Both start as generic loops and,
once a layout has proved common, are replaced by readers generated for it — checked against the
generic reader before use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from operator import itemgetter
from typing import Any

from gatewatch.models import AccessRecord, AccessSummary
from gatewatch.parse.fields import (
    ALIAS_TABLE,
    DEFAULTS,
    FIELD_INDEX,
    FIELD_NAMES,
    FORMAT_JSON,
    I_EXTENDED_ID,
    I_FORMAT,
    I_PRESENT,
    I_REQUEST_ID,
    I_STATUS,
    I_TIMESTAMP,
    FieldResolver,
    kind_of,
    normal_form,
    record_from_slots,
    resolver_for,
)
from gatewatch.parse.values import (
    CONVERT,
    CONVERTED,
    FLOAT,
    MILLISECONDS,
    STR,
    SUCCESS_STATUS,
    float_value,
    int_value,
    text_value,
)


class KeyLayout:
    """How to read one JSON key layout: which key feeds which slot, and a reader that builds the record.

    A format's keys repeat on every line, so everything that depends only on the keys (alias
    resolution, duplicate handling, `fields_present`) is decided once here. `read(obj, timestamp)`
    returns the record, or None when the line has neither a status nor a request id. It starts as a
    generic loop and, once the layout has proved common (`_COMPILE_AFTER` lines), is replaced by a
    reader generated for this layout (see `_compile_reader`).
    """

    __slots__ = (
        "entries",
        "present",
        "read",
        "risky",
        "summarize",
        "summary_keys",
        "summary_uses",
        "tally",
        "template",
        "uses",
    )

    def __init__(self, entries: tuple[tuple[str, int, int], ...], present: frozenset[str], risky: bool) -> None:
        self.entries = entries  # (key, slot index, value kind), one per slot fed
        self.present = present
        # A key of this layout that the fast paths do not read could, holding an object, flatten into a
        # key that feeds a summary field (`{"integration": {"latency": 5}}` -> integration.latency): the
        # fast paths check such a layout's lines for object values (and its lines never take the loop).
        self.risky = risky
        by_index = {index: key for key, index, _kind in entries}
        # The keys feeding AccessSummary (None where the layout lacks the field), in its field order.
        self.summary_keys = tuple(by_index.get(FIELD_INDEX[name]) for name in SUMMARY_FIELDS)
        self.summary_uses = 0
        self.summarize: Callable[[dict[str, Any], int | None], AccessSummary | None] = self._summarize_generic
        self.tally: Any = None  # gatewatch.metrics.fastpath keeps its per-layout tally function here
        template = list(DEFAULTS)
        template[I_FORMAT] = FORMAT_JSON
        template[I_PRESENT] = present
        self.template = template
        self.uses = 0
        self.read: Callable[[dict[str, Any], int | None], AccessRecord | None] = self._read_generic

    def _summarize_generic(self, obj: dict[str, Any], timestamp: int | None) -> AccessSummary | None:
        summary = _summarize(self, obj, timestamp)
        self.summary_uses += 1
        if self.summary_uses == _COMPILE_AFTER:
            compiled = _compile_summarizer(self)
            try:
                same = compiled(obj, timestamp) == summary  # checked against the generic reader before use
            except (ValueError, TypeError, OverflowError):
                same = False
            if same:
                self.summarize = compiled
        return summary

    def _read_generic(self, obj: dict[str, Any], timestamp: int | None) -> AccessRecord | None:
        values = self.template.copy()
        for key, index, kind in self.entries:
            value = obj[key]
            if not kind and value.__class__ is str:
                if value != "-" and value:
                    values[index] = value
            else:
                values[index] = CONVERT[kind](value)
        values[I_TIMESTAMP] = timestamp
        self.uses += 1
        if self.uses == _COMPILE_AFTER:
            self.read = _compile_reader(self, obj)
        if values[I_STATUS] is None and values[I_REQUEST_ID] is None and values[I_EXTENDED_ID] is None:
            return None
        return record_from_slots(values)


_COMPILE_AFTER = 8

# AccessSummary's fields that come from the line, in order (then timestamp, format, fields_present).
SUMMARY_FIELDS = (
    "status",
    "api_id",
    "stage",
    "http_method",
    "resource_path",
    "route_key",
    "response_latency_ms",
    "integration_latency_ms",
    "authorizer_latency_ms",
)
#: The normal forms of the built-in keys that feed those fields (see JsonLayouts.risky_key).
_SUMMARY_ALIAS_NORMALS: frozenset[str] = frozenset(
    name for name, target in ALIAS_TABLE.items() if target[3] in SUMMARY_FIELDS
)


def _summary_str(obj: dict[str, Any], key: str | None) -> str | None:
    if key is None:
        return None
    v = obj[key]
    return (v if v and v != "-" else None) if v.__class__ is str else _as_summary_str(v)


def _as_summary_str(value: Any) -> str | None:
    """`text_value` for the summary readers, which cannot vouch for an object value: the full path
    flattens it, and another key may then feed the field. TypeError sends the line there."""
    if value.__class__ is dict:
        raise TypeError("an object value: the full path reads this line")
    return text_value(value)


def _summary_float(obj: dict[str, Any], key: str | None) -> float | None:
    if key is None:
        return None
    v = obj[key]
    if v.__class__ is str and v.isascii() and v.isdigit() and len(v) < 16:
        return float(v)
    if v.__class__ is dict:
        raise TypeError("an object value: the full path reads this line")
    return None if v == "-" else float_value(v)


def summary_read_statements(
    plan: KeyLayout, env: dict[str, Any], params: list[str], reject: str, *, raw_strings: bool = False
) -> list[str]:
    """Statements that read AccessSummary's fields (status, api, stage, route parts, latencies) into
    `f0`…`f8` for one key layout; `reject` is what a line that is not a 2xx/3xx does. Shared by the
    summarizer below and gatewatch.fastpath's tally, so both read a line the same way.

    The status and latencies are read with one itemgetter and looked up in `SUCCESS_STATUS` and
    `MILLISECONDS`; a latency those tables do not cover raises ValueError (callers send that line
    down the full path, which reads it as the generic reader does). With `raw_strings` the route
    fields (api, stage, method, resource path, route key) are read into `v<n>` as the line has them
    and left to the caller; otherwise they are normalised into `f<n>` here. The line's keys go into `params`/`env` as
    default-argument values, never into the source text.
    """
    env.update({"_as_summary_str": _as_summary_str, "_status": SUCCESS_STATUS, "_ms": MILLISECONDS})
    params += ["_as_summary_str=_as_summary_str", "_status=_status", "_ms=_ms", "_str=str"]
    lines: list[str] = []
    keys = dict(zip(SUMMARY_FIELDS, plan.summary_keys, strict=False))
    read = [
        (n, name)
        for n, name in enumerate(SUMMARY_FIELDS)
        if keys[name] is not None and (raw_strings or name == "status" or kind_of(name) == FLOAT)
    ]
    if keys["status"] is None:
        return reject.split("\n")  # no status: not a success this reader can vouch for
    env["_values_of"] = itemgetter(*(keys[name] for _n, name in read))
    params.append("_values_of=_values_of")
    lines.append(f"{', '.join(f'v{n}' for n, _name in read)} = _values_of(obj)")  # one key: the value itself
    for n, name in enumerate(SUMMARY_FIELDS):
        if name == "status":
            lines.append(f"f{n} = _status[v{n}]")
            lines.append(f"if f{n} is None:")
            lines += [f"    {r}" for r in reject.split("\n")]
        elif kind_of(name) == FLOAT:
            lines.append(f"f{n} = _ms[v{n}]" if keys[name] is not None else f"f{n} = None")
        elif not raw_strings:
            if keys[name] is None:
                lines.append(f"f{n} = None")
            else:
                params.append(f"_k{n}=_k{n}")
                env[f"_k{n}"] = keys[name]
                lines.append(f"v = obj[_k{n}]")
                lines.append(f"f{n} = (v if v and v != '-' else None) if v.__class__ is _str else _as_summary_str(v)")
    return lines


def _compile_summarizer(plan: KeyLayout) -> Callable[[dict[str, Any], int | None], AccessSummary | None]:
    """Generate `summarize(obj, timestamp)` for one key layout: the fast path's reader, no calls inline.

    Same rules and the same safety as `_compile_reader`: the source holds only generated names.
    """
    params = ["obj", "timestamp", "_new=_new", "_cls=_cls", "_present=_present"]
    env: dict[str, Any] = {"_new": tuple.__new__, "_cls": AccessSummary, "_present": plan.present}
    body = ["    " + line for line in summary_read_statements(plan, env, params, "return None")]
    names = [f"f{n}" for n in range(len(SUMMARY_FIELDS))]
    body.append(f"    return _new(_cls, ({', '.join(names)}, timestamp, {FORMAT_JSON!r}, _present))")
    source = f"def summarize({', '.join(params)}):\n" + "\n".join(body)
    exec(compile(source, "<gatewatch.access.summarize>", "exec"), env)  # noqa: S102 - generated, see docstring
    return env["summarize"]


def _summarize(plan: KeyLayout, obj: dict[str, Any], timestamp: int | None) -> AccessSummary | None:
    """AccessSummary for a 2xx/3xx line; None for anything else (which takes the full path)."""
    keys = plan.summary_keys
    if keys[0] is None:
        return None
    v = obj[keys[0]]
    status = int(v) if v.__class__ is str and v.isascii() and v.isdigit() and len(v) < 4 else int_value(v)
    if status is None or not 100 <= status < 400:
        return None
    return AccessSummary(
        status,
        _summary_str(obj, keys[1]),
        _summary_str(obj, keys[2]),
        _summary_str(obj, keys[3]),
        _summary_str(obj, keys[4]),
        _summary_str(obj, keys[5]),
        _summary_float(obj, keys[6]),
        _summary_float(obj, keys[7]),
        _summary_float(obj, keys[8]),
        timestamp,
        FORMAT_JSON,
        plan.present,
    )


def _compile_reader(
    plan: KeyLayout, probe: dict[str, Any]
) -> Callable[[dict[str, Any], int | None], AccessRecord | None]:
    """Generate `read(obj, timestamp)` for one key layout: one attribute store per slot, no loop.

    Faster than the generic loop and the 33-argument constructor call. The generated source is built
    only from AccessRecord's field names and slot numbers: the keys of the line are passed in as
    default-argument values and never become source text. The result is checked against the generic
    reader before it is used (if AccessRecord became frozen again, the stores would fail that check
    and the generic reader would stay in use).
    """
    params = ["obj", "timestamp", "_new=_new", "_record=AccessRecord", "_present=_present", "text_value=text_value"]
    env: dict[str, Any] = {
        "_new": object.__new__,
        "AccessRecord": AccessRecord,
        "_present": plan.present,
        "text_value": text_value,
    }
    for kind, convert in enumerate(CONVERT):
        params.append(f"_convert{kind}=_convert{kind}")
        env[f"_convert{kind}"] = convert
    for kind, table in CONVERTED.items():
        params.append(f"_table{kind}=_table{kind}")
        env[f"_table{kind}"] = table
    fed = {index: (n, key, kind) for n, (key, index, kind) in enumerate(plan.entries)}
    body = ["    o = _new(_record)"]
    if fed:  # every fed key in one itemgetter call (one key: it returns the value itself)
        env["_values_of"] = itemgetter(*(key for key, _index, _kind in plan.entries))
        params.append("_values_of=_values_of")
        body.append(f"    {', '.join(f'v{n}' for n in range(len(plan.entries)))} = _values_of(obj)")
    for index, name in enumerate(FIELD_NAMES):
        if index == I_FORMAT:
            body.append(f"    o.{name} = {FORMAT_JSON!r}")
        elif index == I_TIMESTAMP:
            body.append(f"    o.{name} = timestamp")
        elif index == I_PRESENT:
            body.append(f"    o.{name} = _present")
        elif index in fed:
            n, _key, kind = fed[index]
            v = f"v{n}"
            # The common shapes are decided inline (no call): a plain string, "-", a number string seen before.
            if kind == STR:
                body.append(
                    f"    o.{name} = ({v} if {v} and {v} != '-' else None) if {v}.__class__ is str else text_value({v})"
                )
            elif kind in CONVERTED:
                body.append(f"    o.{name} = _table{kind}[{v}] if {v}.__class__ is str else _convert{kind}({v})")
            else:
                body.append(f"    o.{name} = None if {v} == '-' else _convert{kind}({v})")
        else:
            params.append(f"_d{index}=_d{index}")
            env[f"_d{index}"] = DEFAULTS[index]
            body.append(f"    o.{name} = _d{index}")
    body.append("    if o.status is None and o.request_id is None and o.extended_request_id is None:")
    body.append("        return None")
    body.append("    return o")
    source = f"def read({', '.join(params)}):\n" + "\n".join(body)
    try:
        exec(compile(source, "<gatewatch.access.read>", "exec"), env)  # noqa: S102 - trusted source, see above
        reader = env["read"]
        if reader(probe, 0) == plan._read_generic(probe, 0):
            return reader
    except Exception:  # pragma: no cover - keep the generic reader
        pass
    return plan._read_generic  # pragma: no cover


_MAX_PLANS = 256
_MAX_PLAN_KEYS = 256
_MAX_RISKY_CACHE = 4096


class JsonLayouts:
    """The key layouts of one field map's JSON lines, cached: `layout_for(obj)` is one tuple compare
    for consecutive lines of one format."""

    __slots__ = ("_last_keys", "_last_plan", "_plans", "_risky", "_summary_exact", "_summary_normals", "resolver")

    def __init__(self, resolver: FieldResolver) -> None:
        self.resolver = resolver
        field_map = resolver.field_map
        # What a flattened key must start with to feed a summary field (see risky_key).
        self._summary_normals = _SUMMARY_ALIAS_NORMALS | {
            normal_form(k) for k, t in field_map.items() if t in SUMMARY_FIELDS
        }
        self._summary_exact = tuple(k for k, t in field_map.items() if t in SUMMARY_FIELDS)
        self._risky: dict[str, bool] = {}
        self._plans: dict[tuple[str, ...], KeyLayout] = {}
        self._last_keys: tuple[str, ...] = ()
        self._last_plan: KeyLayout | None = None

    def risky_key(self, key: str) -> bool:
        """Could an object under `key` flatten into a key that feeds a summary field (status, route,
        latencies)? `integration` can (integration.latency), `$context` can (anything), `user` cannot."""
        risky = self._risky.get(key)
        if risky is None:
            prefix = normal_form(key + ".")
            risky = (
                not prefix
                or any(t.startswith(prefix) for t in self._summary_normals)
                or any(k.startswith(key + ".") for k in self._summary_exact)
            )
            if len(self._risky) >= _MAX_RISKY_CACHE:
                self._risky.clear()
            self._risky[key] = risky
        return risky

    def layout_for(self, obj: dict[str, Any]) -> KeyLayout:
        """The layout of a parsed line's keys (made once per distinct key tuple, bounded)."""
        keys = tuple(obj)
        if keys == self._last_keys and self._last_plan is not None:  # consecutive lines share a layout
            return self._last_plan
        plan = self._plans.get(keys)
        if plan is None:
            chosen = self.resolver.choose(keys)
            present = frozenset(target[3] for _key, target in chosen.values())
            entries = tuple((key, target[0], target[1]) for key, target in chosen.values())
            plan = KeyLayout(entries, present, False)
            # The readers of the fast paths refuse an object in a key they read; the others they skip.
            read = set(plan.summary_keys)
            plan.risky = any(self.risky_key(key) for key in keys if key not in read)
            if len(keys) <= _MAX_PLAN_KEYS:
                if len(self._plans) >= _MAX_PLANS:
                    self._plans.clear()
                self._plans[keys] = plan
        self._last_keys, self._last_plan = keys, plan
        return plan


_LAYOUTS: dict[int, JsonLayouts] = {}


def layouts_for(field_map: Mapping[str, str] | None) -> JsonLayouts:
    """The layout cache of a field map (one per resolver, reused across lines and batches)."""
    resolver = resolver_for(field_map)
    layouts = _LAYOUTS.get(id(resolver))
    if layouts is None or layouts.resolver is not resolver:
        if len(_LAYOUTS) >= 16:
            _LAYOUTS.clear()
        layouts = _LAYOUTS[id(resolver)] = JsonLayouts(resolver)
    return layouts


def json_layout(obj: dict[str, Any], field_map: Mapping[str, str] | None = None) -> KeyLayout:
    """The layout of a JSON object's keys (cached): `summary_keys`, `present`, `risky`, `summarize`, `read`."""
    return layouts_for(field_map).layout_for(obj)

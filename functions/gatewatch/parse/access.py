"""Access-log parser: one API Gateway access-log line -> `AccessRecord` (or a counted `Rejection`).

Why this module exists: access logs are the only source of request counts, error counts and
latencies (DESIGN §5), and their format is whatever the API owner typed into the stage settings.
So the parser accepts every console default (JSON, CLF, CSV, XML for REST, HTTP and WebSocket APIs),
any custom JSON whose keys name the `$context` variables in camelCase, dotted, snake_case or nested
form, and the invalid JSON that API Gateway itself produces because it does not escape values.

Rules (reference §2, §5):
- `-` and the empty string mean "absent" -> None; numbers that are not numbers -> None.
- Unknown keys are ignored; `fields_present` says which canonical fields the format carries, so the
  report can say what the format lacks.
- Bad input never raises: it becomes a `Rejection(source="access", reason=..., sample=...)`.

Speed: the JSON fast path is one `orjson.loads`, one cached "plan" per key layout (the keys of a
format repeat on every line, so key -> field resolution happens once per format, not per line) and a
reader generated for that layout once it has been seen a few times (see `_compile_reader`). All scanners are `str.find`/bounded-regex loops: linear on adversarial 100 KB lines.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from itertools import islice
from operator import itemgetter
from typing import Any

import orjson

from gatewatch.constants import SOURCE_ACCESS
from gatewatch.models import AccessRecord, AccessSummary, Rejection

__all__ = [
    "CANONICAL_FIELDS",
    "NOT_JSON",
    "json_layout",
    "looks_like_access_line",
    "parse_access_line",
    "parse_access_line_or_summary",
    "read_json_access",
]

FORMAT_JSON = "json"
FORMAT_CLF = "clf"
FORMAT_CSV = "csv"
FORMAT_XML = "xml"

REASON_INVALID_JSON = "invalid-json"
REASON_UNRECOGNISED = "unrecognised-access-format"
REASON_NO_REQUEST_FIELDS = "no-status-or-request-id"
REASON_INTERNAL = "access-parser-error"

SAMPLE_CHARS = 80

# --------------------------------------------------------------------------------------------------
# The record layout and how values are converted
# --------------------------------------------------------------------------------------------------

_RECORD_FIELDS: tuple[dataclasses.Field, ...] = dataclasses.fields(AccessRecord)
_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in _RECORD_FIELDS)
_INDEX: dict[str, int] = {name: i for i, name in enumerate(_FIELD_NAMES)}
_NOT_CARRIED = frozenset({"format", "timestamp", "recovered", "fields_present"})

CANONICAL_FIELDS: frozenset[str] = frozenset(_FIELD_NAMES) - _NOT_CARRIED
"""The AccessRecord field names an access-log format can carry (valid targets of a field map)."""

_I_FORMAT = _INDEX["format"]
_I_TIMESTAMP = _INDEX["timestamp"]
_I_RECOVERED = _INDEX["recovered"]
_I_PRESENT = _INDEX["fields_present"]
_I_STATUS = _INDEX["status"]
_I_REQUEST_ID = _INDEX["request_id"]
_I_EXTENDED_ID = _INDEX["extended_request_id"]


def _default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None  # `format`, the only required field, is always set by the parser


_DEFAULTS: tuple[Any, ...] = tuple(_default_of(f) for f in _RECORD_FIELDS)

# Value kinds (STR must stay 0: the generic reader tests `not kind`).
_STR, _INT, _FLOAT, _EPOCH_MS, _QUOTED_STR = 0, 1, 2, 3, 4

_INT_FIELDS = frozenset(
    {"status", "response_length", "integration_status", "integration_service_status", "authorizer_status"}
)
_FLOAT_FIELDS = frozenset({"integration_latency_ms", "response_latency_ms", "authorizer_latency_ms"})


def _kind_of(field_name: str) -> int:
    if field_name in _INT_FIELDS:
        return _INT
    if field_name in _FLOAT_FIELDS:
        return _FLOAT
    if field_name == "request_time_epoch_ms":
        return _EPOCH_MS
    return _STR


def _as_str(value: Any) -> str | None:
    if value.__class__ is str:
        return None if value == "-" or not value else value
    if value is None or value.__class__ is bool or not isinstance(value, (int, float)):
        return None  # null, true/false, nested objects and arrays are not a value of a scalar field
    return str(value)


def _as_int(value: Any) -> int | None:
    if value.__class__ is str:
        if value == "-" or not value:
            return None
        try:
            return int(value)
        except ValueError:
            return _float_to_int(_as_float(value))
    if value.__class__ is int:
        return value
    if value.__class__ is float:
        return _float_to_int(value)
    return None


def _float_to_int(value: float | None) -> int | None:
    return int(value) if value is not None and value - value == 0.0 else None  # finite: not nan, not inf


def _as_float(value: Any) -> float | None:
    if value.__class__ is str:
        if value == "-" or not value:
            return None
        try:
            number = float(value)
        except ValueError:
            return None
    elif value.__class__ is int or value.__class__ is float:
        number = float(value)
    else:
        return None
    return number if number - number == 0.0 else None  # finite (inf - inf and nan - nan are nan)


def _as_epoch_ms(value: Any) -> int | None:
    """`requestTimeEpoch` is milliseconds (REST, WebSocket); a 10-digit value is seconds (HTTP, custom)."""
    number = _as_int(value)
    if number is None or number < 0:
        return None
    return number * 1000 if number < 100_000_000_000 else number


def _as_quoted_str(value: Any) -> str | None:
    """`$context.error.messageString` is the message wrapped in quotes: `" "Endpoint request timed out""`."""
    text = _as_str(value)
    if text is None:
        return None
    text = text.strip().strip('"').strip()
    return None if text == "-" or not text else text


_CONVERT: tuple[Callable[[Any], Any], ...] = (_as_str, _as_int, _as_float, _as_epoch_ms, _as_quoted_str)


class _Converted(dict):
    """string value -> what `convert` makes of it, remembered (short strings only, bounded).

    The generated reader's numbers: status codes, lengths and latencies repeat, so a value is one
    dict lookup instead of string tests and a conversion. Keys are strings only (the reader checks),
    so `1`, `1.0` and `true` never meet here.
    """

    __slots__ = ("convert",)

    def __init__(self, convert: Callable[[str], Any]) -> None:
        super().__init__()
        self.convert = convert

    def __missing__(self, value: str) -> Any:
        result = self.convert(value)
        if len(value) < 24:
            if len(self) >= _CONVERTED_LIMIT:
                self.clear()
            self[value] = result
        return result


_CONVERTED_LIMIT = 50_000
_CONVERTED: dict[int, _Converted] = {_INT: _Converted(_as_int), _FLOAT: _Converted(_as_float)}


def _seal(values: list[Any]) -> AccessRecord:
    """The record from its slot values, in AccessRecord field order."""
    return AccessRecord(*values)


# --------------------------------------------------------------------------------------------------
# Key names -> canonical fields
# --------------------------------------------------------------------------------------------------

# canonical field -> the `$context` variable names (without `$context.`) and common custom names.
_ALIASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("request_id", ("requestId",)),
    ("extended_request_id", ("extendedRequestId",)),
    ("api_id", ("apiId",)),
    ("stage", ("stage",)),
    ("http_method", ("httpMethod", "method")),
    ("resource_path", ("resourcePath",)),
    ("route_key", ("routeKey",)),
    ("path", ("path",)),
    ("status", ("status", "statusCode")),
    ("protocol", ("protocol",)),
    ("response_length", ("responseLength",)),
    ("request_time", ("requestTime",)),
    ("request_time_epoch_ms", ("requestTimeEpoch",)),
    ("ip", ("identity.sourceIp", "sourceIp", "ip")),
    ("user_agent", ("identity.userAgent", "userAgent")),
    ("error_response_type", ("error.responseType", "errorResponseType", "responseType")),
    ("error_message", ("error.message", "errorMessage")),
    ("integration_error", ("integration.error", "integrationErrorMessage", "integrationError")),
    ("integration_status", ("integration.status",)),
    ("integration_service_status", ("integration.integrationStatus", "integrationStatus")),
    ("integration_latency_ms", ("integration.latency", "integrationLatency")),
    ("response_latency_ms", ("responseLatency",)),
    ("authorizer_latency_ms", ("authorizer.latency", "authorizerLatency")),
    ("authorizer_error", ("authorizer.error", "authorizerError")),
    ("authorizer_status", ("authorizer.status", "authorizerStatus")),
    ("waf_response_code", ("wafResponseCode", "waf.status")),
    ("event_type", ("eventType",)),
    ("connection_id", ("connectionId",)),
    ("api_key_id", ("identity.apiKeyId", "apiKeyId")),
)
# Second-choice sources of a field: used only when the format has no first-choice key for it.
_SECONDARY_ALIASES: tuple[tuple[str, str, int], ...] = (
    ("error_message", "error.messageString", _QUOTED_STR),
    ("response_latency_ms", "latency", _FLOAT),
)

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

# A resolution target: (slot index, value kind, rank, field name). Lower rank wins within a format.
_Target = tuple[int, int, int, str]
_RANK_FIELD_MAP, _RANK_PRIMARY, _RANK_SECONDARY = 0, 1, 2


def _normal_form(key: str) -> str:
    """Case-, separator- and prefix-insensitive form: `$context.error.responseType` -> `error_responsetype`.

    Camel-case boundaries are kept apart from `.`/`_` boundaries on purpose: `integrationStatus` (the
    Lambda service status) and `integration.status` (what the function returned) are different fields.
    """
    text = key.strip().lower().replace(".", "_").replace("-", "_").lstrip("$")
    if text.startswith("context_"):
        text = text[8:]
    return text


def _build_alias_table() -> dict[str, _Target]:
    table: dict[str, _Target] = {}
    # Levels: 0 = the variable's own name; 1 = its fully snake_cased spelling. A lower level wins a
    # collision, so snake `integration_status` means `integration.status`, not `integrationStatus`.
    candidates: list[tuple[int, int, str, str, int]] = []
    for field_name, variables in _ALIASES:
        for variable in variables:
            candidates.append((_RANK_PRIMARY, 0, variable, field_name, _kind_of(field_name)))
    for field_name, variable, kind in _SECONDARY_ALIASES:
        candidates.append((_RANK_SECONDARY, 0, variable, field_name, kind))
    for rank, _level, variable, field_name, kind in list(candidates):
        snake = _CAMEL_BOUNDARY.sub("_", variable)
        candidates.append((rank, 1, snake, field_name, kind))
    for rank, _level, variable, field_name, kind in sorted(candidates, key=lambda c: (c[1], c[0])):
        table.setdefault(_normal_form(variable), (_INDEX[field_name], kind, rank, field_name))
    return table


_ALIAS_TABLE: dict[str, _Target] = _build_alias_table()


@lru_cache(maxsize=4096)
def _builtin_target(key: str) -> _Target | None:
    """The built-in meaning of a JSON key / XML tag (cached: a format's keys repeat on every line)."""
    return _ALIAS_TABLE.get(_normal_form(key))


class _Plan:
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
        self.summary_keys = tuple(by_index.get(_INDEX[name]) for name in _SUMMARY_FIELDS)
        self.summary_uses = 0
        self.summarize: Callable[[dict[str, Any], int | None], AccessSummary | None] = self._summarize_generic
        self.tally: Any = None  # gatewatch.fastpath keeps its per-layout tally function here
        template = list(_DEFAULTS)
        template[_I_FORMAT] = FORMAT_JSON
        template[_I_PRESENT] = present
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
                values[index] = _CONVERT[kind](value)
        values[_I_TIMESTAMP] = timestamp
        self.uses += 1
        if self.uses == _COMPILE_AFTER:
            self.read = _compile_reader(self, obj)
        if values[_I_STATUS] is None and values[_I_REQUEST_ID] is None and values[_I_EXTENDED_ID] is None:
            return None
        return _seal(values)


_COMPILE_AFTER = 8

# AccessSummary's fields that come from the line, in order (then timestamp, format, fields_present).
_SUMMARY_FIELDS = (
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
#: The normal forms of the built-in keys that feed those fields (see _FieldResolver.risky_key).
_SUMMARY_ALIAS_NORMALS: frozenset[str] = frozenset(
    name for name, target in _ALIAS_TABLE.items() if target[3] in _SUMMARY_FIELDS
)


def _summary_str(obj: dict[str, Any], key: str | None) -> str | None:
    if key is None:
        return None
    v = obj[key]
    return (v if v and v != "-" else None) if v.__class__ is str else _as_summary_str(v)


def _as_summary_str(value: Any) -> str | None:
    """`_as_str` for the summary readers, which cannot vouch for an object value: the full path
    flattens it, and another key may then feed the field. TypeError sends the line there."""
    if value.__class__ is dict:
        raise TypeError("an object value: the full path reads this line")
    return _as_str(value)


def _summary_float(obj: dict[str, Any], key: str | None) -> float | None:
    if key is None:
        return None
    v = obj[key]
    if v.__class__ is str and v.isascii() and v.isdigit() and len(v) < 16:
        return float(v)
    if v.__class__ is dict:
        raise TypeError("an object value: the full path reads this line")
    return None if v == "-" else _as_float(v)


class _SuccessStatus(dict):
    """status value -> the status when it is a success (100-399), else None.

    Every three-digit string and integer is in the table, so the generated readers decide a line with
    one lookup; anything else (" 200", "2e2", 200.5) is read by `_as_int` as the generic reader does.
    (No 0 or 1 key: `True == 1`, and a JSON `true` is not a status.)
    """

    def __missing__(self, value: Any) -> int | None:
        status = _as_int(value)
        return status if status is not None and 100 <= status < 400 else None


_SUCCESS_STATUS = _SuccessStatus(
    {
        **{f"{n:03d}": (n if 100 <= n < 400 else None) for n in range(1000)},
        **{n: (n if 100 <= n < 400 else None) for n in range(100, 1000)},
    }
)


class _Milliseconds(dict):
    """latency value -> float milliseconds (≥ 0, finite) or None ("-", ""), remembered; bounded.

    What the generated readers look a latency up in: one lookup instead of three string tests and a
    float(). A value the common case does not cover (negative, NaN, "1e3", text, true) raises
    ValueError, and the caller sends that line to the full path, which reads it with `_as_float`.
    0 and 1 are never remembered as numbers: `True == 1` and `False == 0` as dict keys.
    """

    def __missing__(self, value: Any) -> float | None:
        kind = value.__class__
        if kind is str:
            if not (len(value) < 16 and value.isascii() and value.isdigit()):
                raise ValueError("not a plain latency")
            number = float(value)
        elif kind is int or kind is float:
            number = float(value)
            if not 0.0 <= number < _INF:  # also NaN
                raise ValueError("not a plain latency")
            if number == 0.0 or number == 1.0:
                return number  # not remembered: a later true/false would find it
        else:
            raise ValueError("not a plain latency")
        if len(self) >= _MS_CACHE_LIMIT:
            self.clear()
            self.update(_MS_ABSENT)
        self[value] = number
        return number


_INF = float("inf")
_MS_ABSENT = {"-": None, "": None}
_MS_CACHE_LIMIT = 50_000
_MILLISECONDS = _Milliseconds(_MS_ABSENT)


def summary_read_statements(
    plan: _Plan, env: dict[str, Any], params: list[str], reject: str, *, raw_strings: bool = False
) -> list[str]:
    """Statements that read AccessSummary's fields (status, api, stage, route parts, latencies) into
    `f0`…`f8` for one key layout; `reject` is what a line that is not a 2xx/3xx does. Shared by the
    summarizer below and gatewatch.fastpath's tally, so both read a line the same way.

    The status and latencies are read with one itemgetter and looked up in `_SUCCESS_STATUS` and
    `_MILLISECONDS`; a latency those tables do not cover raises ValueError (callers send that line
    down the full path, which reads it as the generic reader does). With `raw_strings` the route
    fields (api, stage, method, resource path, route key) are read into `v<n>` as the line has them
    and left to the caller; otherwise they are normalised into `f<n>` here. The line's keys go into `params`/`env` as
    default-argument values, never into the source text.
    """
    env.update({"_as_summary_str": _as_summary_str, "_status": _SUCCESS_STATUS, "_ms": _MILLISECONDS})
    params += ["_as_summary_str=_as_summary_str", "_status=_status", "_ms=_ms", "_str=str"]
    lines: list[str] = []
    keys = dict(zip(_SUMMARY_FIELDS, plan.summary_keys, strict=False))
    read = [
        (n, name)
        for n, name in enumerate(_SUMMARY_FIELDS)
        if keys[name] is not None and (raw_strings or name == "status" or _kind_of(name) == _FLOAT)
    ]
    if keys["status"] is None:
        return reject.split("\n")  # no status: not a success this reader can vouch for
    env["_values_of"] = itemgetter(*(keys[name] for _n, name in read))
    params.append("_values_of=_values_of")
    lines.append(f"{', '.join(f'v{n}' for n, _name in read)} = _values_of(obj)")  # one key: the value itself
    for n, name in enumerate(_SUMMARY_FIELDS):
        if name == "status":
            lines.append(f"f{n} = _status[v{n}]")
            lines.append(f"if f{n} is None:")
            lines += [f"    {r}" for r in reject.split("\n")]
        elif _kind_of(name) == _FLOAT:
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


def _compile_summarizer(plan: _Plan) -> Callable[[dict[str, Any], int | None], AccessSummary | None]:
    """Generate `summarize(obj, timestamp)` for one key layout: the fast path's reader, no calls inline.

    Same rules and the same safety as `_compile_reader`: the source holds only generated names.
    """
    params = ["obj", "timestamp", "_new=_new", "_cls=_cls", "_present=_present"]
    env: dict[str, Any] = {"_new": tuple.__new__, "_cls": AccessSummary, "_present": plan.present}
    body = ["    " + line for line in summary_read_statements(plan, env, params, "return None")]
    names = [f"f{n}" for n in range(len(_SUMMARY_FIELDS))]
    body.append(f"    return _new(_cls, ({', '.join(names)}, timestamp, {FORMAT_JSON!r}, _present))")
    source = f"def summarize({', '.join(params)}):\n" + "\n".join(body)
    exec(compile(source, "<gatewatch.access.summarize>", "exec"), env)  # noqa: S102 - generated, see docstring
    return env["summarize"]


def _summarize(plan: _Plan, obj: dict[str, Any], timestamp: int | None) -> AccessSummary | None:
    """AccessSummary for a 2xx/3xx line; None for anything else (which takes the full path)."""
    keys = plan.summary_keys
    if keys[0] is None:
        return None
    v = obj[keys[0]]
    status = int(v) if v.__class__ is str and v.isascii() and v.isdigit() and len(v) < 4 else _as_int(v)
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


def _compile_reader(plan: _Plan, probe: dict[str, Any]) -> Callable[[dict[str, Any], int | None], AccessRecord | None]:
    """Generate `read(obj, timestamp)` for one key layout: one attribute store per slot, no loop.

    Faster than the generic loop and the 33-argument constructor call. The generated source is built
    only from AccessRecord's field names and slot numbers: the keys of the line are passed in as
    default-argument values and never become source text. The result is checked against the generic
    reader before it is used (if AccessRecord became frozen again, the stores would fail that check
    and the generic reader would stay in use).
    """
    params = ["obj", "timestamp", "_new=_new", "_record=AccessRecord", "_present=_present", "_as_str=_as_str"]
    env: dict[str, Any] = {
        "_new": object.__new__,
        "AccessRecord": AccessRecord,
        "_present": plan.present,
        "_as_str": _as_str,
    }
    for kind, convert in enumerate(_CONVERT):
        params.append(f"_convert{kind}=_convert{kind}")
        env[f"_convert{kind}"] = convert
    for kind, table in _CONVERTED.items():
        params.append(f"_table{kind}=_table{kind}")
        env[f"_table{kind}"] = table
    fed = {index: (n, key, kind) for n, (key, index, kind) in enumerate(plan.entries)}
    body = ["    o = _new(_record)"]
    if fed:  # every fed key in one itemgetter call (one key: it returns the value itself)
        env["_values_of"] = itemgetter(*(key for key, _index, _kind in plan.entries))
        params.append("_values_of=_values_of")
        body.append(f"    {', '.join(f'v{n}' for n in range(len(plan.entries)))} = _values_of(obj)")
    for index, name in enumerate(_FIELD_NAMES):
        if index == _I_FORMAT:
            body.append(f"    o.{name} = {FORMAT_JSON!r}")
        elif index == _I_TIMESTAMP:
            body.append(f"    o.{name} = timestamp")
        elif index == _I_PRESENT:
            body.append(f"    o.{name} = _present")
        elif index in fed:
            n, _key, kind = fed[index]
            v = f"v{n}"
            # The common shapes are decided inline (no call): a plain string, "-", a number string seen before.
            if kind == _STR:
                body.append(
                    f"    o.{name} = ({v} if {v} and {v} != '-' else None) if {v}.__class__ is str else _as_str({v})"
                )
            elif kind in _CONVERTED:
                body.append(f"    o.{name} = _table{kind}[{v}] if {v}.__class__ is str else _convert{kind}({v})")
            else:
                body.append(f"    o.{name} = None if {v} == '-' else _convert{kind}({v})")
        else:
            params.append(f"_d{index}=_d{index}")
            env[f"_d{index}"] = _DEFAULTS[index]
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
_MAX_TARGET_CACHE = 4096


class _FieldResolver:
    """Key -> field resolution for one field map (the user's keys win over the built-in aliases)."""

    __slots__ = (
        "_exact",
        "_last_keys",
        "_last_plan",
        "_normal",
        "_plans",
        "_risky",
        "_summary_exact",
        "_summary_normals",
        "_targets",
    )

    def __init__(self, field_map: Mapping[str, str] | None) -> None:
        self._exact: dict[str, _Target] = {}
        self._normal: dict[str, _Target] = {}
        for their_key, field_name in (field_map or {}).items():
            if not isinstance(their_key, str) or field_name not in CANONICAL_FIELDS:
                continue  # config validation reports these; the parser just ignores them
            target = (_INDEX[field_name], _kind_of(field_name), _RANK_FIELD_MAP, field_name)
            self._exact[their_key] = target
            self._normal.setdefault(_normal_form(their_key), target)
        self._targets: dict[str, _Target | None] = {}
        # What a flattened key must start with to feed a summary field (see risky_key).
        self._summary_normals = _SUMMARY_ALIAS_NORMALS | {
            _normal_form(k) for k, t in (field_map or {}).items() if isinstance(k, str) and t in _SUMMARY_FIELDS
        }
        self._summary_exact = tuple(
            k for k, t in (field_map or {}).items() if isinstance(k, str) and t in _SUMMARY_FIELDS
        )
        self._risky: dict[str, bool] = {}
        self._plans: dict[tuple[str, ...], _Plan] = {}
        self._last_keys: tuple[str, ...] = ()
        self._last_plan: _Plan | None = None

    def resolve(self, key: str) -> _Target | None:
        try:
            return self._targets[key]
        except KeyError:
            pass
        target = self._exact.get(key)
        if target is None and self._normal:
            target = self._normal.get(_normal_form(key))
        if target is None:
            target = _builtin_target(key)
        if len(self._targets) >= _MAX_TARGET_CACHE:
            self._targets.clear()
        self._targets[key] = target
        return target

    def risky_key(self, key: str) -> bool:
        """Could an object under `key` flatten into a key that feeds a summary field (status, route,
        latencies)? `integration` can (integration.latency), `$context` can (anything), `user` cannot."""
        risky = self._risky.get(key)
        if risky is None:
            prefix = _normal_form(key + ".")
            risky = (
                not prefix
                or any(t.startswith(prefix) for t in self._summary_normals)
                or any(k.startswith(key + ".") for k in self._summary_exact)
            )
            if len(self._risky) >= _MAX_TARGET_CACHE:
                self._risky.clear()
            self._risky[key] = risky
        return risky

    def plan_for(self, obj: dict[str, Any]) -> _Plan:
        keys = tuple(obj)
        if keys == self._last_keys:  # consecutive lines of one log group share a layout
            return self._last_plan  # type: ignore[return-value]
        plan = self._plans.get(keys)
        if plan is None:
            chosen = self.choose(keys)
            present = frozenset(target[3] for _key, target in chosen.values())
            entries = tuple((key, target[0], target[1]) for key, target in chosen.values())
            plan = _Plan(entries, present, False)
            # The readers of the fast paths refuse an object in a key they read; the others they skip.
            read = set(plan.summary_keys)
            plan.risky = any(self.risky_key(key) for key in keys if key not in read)
            if len(keys) <= _MAX_PLAN_KEYS:
                if len(self._plans) >= _MAX_PLANS:
                    self._plans.clear()
                self._plans[keys] = plan
        self._last_keys, self._last_plan = keys, plan
        return plan

    def choose(self, keys: Any) -> dict[int, tuple[str, _Target]]:
        """Per slot, the key that feeds it: best rank wins, then the first key in line order."""
        chosen: dict[int, tuple[str, _Target]] = {}
        for key in keys:
            target = self.resolve(key)
            if target is None:
                continue
            held = chosen.get(target[0])
            if held is None or target[2] < held[1][2]:
                chosen[target[0]] = (key, target)
        return chosen


_DEFAULT_RESOLVER = _FieldResolver(None)
_RESOLVERS: dict[int, tuple[Mapping[str, str], dict[str, str], _FieldResolver]] = {}


def _resolver_for(field_map: Mapping[str, str] | None) -> _FieldResolver:
    """One resolver per field map, reused across lines (keyed by identity, checked by value)."""
    if not field_map:
        return _DEFAULT_RESOLVER
    hit = _RESOLVERS.get(id(field_map))
    if hit is not None and hit[0] is field_map and hit[1] == field_map:
        return hit[2]
    resolver = _FieldResolver(field_map)
    if len(_RESOLVERS) >= 16:
        _RESOLVERS.clear()
    _RESOLVERS[id(field_map)] = (field_map, dict(field_map), resolver)
    return resolver


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


def parse_access_line(
    message: str, *, field_map: Mapping[str, str] | None = None, timestamp: int | None = None
) -> AccessRecord | Rejection:
    """Parse one access-log line in any console format (JSON, CLF, CSV, XML) or a custom JSON format.

    `field_map` maps your own JSON keys / XML tags to canonical field names (CANONICAL_FIELDS) and wins
    over the built-in aliases. `timestamp` (the CloudWatch event time, epoch ms) is copied onto the record.
    Never raises: unreadable input becomes a Rejection with a short sample.
    """
    try:
        if message[:1] == "{":
            return _parse_json(message, _resolver_for(field_map), timestamp)
        return _parse_other(message, field_map, timestamp)
    except Exception as exc:  # a safety net: a parser bug must cost one line, never the batch
        if not isinstance(message, str):
            return _reject(REASON_UNRECOGNISED, message, f"not text: {type(message).__name__}")
        return Rejection(
            source=SOURCE_ACCESS, reason=REASON_INTERNAL, sample=_sample(message), detail=type(exc).__name__
        )


_CLF_TIME = re.compile(r"\d{1,2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}")
_SNIFF_CHARS = 512
_LEADING_JUNK = " \t\r\n\ufeff"


def looks_like_access_line(message: str) -> bool:
    """Cheap sniff for lines of unknown kind: a JSON object, an XML `<request>`, or a CLF/CSV time stamp.

    Execution-log lines start with `(requestId)` or plain English and carry no `dd/MMM/yyyy:HH:mm:ss`
    time, so they answer False.
    """
    if not isinstance(message, str):
        return False
    head = message[:_SNIFF_CHARS].lstrip(_LEADING_JUNK)
    first = head[:1]
    if first == "{":
        return '"' in head
    if first == "<":
        return head.startswith("<request") or "</" in head
    if first == "(":
        return False
    return _CLF_TIME.search(head) is not None


# --------------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------------


#: A line that orjson could not parse, as gatewatch.fastpath hands it to `read_json_access`.
NOT_JSON = object()


def json_layout(obj: dict[str, Any], field_map: Mapping[str, str] | None = None) -> _Plan:
    """The plan for a JSON object's key layout (cached): `summary_keys`, `present`, `risky`, `summarize`."""
    return _resolver_for(field_map).plan_for(obj)


def read_json_access(
    obj: Any, message: str, field_map: Mapping[str, str] | None, timestamp: int | None
) -> AccessRecord | Rejection:
    """The full record for an already parsed JSON line (what parse_access_line returns for it);
    for `NOT_JSON`, what parse_access_line makes of the line (it repairs invalid JSON)."""
    if obj is NOT_JSON:
        return parse_access_line(message, field_map=field_map, timestamp=timestamp)
    return _read_json_object(obj, message, _resolver_for(field_map), timestamp)


def parse_access_line_or_summary(
    message: str, *, field_map: Mapping[str, str] | None = None, timestamp: int | None = None
) -> AccessSummary | AccessRecord | Rejection:
    """The analyzer's fast path: a successful request in a JSON format comes back as an AccessSummary
    (only what its metrics need); everything else exactly as `parse_access_line` returns it."""
    try:
        if message[:1] == "{":
            obj = orjson.loads(message)
            if obj.__class__ is dict:
                resolver = _resolver_for(field_map)
                plan = resolver.plan_for(obj)
                if not has_object_value(obj):  # one call per line here: exactness is cheap
                    summary = plan.summarize(obj, timestamp)
                    if summary is not None:
                        return summary
                return _read_json_object(obj, message, resolver, timestamp)
    except Exception:  # invalid JSON (repaired below) or a parser bug (a rejection below): one line, never the batch
        pass
    return parse_access_line(message, field_map=field_map, timestamp=timestamp)


def _parse_json(message: str, resolver: _FieldResolver, timestamp: int | None) -> AccessRecord | Rejection:
    try:
        obj = orjson.loads(message)
    except orjson.JSONDecodeError as exc:
        return _recover_json(message, resolver, timestamp, str(exc))
    return _read_json_object(obj, message, resolver, timestamp)


def _read_json_object(
    obj: Any, message: str, resolver: _FieldResolver, timestamp: int | None
) -> AccessRecord | Rejection:
    if obj.__class__ is not dict:
        return _reject(REASON_UNRECOGNISED, message)
    if has_object_value(obj):  # decided per line: a layout's lines need not all nest the same way
        obj = _flatten(obj)
    record = resolver.plan_for(obj).read(obj, timestamp)
    if record is None:
        return _reject(REASON_NO_REQUEST_FIELDS, message, "no status and no request id: map your keys with a field map")
    return record


def has_object_value(obj: dict[str, Any]) -> bool:
    """Does a parsed line hold an object as a value (which the full path flattens into dotted keys)?"""
    return dict in map(type, obj.values())


_MAX_DEPTH = 16


def _flatten(obj: dict[str, Any]) -> dict[str, Any]:
    """{"error": {"message": m}} -> {"error.message": m}, so nested formats share the dotted aliases."""
    flat: dict[str, Any] = {}
    stack: list[tuple[str, dict[str, Any], int]] = [("", obj, 0)]
    while stack:
        prefix, current, depth = stack.pop()
        for key, value in current.items():
            if value.__class__ is dict:
                if depth < _MAX_DEPTH:
                    stack.append((f"{prefix}{key}.", value, depth + 1))
            else:
                flat[prefix + key] = value
    return flat


# The tolerant scanner. A key is an identifier in quotes, after `{` or `,`, followed by `:`.
_JSON_KEY = re.compile(r'[{,][ \t\r\n]{0,64}"([\w$@.\-]{1,128})"[ \t\r\n]{0,64}:[ \t\r\n]{0,64}')
_WS = " \t\r\n"
_MAX_CANDIDATES = 4096


def _recover_json(
    message: str, resolver: _FieldResolver, timestamp: int | None, error: str
) -> AccessRecord | Rejection:
    """Repair what API Gateway breaks: unescaped quotes, `{{ }}`, unquoted `-`, trailing garbage, cut lines.

    Walks the `"key":` positions in order and takes each value up to the next key boundary, accepting a
    boundary only where the value before it is well formed (a quoted string that closes, or a bare token).
    """
    pairs = _scan_pairs(message)
    if not pairs:
        return _reject(REASON_INVALID_JSON, message, error)
    chosen = resolver.choose(key for key, _raw in pairs)
    by_key: dict[str, Any] = {}
    for key, raw in pairs:
        by_key.setdefault(key, raw)
    values = list(_DEFAULTS)
    values[_I_FORMAT] = FORMAT_JSON
    for _index, (key, target) in chosen.items():
        raw = by_key[key]
        if raw is not None:
            values[target[0]] = _CONVERT[target[1]](raw)
    if values[_I_STATUS] is None and values[_I_REQUEST_ID] is None and values[_I_EXTENDED_ID] is None:
        return _reject(REASON_INVALID_JSON, message, error)
    values[_I_PRESENT] = frozenset(target[3] for _key, target in chosen.values())
    values[_I_RECOVERED] = True
    values[_I_TIMESTAMP] = timestamp
    return _seal(values)


class _Open:
    """A key whose value is still being read by the scanner."""

    __slots__ = ("first", "path", "quote")

    def __init__(self, s: str, path: str, start: int) -> None:
        end = len(s)
        first = start
        while first < end and s[first] in _WS:
            first += 1
        self.path = path
        self.first = first  # first non-blank character of the value
        # For a bare token: where the next quote is (a bare token never contains one). Found once per key.
        self.quote = -1 if first < end and s[first] == '"' else s.find('"', first)


def _judge(s: str, item: _Open, end: int) -> tuple[bool, str | None, int]:
    """Is s[item.first:end] a complete value? Returns (ok, raw value or None when absent, closing braces)."""
    last = end - 1
    closes = 0
    while last >= item.first and (s[last] in _WS or s[last] == "}"):
        if s[last] == "}":
            closes += 1
        last -= 1
    if last < item.first:
        return True, None, closes  # empty value (or the start of a nested object)
    if s[item.first] == '"':
        if last > item.first and s[last] == '"':
            return True, _decode_string(s[item.first + 1 : last]), closes
        return False, None, 0
    if item.quote == -1 or item.quote > last:
        token = s[item.first : last + 1]
        return True, (None if token == "null" else token), closes
    return False, None, 0


def _decode_string(inner: str) -> str:
    if "\\" in inner:
        try:
            decoded = orjson.loads(f'"{inner}"')
            if decoded.__class__ is str:
                return decoded
        except orjson.JSONDecodeError:
            pass
    return inner


def _scan_pairs(s: str) -> list[tuple[str, str | None]]:
    pairs: list[tuple[str, str | None]] = []
    prefixes: list[str] = []
    current: _Open | None = None
    last_pair_mergeable = False  # the last pair may be undone when the key after it proves to be text
    previous: _Open | None = None
    for match in islice(_JSON_KEY.finditer(s), _MAX_CANDIDATES):
        key_start = match.start()
        if current is None:
            current = _Open(s, match.group(1), match.end())
            continue
        ok, raw, closes = _judge(s, current, key_start)
        if ok and raw is None and closes == 0 and s[key_start] == "{":
            prefixes.append(current.path)  # `"error": {` opens a nested object
            current = _Open(s, ".".join(prefixes) + "." + match.group(1), match.end())
            last_pair_mergeable = False
            continue
        if not ok and last_pair_mergeable and previous is not None:
            merged_ok, merged_raw, merged_closes = _judge(s, previous, key_start)
            if merged_ok and merged_raw is not None:
                pairs[-1] = (previous.path, merged_raw)  # the "key" we split on was inside a string
                ok, raw, closes, current = True, None, merged_closes, None
        if not ok:
            continue  # a `"x":` inside a string value: keep reading the same value
        if current is not None:
            pairs.append((current.path, raw))
            previous = current
            last_pair_mergeable = closes == 0 and raw is not None
        else:
            last_pair_mergeable = False
        for _ in range(min(closes, len(prefixes))):
            prefixes.pop()
        path = match.group(1) if not prefixes else ".".join(prefixes) + "." + match.group(1)
        current = _Open(s, path, match.end())
    if current is not None:
        final = _final_value(s, current)
        if final is not None:
            pairs.append((current.path, final[0]))
    return pairs


def _final_value(s: str, item: _Open) -> tuple[str | None] | None:
    """The last value runs to the last `}`; without one the line was cut and only a closed string counts."""
    brace = s.rfind("}", item.first)
    if brace >= 0:
        ok, raw, _closes = _judge(s, item, brace + 1)
        if ok:
            return (raw,)
    last = len(s) - 1
    while last >= item.first and s[last] in _WS:
        last -= 1
    if last > item.first and s[item.first] == '"' and s[last] == '"':
        return (_decode_string(s[item.first + 1 : last]),)
    return None  # a cut bare token (`"status":50`) or a cut string is not a value


# --------------------------------------------------------------------------------------------------
# CLF, CSV, XML
# --------------------------------------------------------------------------------------------------


def _parse_other(message: str, field_map: Mapping[str, str] | None, timestamp: int | None) -> AccessRecord | Rejection:
    if not isinstance(message, str):
        return _reject(REASON_UNRECOGNISED, message, f"not text: {type(message).__name__}")
    text = message.lstrip(_LEADING_JUNK)
    first = text[:1]
    if first == "{":
        return _parse_json(text, _resolver_for(field_map), timestamp)
    record: list[Any] | None = None
    if first == "<":
        record = _parse_xml(text, _resolver_for(field_map))
    else:
        head = text[:_SNIFF_CHARS]
        if "[" in head:
            record = _parse_clf(text)
        if record is None and "," in head:
            record = _parse_csv(text)
    if record is None:
        return _reject(REASON_UNRECOGNISED, message)
    if record[_I_STATUS] is None and record[_I_REQUEST_ID] is None and record[_I_EXTENDED_ID] is None:
        return _reject(REASON_NO_REQUEST_FIELDS, message)
    record[_I_TIMESTAMP] = timestamp
    return _seal(record)


class _Fields:
    """Collects (field, raw text) pairs of a positional format and converts them like JSON values."""

    __slots__ = ("present", "values")

    def __init__(self, fmt: str) -> None:
        self.values = list(_DEFAULTS)
        self.values[_I_FORMAT] = fmt
        self.present: set[str] = set()

    def put(self, field_name: str, raw: str | None, kind: int | None = None) -> None:
        self.present.add(field_name)
        if raw is not None:
            raw = raw.strip()
            self.values[_INDEX[field_name]] = _CONVERT[_kind_of(field_name) if kind is None else kind](raw)

    def finish(self) -> list[Any]:
        self.values[_I_PRESENT] = frozenset(self.present)
        return self.values


_ID_TOKEN = re.compile(r"[A-Za-z0-9_+/\-]{6,64}={0,2}")


def _looks_like_request_id(token: str) -> bool:
    return _ID_TOKEN.fullmatch(token) is not None and (token.endswith("=") or any(c.isdigit() for c in token))


def _put_target(fields: _Fields, target: str, *, default_field: str | None) -> None:
    """REST logs a resource template (`/pets/{petId}`), HTTP/WebSocket a route key (`GET /pets`, `$default`)."""
    if target == "-" or not target:
        if default_field:
            fields.put(default_field, None)
    elif target.startswith("/"):
        fields.put("resource_path", target)
    else:
        fields.put("route_key", target)


def _parse_clf(s: str) -> list[Any] | None:
    """`ip caller user [time] "METHOD target PROTOCOL" status length requestId [extendedRequestId | error text]`.

    Also: no prefix at all (A19), `- -` for caller/user (HTTP), extendedRequestId first (the
    CloudFormation example), no space before the quote, and free error text at the end (terraform).
    """
    open_bracket = s.find("[", 0, _SNIFF_CHARS)
    if open_bracket < 0:
        return None
    close_bracket = s.find("]", open_bracket + 1, open_bracket + 40)
    if close_bracket < 0 or _CLF_TIME.fullmatch(s, open_bracket + 1, close_bracket) is None:
        return None
    open_quote = s.find('"', close_bracket + 1, close_bracket + 18)
    if open_quote < 0 or s[close_bracket + 1 : open_quote].strip():
        return None
    close_quote = s.find('"', open_quote + 1)
    if close_quote < 0:
        return None
    fields = _Fields(FORMAT_CLF)
    prefix = s[:open_bracket].split(None, 5)
    if len(prefix) == 4:
        fields.put("extended_request_id", prefix[0])
        fields.put("ip", prefix[1])
    elif 1 <= len(prefix) <= 3:
        fields.put("ip", prefix[0])
    fields.put("request_time", s[open_bracket + 1 : close_bracket])
    request = s[open_quote + 1 : close_quote].split()
    tail = s[close_quote + 1 :].split(None, 3)
    if _is_websocket_request(request, len(tail)):
        # WebSocket console CLF: "$context.eventType $context.routeKey $context.connectionId" status requestId
        for name, token in zip(("event_type", "route_key", "connection_id"), request, strict=False):
            fields.put(name, token)
        for name, token in zip(("status", "request_id"), tail, strict=False):
            fields.put(name, token)
        return fields.finish()
    target_field = None
    if request:
        fields.put("http_method", request[0])
        if len(request) >= 3:
            fields.put("protocol", request[-1])
            _put_target(fields, " ".join(request[1:-1]), default_field=None)
        elif len(request) == 2:
            _put_target(fields, request[1], default_field=None)
        target_field = "resource_path" if "resource_path" in fields.present else "route_key"
    for name, token in zip(("status", "response_length", "request_id"), tail, strict=False):
        fields.put(name, token)
    if len(tail) == 4:
        extra = tail[3].rstrip()
        single = len(extra.split(None, 1)) == 1
        if single and ((extra == "-" and target_field == "resource_path") or _looks_like_request_id(extra)):
            fields.put("extended_request_id", extra)
        else:
            fields.put("integration_error", extra)
    return fields.finish()


_WEBSOCKET_EVENTS = frozenset({"CONNECT", "MESSAGE", "DISCONNECT"})


def _is_websocket_request(request: list[str], tail_tokens: int) -> bool:
    """`"CONNECT $connect Iq8gj1UmIAMCKpA="` (eventType routeKey connectionId), not `"GET /pets HTTP/1.1"`.
    A rejected handshake logs `"- - -"`; then only the short tail (status requestId) tells."""
    if len(request) != 3:
        return False
    if request[0] in _WEBSOCKET_EVENTS:
        return True
    return request[2] == "-" and request[0] == "-" and tail_tokens == 2


_CSV_MAX_SPLIT = 16


def _parse_csv(s: str) -> list[Any] | None:
    """REST: ip,caller,user,time,method,resourcePath,protocol,status,length,requestId,extendedRequestId.
    HTTP: ip,time,method,routeKey,protocol,status,length,requestId (time has no comma).
    WebSocket: ip,caller,user,time,eventType,routeKey,connectionId,status,requestId."""
    parts = s.rstrip("\r\n").split(",", _CSV_MAX_SPLIT)
    time_at = next((i for i in range(min(len(parts), 5)) if _CLF_TIME.fullmatch(parts[i].strip())), None)
    if time_at is None or len(parts) < time_at + 3:
        return None
    fields = _Fields(FORMAT_CSV)
    if time_at >= 1:
        fields.put("ip", parts[0])
    fields.put("request_time", parts[time_at])
    after = [part.strip() for part in parts[time_at + 1 :]]
    if after[0] in _WEBSOCKET_EVENTS or (len(after) == 5 and not any(a.startswith("HTTP/") for a in after)):
        # WebSocket: ip,caller,user,time,eventType,routeKey,connectionId,status,requestId
        for name, token in zip(
            ("event_type", "route_key", "connection_id", "status", "request_id"), after, strict=False
        ):
            fields.put(name, token)
        return fields.finish()
    fields.put("http_method", after[0])
    protocol_at = next((i for i in range(2, len(after)) if after[i].startswith("HTTP/")), 2)
    _put_target(fields, ",".join(after[1:protocol_at]), default_field="resource_path" if time_at >= 3 else "route_key")
    tail = after[protocol_at : protocol_at + 5]
    for name, token in zip(
        ("protocol", "status", "response_length", "request_id", "extended_request_id"), tail, strict=False
    ):
        fields.put(name, token)
    return fields.finish()


_XML_OPEN = re.compile(r"<([A-Za-z_][\w.\-]{0,63})>")
_XML_CLOSE = re.compile(r"</([A-Za-z_][\w.\-]{0,63})>")
_XML_ID = re.compile(r'<request\s+id\s*=\s*"([^"<>]{0,256})"')
_MAX_XML_TAGS = 4096


def _parse_xml(s: str, resolver: _FieldResolver) -> list[Any] | None:
    """`<request id="..."><tag>value</tag>...</request>` read with a linear tag scan, not an XML parser:
    values are not escaped by API Gateway, and untrusted input must not reach an XML parser."""
    fields = _Fields(FORMAT_XML)
    found = False
    id_match = _XML_ID.match(s)
    if id_match is not None:
        fields.put("request_id", id_match.group(1))
        found = True
    closes: dict[str, list[tuple[int, int]]] = {}
    for match in islice(_XML_CLOSE.finditer(s), _MAX_XML_TAGS):
        closes.setdefault(match.group(1), []).append((match.start(), match.end()))
    cursor: dict[str, int] = {}
    taken: list[tuple[str, str]] = []
    resume = 0
    for match in islice(_XML_OPEN.finditer(s), _MAX_XML_TAGS):
        if match.start() < resume:
            continue  # an opening tag inside a value we already took
        tag = match.group(1)
        ends = closes.get(tag)
        if not ends:
            continue
        at = cursor.get(tag, 0)
        while at < len(ends) and ends[at][0] < match.end():
            at += 1
        cursor[tag] = at
        if at == len(ends):
            continue
        taken.append((tag, s[match.end() : ends[at][0]]))
        resume = ends[at][1]
        cursor[tag] = at + 1
    chosen = resolver.choose(tag for tag, _value in taken)
    by_tag = dict(reversed(taken))
    for _index, (tag, target) in chosen.items():
        if target[3] == "request_id" and found:
            continue
        fields.put(target[3], by_tag[tag], target[1])
        found = True
    return fields.finish() if found else None


# --------------------------------------------------------------------------------------------------
# Rejections
# --------------------------------------------------------------------------------------------------

_CONTROL = dict.fromkeys([*range(32), *range(127, 160)], "?")


def _sample(message: Any) -> str:
    """The first 80 characters with control characters replaced: enough to recognise, never a full line."""
    text = message if isinstance(message, str) else repr(message)
    return text[:SAMPLE_CHARS].translate(_CONTROL)


def _reject(reason: str, message: Any, detail: str = "") -> Rejection:
    return Rejection(source=SOURCE_ACCESS, reason=reason, sample=_sample(message), detail=detail[:200])

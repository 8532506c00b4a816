"""The dashboards' Logs Insights queries, built for the access-log format each API really writes.

Why built, not written once: Logs Insights finds a JSON line's fields under the keys the line uses,
and gatewatch reads many key styles — the `$context` names (`error.responseType`), camelCase
(`errorResponseType`), dots as underscores (`error_responseType`), snake_case (`error_response_type`),
custom names from `fieldMap`, and the console's CLF, CSV and XML formats, which have no keys at all.
A query written for one style shows an empty table for every other. So:

- JSON: each column is `coalesce()` over every spelling the analyzer's parser reads as that field —
  derived from its alias table (`gatewatch.parse.fields.ALIAS_TABLE`) and the user's field map, and
  kept only when the parser's `FieldResolver` resolves it to that very field;
- CLF, CSV, XML (per-API `accessLogFormat`): a `parse` clause with a regular expression that names
  the same columns.

Pure Python (no CDK): the dashboard construct puts the strings on its widgets, and the tests run
them over rendered log lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum

from gatewatch.parse.fields import ALIAS_TABLE, FieldResolver


class AccessLogFormat(StrEnum):
    """What a stage's access log looks like (per-API `accessLogFormat`)."""

    JSON = "json"  # any JSON format, whatever its key style (the recommended one included)
    CLF = "clf"  # the console's Common Log Format (REST, HTTP), optionally with more fields after the request id
    CSV = "csv"  # the console's CSV format
    XML = "xml"  # the console's XML format


#: Column name -> the parser's field it shows. Column names are spelled so that no format's key is
#: one of them (a column named like a key would shadow it in the query).
JSON_COLUMNS: dict[str, str] = {
    "httpStatus": "status",
    "errorType": "error_response_type",
    "failureMessage": "error_message",
    "integrationFailure": "integration_error",
    "integrationMs": "integration_latency_ms",
    "request": "request_id",
}
ROUTE_COLUMN = "route"

_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# One regular expression per text format, naming httpStatus, httpMethod, resource and request. A route
# key (HTTP API) repeats the method ("GET GET /pets"): `(?:[A-Z]+ )?` drops the repetition.
_TEXT_PARSE: dict[AccessLogFormat, str] = {
    AccessLogFormat.CLF: r'/\[[^\]]*\] ?"(?<httpMethod>[A-Z]+) (?:[A-Z]+ )?(?<resource>[^ "]*) [^"]*" '
    r"(?<httpStatus>\d{3}) [^ ]* (?<request>[^ ]*)(?: (?<detail>.*))?$/",
    AccessLogFormat.CSV: r"/,(?<httpMethod>[A-Z]+),(?:[A-Z]+ )?(?<resource>[^,]*),[^,]*,(?<httpStatus>\d{3}),"
    r"[^,]*,(?<request>[^,]*)/",
    AccessLogFormat.XML: r'/<request id="(?<request>[^"]*)">.*<httpMethod>(?<httpMethod>[^<]*)</httpMethod>\s*'
    r"<(?:resourcePath|routeKey)>(?:[A-Z]+ )?(?<resource>[^<]*)</(?:resourcePath|routeKey)>.*"
    r"<status>(?<httpStatus>\d{3})</status>/",
}


@dataclass(frozen=True)
class AccessQueries:
    """The two access-log tables of a stage's dashboard."""

    top_failing_routes: str
    recent_failures: str


def _words(snake: str) -> list[str]:
    return [w for w in snake.split("_") if w]


def _camel(words: list[str]) -> str:
    return words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:])


def _spellings_of(coarse: str, fine: str) -> Iterator[str]:
    """The key styles of one alias, from its two normal forms: `coarse` keeps only the alias's own
    separators (`error_responsetype`), `fine` also splits its camel humps (`error_response_type`)."""
    words = _words(fine)
    groups: list[list[str]] = []
    for token in _words(coarse):
        group: list[str] = []
        while words and "".join(group) != token:
            group.append(words.pop(0))
        groups.append(group)
    tokens = [_camel(g) for g in groups]
    yield ".".join(tokens)  # the $context name: error.responseType
    yield "_".join(tokens)  # dots as underscores: error_responseType
    yield _camel([w for g in groups for w in g])  # camelCase: errorResponseType
    yield fine  # snake_case: error_response_type


def _refines(coarse: str, fine: str) -> bool:
    """`fine` splits `coarse` further and nowhere else (the same letters, at least its separators)."""
    if coarse.replace("_", "") != fine.replace("_", ""):
        return False
    cuts = {len("".join(_words(coarse)[: i + 1])) for i in range(len(_words(coarse)))}
    fine_cuts = {len("".join(_words(fine)[: i + 1])) for i in range(len(_words(fine)))}
    return cuts <= fine_cuts


def field_spellings(field_name: str, field_map: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Every key spelling the access-log parser reads as `field_name`: the user's field-map keys first,
    then the built-in aliases in each key style — only those `FieldResolver` resolves to this field."""
    resolver = FieldResolver(field_map)
    mine = sorted(
        ((rank, normal) for normal, (_slot, _kind, rank, name) in ALIAS_TABLE.items() if name == field_name),
        key=lambda item: item[0],
    )
    candidates = [key for key, target in (field_map or {}).items() if target == field_name]
    for _rank, coarse in mine:
        finer = [fine for _r, fine in mine if fine != coarse and _refines(coarse, fine)]
        finest = [f for f in finer if not any(g != f and _refines(f, g) for g in finer)]
        for fine in finest or [coarse]:
            candidates.extend(_spellings_of(coarse, fine))
    out: list[str] = []
    for key in candidates:
        target = resolver.resolve(key)
        if target is not None and target[3] == field_name and key not in out:
            out.append(key)
    return tuple(out)


def _ref(key: str) -> str:
    return key if _PLAIN_NAME.fullmatch(key) else f"`{key}`"


def _coalesce(field_name: str, field_map: Mapping[str, str] | None) -> str:
    keys = [_ref(k) for k in field_spellings(field_name, field_map)]
    return keys[0] if len(keys) == 1 else f"coalesce({', '.join(keys)})"


def _json_queries(field_map: Mapping[str, str] | None) -> AccessQueries:
    # A REST line has a resource path, an HTTP API line a route key that already holds the method.
    route = (
        f"coalesce({_coalesce('route_key', field_map)}, "
        f'concat({_coalesce("http_method", field_map)}, " ", {_coalesce("resource_path", field_map)}))'
    )
    columns = ",\n       ".join(f"{_coalesce(name, field_map)} as {column}" for column, name in JSON_COLUMNS.items())
    head = f"fields @timestamp, {route} as {ROUTE_COLUMN},\n       {columns}\n| filter httpStatus >= 400"
    return AccessQueries(
        top_failing_routes=f"{head}\n| stats count(*) as failures by {ROUTE_COLUMN}, httpStatus\n"
        "| sort failures desc\n| limit 10",
        recent_failures=f"{head}\n| display @timestamp, httpStatus, {ROUTE_COLUMN}, errorType, failureMessage, "
        "integrationFailure, integrationMs, request\n| sort @timestamp desc\n| limit 20",
    )


def _text_queries(fmt: AccessLogFormat) -> AccessQueries:
    head = (
        f"parse @message {_TEXT_PARSE[fmt]}\n"
        f'| fields concat(httpMethod, " ", resource) as {ROUTE_COLUMN}\n'
        "| filter httpStatus >= 400"
    )
    detail = ", detail" if fmt is AccessLogFormat.CLF else ""  # CLF formats often end in the integration error
    return AccessQueries(
        top_failing_routes=f"{head}\n| stats count(*) as failures by {ROUTE_COLUMN}, httpStatus\n"
        "| sort failures desc\n| limit 10",
        recent_failures=f"{head}\n| display @timestamp, httpStatus, {ROUTE_COLUMN}, request{detail}\n"
        "| sort @timestamp desc\n| limit 20",
    )


def access_queries(
    fmt: AccessLogFormat = AccessLogFormat.JSON, field_map: Mapping[str, str] | None = None
) -> AccessQueries:
    """The top-failing-routes and recent-failures queries for a stage whose access log is `fmt`."""
    return _json_queries(field_map) if fmt is AccessLogFormat.JSON else _text_queries(fmt)


__all__ = [
    "JSON_COLUMNS",
    "ROUTE_COLUMN",
    "AccessLogFormat",
    "AccessQueries",
    "access_queries",
    "field_spellings",
]

"""Canonical access-log fields and the names formats give them: aliases, the field map, the resolver.

A format is whatever the API owner typed into the stage settings: keys name the `$context` variables
in camelCase, dotted, snake_case or nested form, or anything a field map maps. `FieldResolver` turns
a key into its canonical `AccessRecord` field (the user's field map first, then the built-in aliases,
case-, separator- and prefix-insensitive) and, for one format's keys, picks the key that feeds each field.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from gatewatch.models import AccessRecord
from gatewatch.parse.values import EPOCH_MS, FLOAT, INT, QUOTED_STR, STR

FORMAT_JSON = "json"
FORMAT_CLF = "clf"
FORMAT_CSV = "csv"
FORMAT_XML = "xml"

RECORD_FIELDS: tuple[dataclasses.Field, ...] = dataclasses.fields(AccessRecord)
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in RECORD_FIELDS)
FIELD_INDEX: dict[str, int] = {name: i for i, name in enumerate(FIELD_NAMES)}
_NOT_CARRIED = frozenset({"format", "timestamp", "recovered", "fields_present", "suspicious"})

CANONICAL_FIELDS: frozenset[str] = frozenset(FIELD_NAMES) - _NOT_CARRIED
"""The AccessRecord field names an access-log format can carry (valid targets of a field map)."""

I_FORMAT = FIELD_INDEX["format"]
I_TIMESTAMP = FIELD_INDEX["timestamp"]
I_RECOVERED = FIELD_INDEX["recovered"]
I_PRESENT = FIELD_INDEX["fields_present"]
I_STATUS = FIELD_INDEX["status"]
I_REQUEST_ID = FIELD_INDEX["request_id"]
I_EXTENDED_ID = FIELD_INDEX["extended_request_id"]


def _default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None  # `format`, the only required field, is always set by the parser


DEFAULTS: tuple[Any, ...] = tuple(_default_of(f) for f in RECORD_FIELDS)

_INT_FIELDS = frozenset(
    {"status", "response_length", "integration_status", "integration_service_status", "authorizer_status"}
)
_FLOAT_FIELDS = frozenset({"integration_latency_ms", "response_latency_ms", "authorizer_latency_ms"})


def kind_of(field_name: str) -> int:
    if field_name in _INT_FIELDS:
        return INT
    if field_name in _FLOAT_FIELDS:
        return FLOAT
    if field_name == "request_time_epoch_ms":
        return EPOCH_MS
    return STR


def record_from_slots(values: list[Any]) -> AccessRecord:
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
    ("error_message", "error.messageString", QUOTED_STR),
    ("response_latency_ms", "latency", FLOAT),
)

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

# A resolution target: (slot index, value kind, rank, field name). Lower rank wins within a format.
Target = tuple[int, int, int, str]
RANK_FIELD_MAP, RANK_PRIMARY, RANK_SECONDARY = 0, 1, 2


def normal_form(key: str) -> str:
    """Case-, separator- and prefix-insensitive form: `$context.error.responseType` -> `error_responsetype`.

    Camel-case boundaries are kept apart from `.`/`_` boundaries on purpose: `integrationStatus` (the
    Lambda service status) and `integration.status` (what the function returned) are different fields.
    """
    text = key.strip().lower().replace(".", "_").replace("-", "_").lstrip("$")
    if text.startswith("context_"):
        text = text[8:]
    return text


def _build_alias_table() -> dict[str, Target]:
    table: dict[str, Target] = {}
    # Levels: 0 = the variable's own name; 1 = its fully snake_cased spelling. A lower level wins a
    # collision, so snake `integration_status` means `integration.status`, not `integrationStatus`.
    candidates: list[tuple[int, int, str, str, int]] = []
    for field_name, variables in _ALIASES:
        for variable in variables:
            candidates.append((RANK_PRIMARY, 0, variable, field_name, kind_of(field_name)))
    for field_name, variable, kind in _SECONDARY_ALIASES:
        candidates.append((RANK_SECONDARY, 0, variable, field_name, kind))
    for rank, _level, variable, field_name, kind in list(candidates):
        snake = _CAMEL_BOUNDARY.sub("_", variable)
        candidates.append((rank, 1, snake, field_name, kind))
    for rank, _level, variable, field_name, kind in sorted(candidates, key=lambda c: (c[1], c[0])):
        table.setdefault(normal_form(variable), (FIELD_INDEX[field_name], kind, rank, field_name))
    return table


ALIAS_TABLE: dict[str, Target] = _build_alias_table()


@lru_cache(maxsize=4096)
def _builtin_target(key: str) -> Target | None:
    """The built-in meaning of a JSON key / XML tag (cached: a format's keys repeat on every line)."""
    return ALIAS_TABLE.get(normal_form(key))


_MAX_TARGET_CACHE = 4096


class FieldResolver:
    """Key -> field resolution for one field map (the user's keys win over the built-in aliases)."""

    __slots__ = ("_exact", "_normal", "_targets", "field_map")

    def __init__(self, field_map: Mapping[str, str] | None) -> None:
        self.field_map: dict[str, str] = {
            k: v for k, v in (field_map or {}).items() if isinstance(k, str) and v in CANONICAL_FIELDS
        }
        self._exact: dict[str, Target] = {}
        self._normal: dict[str, Target] = {}
        for their_key, field_name in (field_map or {}).items():
            if not isinstance(their_key, str) or field_name not in CANONICAL_FIELDS:
                continue  # config validation reports these; the parser just ignores them
            target = (FIELD_INDEX[field_name], kind_of(field_name), RANK_FIELD_MAP, field_name)
            self._exact[their_key] = target
            self._normal.setdefault(normal_form(their_key), target)
        self._targets: dict[str, Target | None] = {}

    def resolve(self, key: str) -> Target | None:
        try:
            return self._targets[key]
        except KeyError:
            pass
        target = self._exact.get(key)
        if target is None and self._normal:
            target = self._normal.get(normal_form(key))
        if target is None:
            target = _builtin_target(key)
        if len(self._targets) >= _MAX_TARGET_CACHE:
            self._targets.clear()
        self._targets[key] = target
        return target

    def choose(self, keys: Any) -> dict[int, tuple[str, Target]]:
        """Per slot, the key that feeds it: best rank wins, then the first key in line order."""
        chosen: dict[int, tuple[str, Target]] = {}
        for key in keys:
            target = self.resolve(key)
            if target is None:
                continue
            held = chosen.get(target[0])
            if held is None or target[2] < held[1][2]:
                chosen[target[0]] = (key, target)
        return chosen


_DEFAULT_RESOLVER = FieldResolver(None)
_RESOLVERS: dict[int, tuple[Mapping[str, str], dict[str, str], FieldResolver]] = {}


def resolver_for(field_map: Mapping[str, str] | None) -> FieldResolver:
    """One resolver per field map, reused across lines (keyed by identity, checked by value)."""
    if not field_map:
        return _DEFAULT_RESOLVER
    hit = _RESOLVERS.get(id(field_map))
    if hit is not None and hit[0] is field_map and hit[1] == field_map:
        return hit[2]
    resolver = FieldResolver(field_map)
    if len(_RESOLVERS) >= 16:
        _RESOLVERS.clear()
    _RESOLVERS[id(field_map)] = (field_map, dict(field_map), resolver)
    return resolver

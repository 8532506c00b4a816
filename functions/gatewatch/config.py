"""Per-API settings (friendly name, integration timeout, thresholds) and the engine's configuration.

The same `GATEWATCH_APIS` JSON feeds the Lambdas (environment), the CLI (--apis FILE) and is written by
the stack — all through the one schema below. Accepted shapes: {"<apiId>": {...}} or
[{"apiId": "...", ...}]. Keys per API (camelCase as in cdk.json): name, integrationTimeoutMs, slowMs,
routeCap, stage, accessLogGroup (so access lines without apiId/stage fields are attributed to the
right API, and Slack links search the right log group), routes (the API's routes, "GET /pets/{petId}":
only they get a Route dimension of their own, which gives the custom-metric count a hard ceiling).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from gatewatch.constants import DEFAULT_INTEGRATION_TIMEOUT_MS, DEFAULT_ROUTE_CAP, DEFAULT_SLOW_MS, NEAR_TIMEOUT_RATIO


@dataclass(frozen=True, slots=True)
class ApiSettings:
    api_id: str | None = None
    name: str | None = None
    integration_timeout_ms: int = DEFAULT_INTEGRATION_TIMEOUT_MS
    slow_ms: int = DEFAULT_SLOW_MS
    near_timeout_ratio: float = NEAR_TIMEOUT_RATIO
    route_cap: int = DEFAULT_ROUTE_CAP
    stage: str | None = None
    access_log_group: str | None = None  # access-log lines without apiId/stage are attributed to this API
    # The API's routes ("GET /pets/{petId}", "ANY /{proxy+}", "$default"); when set, only these get a
    # Route dimension of their own (the rest are OTHER), whatever the lines say.
    routes: frozenset[str] = frozenset()

    @property
    def near_timeout_ms(self) -> float:
        """The near-timeout threshold: `near_timeout_ratio` of the integration timeout."""
        return self.integration_timeout_ms * self.near_timeout_ratio


@dataclass(frozen=True)
class EngineConfig:
    """What the engine needs to know beyond the logs themselves."""

    apis: Mapping[str, ApiSettings] = field(default_factory=dict)
    default: ApiSettings = field(default_factory=ApiSettings)
    field_map: Mapping[str, str] = field(default_factory=dict)  # custom JSON key -> canonical AccessRecord field

    def api_for_log_group(self, log_group: str | None) -> ApiSettings | None:
        """The configured API whose access logs go to this group (access-log groups are user-named)."""
        if not log_group:
            return None
        return self._by_access_log_group.get(log_group)

    @cached_property
    def _by_access_log_group(self) -> dict[str, ApiSettings]:
        return {s.access_log_group: s for s in self.apis.values() if s.access_log_group}

    def for_api(self, api_id: str | None) -> ApiSettings:
        if api_id is not None:
            found = self.apis.get(api_id)
            if found is not None:
                return found
        return self.default

    def display_name(self, api_id: str | None) -> str | None:
        settings = self.for_api(api_id)
        return settings.name or api_id


class ConfigError(ValueError):
    """A configuration mistake, with a message that says how to fix it."""


# The GATEWATCH_APIS schema: one entry per watched API, camelCase keys as in cdk.json. The stack writes
# it with `api_settings_entry`, the Lambdas read it with `parse_api_settings`: one table, both sides.
#: JSON key -> ApiSettings attribute, for the text fields.
API_TEXT_KEYS: dict[str, str] = {"name": "name", "stage": "stage", "accessLogGroup": "access_log_group"}
#: JSON key -> (ApiSettings attribute, default), for the positive-integer fields (milliseconds, counts).
API_NUMBER_KEYS: dict[str, tuple[str, int]] = {
    "integrationTimeoutMs": ("integration_timeout_ms", DEFAULT_INTEGRATION_TIMEOUT_MS),
    "slowMs": ("slow_ms", DEFAULT_SLOW_MS),
    "routeCap": ("route_cap", DEFAULT_ROUTE_CAP),
}
#: JSON key of the route list (a list of "METHOD /path" or route-key strings).
ROUTES_KEY = "routes"
#: Numbers written even when they equal the default (the timeout is what latency is judged against).
_ALWAYS_WRITTEN = frozenset({"integrationTimeoutMs"})


def api_settings_entry(settings: ApiSettings) -> dict[str, Any]:
    """One API's GATEWATCH_APIS entry (what `parse_api_settings` reads back into the same settings).

    Values may be CDK tokens (the construct's API ids and log group names): they are strings here.
    """
    entry: dict[str, Any] = {"apiId": settings.api_id}
    for key, attribute in API_TEXT_KEYS.items():
        value = getattr(settings, attribute)
        if value:
            entry[key] = value
    for key, (attribute, default) in API_NUMBER_KEYS.items():
        value = getattr(settings, attribute)
        if value != default or key in _ALWAYS_WRITTEN:
            entry[key] = value
    if settings.routes:
        entry[ROUTES_KEY] = sorted(settings.routes)
    return entry


def normalize_route(route: str) -> str:
    """`get  /pets/{petId}` -> `GET /pets/{petId}` (a route as `classify.routes` writes it); a route key
    without a method (`$default`, `$connect`) is kept as it is."""
    method, _, path = route.strip().partition(" ")
    path = path.strip()
    return f"{method.upper()} {path}" if path else method


def parse_routes(raw: Any, where: str) -> frozenset[str]:
    """An API's `routes` (a list of "METHOD /path" or route keys), normalised; ConfigError naming `where`."""
    if raw is None:
        return frozenset()
    if not isinstance(raw, list) or not all(isinstance(r, str) and r.strip() for r in raw):
        raise ConfigError(f'{where} must be a list of routes such as "GET /pets/{{petId}}", got {str(raw)[:80]!r}')
    routes = frozenset(map(normalize_route, raw))
    for route in routes:
        if " " in route and not route.split(" ", 1)[1].startswith("/"):
            raise ConfigError(f'{where}: {route!r} is not "METHOD /path"')
    return routes


def _positive_int(raw: Any, where: str, default: int) -> int:
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw <= 0:
        raise ConfigError(f"{where} must be a positive number, got {raw!r}")
    return int(raw)


def _entries(raw: Any) -> list[tuple[str, Any]]:
    if isinstance(raw, Mapping):
        return [(str(k), v) for k, v in raw.items()]
    if isinstance(raw, list):
        items = []
        for i, entry in enumerate(raw):
            if not isinstance(entry, Mapping) or not entry.get("apiId"):
                raise ConfigError(f"GATEWATCH_APIS[{i}] needs an 'apiId'")
            items.append((str(entry["apiId"]), entry))
        return items
    raise ConfigError("GATEWATCH_APIS must be a JSON object keyed by API id or a list of objects with 'apiId'")


def parse_api_settings(raw: Any) -> dict[str, ApiSettings]:
    """Parse the GATEWATCH_APIS structure (already JSON-decoded): a list of entries with `apiId`, or an
    object keyed by API id. Raises ConfigError naming the entry and key that is wrong."""
    if raw in (None, "", {}, []):
        return {}
    out: dict[str, ApiSettings] = {}
    for api_id, entry in _entries(raw):
        if not isinstance(entry, Mapping):
            raise ConfigError(f"GATEWATCH_APIS[{api_id!r}] must be an object")
        where = f"GATEWATCH_APIS[{api_id!r}]"
        values: dict[str, Any] = {
            attribute: str(entry[key]) if entry.get(key) else None for key, attribute in API_TEXT_KEYS.items()
        }
        for key, (attribute, default) in API_NUMBER_KEYS.items():
            values[attribute] = _positive_int(entry.get(key), f"{where}.{key}", default)
        values["routes"] = parse_routes(entry.get(ROUTES_KEY), f"{where}.{ROUTES_KEY}")
        out[api_id] = ApiSettings(api_id=api_id, **values)
    return out


def load_engine_config(apis_json: str | None = None, field_map_json: str | None = None) -> EngineConfig:
    """Build the engine config from the JSON strings found in the environment or in files."""
    try:
        apis = parse_api_settings(json.loads(apis_json) if apis_json else None)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"GATEWATCH_APIS is not valid JSON: {exc.msg} at position {exc.pos}") from None
    try:
        field_map = json.loads(field_map_json) if field_map_json else {}
    except json.JSONDecodeError as exc:
        raise ConfigError(f"GATEWATCH_FIELD_MAP is not valid JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(field_map, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in field_map.items()
    ):
        raise ConfigError("GATEWATCH_FIELD_MAP must be a JSON object mapping your field names to gatewatch's")
    return EngineConfig(apis=apis, field_map=dict(field_map))

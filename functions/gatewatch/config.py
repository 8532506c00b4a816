"""Per-API settings (friendly name, integration timeout, thresholds) and the engine's configuration.

The same `GATEWATCH_APIS` JSON feeds the Lambda (environment), the CLI (--apis FILE) and the stack.
Accepted shapes: {"<apiId>": {...}} or [{"apiId": "...", ...}]. Keys per API (camelCase as in cdk.json):
name, integrationTimeoutMs, slowMs, routeCap, stage, accessLogGroup (so access lines without
apiId/stage fields are attributed to the right API).
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


def _positive_int(raw: Any, where: str, default: int) -> int:
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw <= 0:
        raise ConfigError(f"{where} must be a positive number of milliseconds, got {raw!r}")
    return int(raw)


def parse_api_settings(raw: Any) -> dict[str, ApiSettings]:
    """Parse the GATEWATCH_APIS structure (already JSON-decoded)."""
    if raw in (None, "", {}, []):
        return {}
    items: list[tuple[str, Mapping[str, Any]]]
    if isinstance(raw, Mapping):
        items = [(str(k), v) for k, v in raw.items()]
    elif isinstance(raw, list):
        items = []
        for i, entry in enumerate(raw):
            if not isinstance(entry, Mapping) or not entry.get("apiId"):
                raise ConfigError(f"GATEWATCH_APIS[{i}] needs an 'apiId'")
            items.append((str(entry["apiId"]), entry))
    else:
        raise ConfigError("GATEWATCH_APIS must be a JSON object keyed by API id or a list of objects with 'apiId'")
    out: dict[str, ApiSettings] = {}
    for api_id, entry in items:
        if not isinstance(entry, Mapping):
            raise ConfigError(f"GATEWATCH_APIS[{api_id!r}] must be an object")
        where = f"GATEWATCH_APIS[{api_id!r}]"
        out[api_id] = ApiSettings(
            api_id=api_id,
            name=str(entry["name"]) if entry.get("name") else None,
            integration_timeout_ms=_positive_int(
                entry.get("integrationTimeoutMs"), f"{where}.integrationTimeoutMs", DEFAULT_INTEGRATION_TIMEOUT_MS
            ),
            slow_ms=_positive_int(entry.get("slowMs"), f"{where}.slowMs", DEFAULT_SLOW_MS),
            route_cap=_positive_int(entry.get("routeCap"), f"{where}.routeCap", DEFAULT_ROUTE_CAP),
            stage=str(entry["stage"]) if entry.get("stage") else None,
            access_log_group=str(entry["accessLogGroup"]) if entry.get("accessLogGroup") else None,
        )
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

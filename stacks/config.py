"""The deployment configuration (`gatewatch` key of cdk.json context) and its validation.

Why validate at synth with one message per mistake: a typo in a context key otherwise deploys a
stack that silently watches nothing. Every problem found is reported at once, each message naming
the key (`gatewatch.apis[0].stage`), what is wrong and what would be right, so one `cdk synth`
lists everything to fix.

The model is plain frozen dataclasses; the engine's own pieces are reused (alarm thresholds from
`gatewatch.alarm_specs`, category names from `gatewatch.taxonomy`, defaults from `constants`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from gatewatch.classify.taxonomy import BROKEN_DEPLOY_CATEGORIES, ErrorCategory
from gatewatch.config import ApiSettings, ConfigError, api_settings_entry, parse_routes
from gatewatch.constants import (
    DEFAULT_ALERT_COOLDOWN_S,
    DEFAULT_INTEGRATION_TIMEOUT_MS,
    DEFAULT_NAMESPACE,
    DEFAULT_ROUTE_CAP,
    DEFAULT_SLOW_MS,
)
from gatewatch.naming import execution_log_group, slug
from stacks.monitoring.alarm_specs import HealthThresholds, Thresholds
from stacks.monitoring.insights import AccessLogFormat

CONTEXT_KEY = "gatewatch"

#: CloudWatch Logs' accepted retention periods (days).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
MAX_SUBSCRIPTION_FILTERS = 2  # per log group (CloudWatch Logs quota)

_API_ID = re.compile(r"^[a-z0-9]{10}$")
_STAGE = re.compile(r"^(\$default|[A-Za-z0-9_-]{1,128})$")
_LOG_GROUP = re.compile(r"^[\w\-./#]{1,512}$")
_SECRET_NAME = re.compile(r"^[\w/+=.@-]{1,512}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NAMESPACE = re.compile(r"^[\w.\-/#:]{1,255}$")
_SLACK_CHANNEL = re.compile(r"^[#@]?[\w.-]{1,80}$|^[CGD][A-Z0-9]{8,}$")


class IngestionMode(StrEnum):
    """How log lines reach the analyzer (docs/deploy.md explains when to pick which)."""

    SUBSCRIPTION = "subscription"  # one subscription filter per log group -> analyzer
    ACCOUNT_POLICY = "account-policy"  # one account-level subscription filter policy -> analyzer
    KINESIS = "kinesis"  # subscription filters -> Kinesis stream -> event source mapping -> analyzer


class GatewatchConfigError(ValueError):
    """Every mistake found in the configuration; `problems` holds one message per mistake."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"gatewatch configuration has {len(problems)} problem(s):\n{lines}")


@dataclass(frozen=True)
class WatchedApi:
    """One API stage to watch. `dimension` is the value of the `Api` metric dimension."""

    api_id: str
    stage: str
    name: str | None = None
    access_log_group: str | None = None
    execution_logs: bool = False
    create_execution_log_group: bool = False
    integration_timeout_ms: int = DEFAULT_INTEGRATION_TIMEOUT_MS
    slow_ms: int = DEFAULT_SLOW_MS
    route_cap: int = DEFAULT_ROUTE_CAP
    routes: frozenset[str] = frozenset()  # the API's routes: only these get a Route dimension (a hard ceiling)
    existing_subscription_filters: int = 0
    thresholds: Thresholds = field(default_factory=Thresholds)
    access_log_format: AccessLogFormat = AccessLogFormat.JSON  # what the dashboard's Logs Insights tables parse

    @property
    def dimension(self) -> str:
        return self.name or self.api_id

    @property
    def execution_log_group(self) -> str:
        return execution_log_group(self.api_id, self.stage)

    def engine_settings(self) -> ApiSettings:
        """This API as the engine sees it: its GATEWATCH_APIS entry (`gatewatch.config.api_settings_entry`).

        The access-log group and stage let the analyzer attribute lines whose format has no apiId/stage,
        and let the notifier's Logs Insights links search the API's access log."""
        return ApiSettings(
            api_id=self.api_id,
            name=self.name,
            integration_timeout_ms=self.integration_timeout_ms,
            slow_ms=self.slow_ms,
            route_cap=self.route_cap,
            stage=self.stage,
            access_log_group=self.access_log_group,
            routes=self.routes,
        )


@dataclass(frozen=True)
class KinesisSettings:
    """The stream and the event source mapping of the `kinesis` mode (batching chosen for ~1-6 MB batches)."""

    shard_count: int = 1
    retention_hours: int = 24
    batch_size: int = 100
    max_batching_window_s: int = 5
    parallelization_factor: int = 2
    retry_attempts: int = 3
    max_record_age_s: int = 6 * 3600
    source_accounts: tuple[str, ...] = ()  # other accounts allowed to send logs (cross-account destination)
    removal_policy: str = "destroy"  # what `cdk destroy` does with the stream: "destroy" or "retain"


@dataclass(frozen=True)
class SlackSettings:
    webhook_secret_name: str | None = None
    bot_token_secret_name: str | None = None
    channel: str | None = None

    @property
    def configured(self) -> bool:
        return bool(self.webhook_secret_name or self.bot_token_secret_name)


@dataclass(frozen=True)
class GatewatchConfig:
    """The whole deployment configuration, validated."""

    apis: tuple[WatchedApi, ...] = ()
    ingestion: IngestionMode = IngestionMode.SUBSCRIPTION
    kinesis: KinesisSettings = field(default_factory=KinesisSettings)
    thresholds: Thresholds = field(default_factory=Thresholds)
    health: HealthThresholds = field(default_factory=HealthThresholds)
    slack: SlackSettings = field(default_factory=SlackSettings)
    alert_email: str | None = None
    metric_namespace: str = DEFAULT_NAMESPACE
    log_retention_days: int = 30
    alert_categories: tuple[str, ...] = tuple(sorted(c.value for c in BROKEN_DEPLOY_CATEGORIES))
    alert_cooldown_s: int = DEFAULT_ALERT_COOLDOWN_S
    field_map: Mapping[str, str] = field(default_factory=dict)

    def engine_apis_json(self) -> str:
        return json.dumps([api_settings_entry(api.engine_settings()) for api in self.apis], separators=(",", ":"))


# --------------------------------------------------------------------------- parsing


class _Problems:
    """Collects messages; typed readers return a default after recording a mistake, so parsing goes on."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def unknown_keys(self, raw: Mapping[str, Any], known: set[str], where: str) -> None:
        for key in raw:
            if key not in known:
                self.add(f"{where}.{key}: unknown key (known keys: {', '.join(sorted(known))})")

    def number(
        self,
        raw: Mapping[str, Any],
        key: str,
        where: str,
        default: Any,
        *,
        integer: bool = False,
        low: float | None = None,
        high: float | None = None,
        low_open: bool = False,
    ) -> Any:
        if key not in raw or raw[key] is None:
            return default
        value = raw[key]
        kind = "an integer" if integer else "a number"
        ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok_type:
            self.add(f"{where}.{key} must be {kind}, got {value!r}")
            return default
        too_low = low is not None and (value <= low if low_open else value < low)
        if too_low or (high is not None and value > high):
            lo = f"> {low:g}" if low_open else f">= {low:g}" if low is not None else ""
            hi = f"<= {high:g}" if high is not None else ""
            self.add(f"{where}.{key} must be {kind} {' and '.join(x for x in (lo, hi) if x)}, got {value!r}")
            return default
        return value

    def boolean(self, raw: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
        value = raw.get(key, default)
        if not isinstance(value, bool):
            self.add(f"{where}.{key} must be true or false, got {value!r}")
            return default
        return value

    def string(
        self, raw: Mapping[str, Any], key: str, where: str, pattern: re.Pattern[str] | None = None, hint: str = ""
    ) -> str | None:
        value = raw.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            self.add(f"{where}.{key} must be a non-empty string, got {value!r}")
            return None
        if pattern is not None and not pattern.match(value):
            self.add(f"{where}.{key}: {value!r} {hint}")
            return None
        return value

    def mapping(self, raw: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
        value = raw.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.add(f"{where}.{key} must be an object, got {type(value).__name__}")
            return {}
        return value


_THRESHOLD_LIMITS: dict[str, tuple[float, float | None, bool]] = {
    # field -> (low, high, integer)
    "error5xx_rate_pct": (0, 100, False),
    "error4xx_rate_pct": (0, 100, False),
    "error5xx_periods": (1, 60, True),
    "error4xx_periods": (1, 60, True),
    "latency_p90_ms": (0, None, False),
    "integration_latency_p90_ms": (0, None, False),
    "latency_periods": (1, 60, True),
    "near_timeouts_per_minute": (0, None, False),
    "throttled_per_minute": (0, None, False),
    "quota_exceeded_per_minute": (0, None, False),
    "anomaly_band": (0, 10, False),
    "anomaly_periods": (1, 60, True),
    # CloudWatch evaluates at most one day: 1,440 one-minute periods; 0 turns the silence alarm off
    "silence_minutes": (0, 1440, True),
    "silence_requests_per_minute": (0, None, False),
}


def _thresholds(p: _Problems, raw: Mapping[str, Any], where: str, base: Thresholds) -> Thresholds:
    keys = Thresholds.config_keys()
    p.unknown_keys(raw, set(keys), where)
    overrides: dict[str, Any] = {}
    for key, name in keys.items():
        if key in raw:
            low, high, integer = _THRESHOLD_LIMITS[name]
            value = p.number(raw, key, where, None, integer=integer, low=low, high=high, low_open=not integer)
            if value is not None:
                overrides[name] = value
    return base.merged(overrides)


def _health(p: _Problems, raw: Mapping[str, Any], where: str) -> HealthThresholds:
    names = {
        "analyzerErrors": "analyzer_errors",
        "analyzerThrottles": "analyzer_throttles",
        "notifierErrors": "notifier_errors",
        "deadLetterMessages": "dead_letter_messages",
        "unparsedRatePct": "unparsed_rate_pct",
        "suspiciousRatePct": "suspicious_rate_pct",
    }
    p.unknown_keys(raw, set(names), where)
    values = {
        name: p.number(
            raw,
            key,
            where,
            getattr(HealthThresholds(), name),
            low=0,
            low_open=True,
            high=100 if key.endswith("RatePct") else None,
        )
        for key, name in names.items()
    }
    return HealthThresholds(**values)


_API_KEYS = {
    "apiId",
    "stage",
    "name",
    "accessLogGroup",
    "executionLogs",
    "createExecutionLogGroup",
    "integrationTimeoutMs",
    "slowMs",
    "routeCap",
    "routes",
    "existingSubscriptionFilters",
    "thresholds",
    "accessLogFormat",
}


def _api(p: _Problems, raw: Any, where: str, defaults: Thresholds) -> WatchedApi | None:
    if not isinstance(raw, Mapping):
        p.add(f'{where} must be an object like {{"apiId": "a1b2c3d4e5", "stage": "prod"}}, got {raw!r}')
        return None
    p.unknown_keys(raw, _API_KEYS, where)
    api_id = raw.get("apiId")
    if api_id is None:
        p.add(f"{where}.apiId is missing: the 10-character id of the REST/HTTP/WebSocket API (e.g. a1b2c3d4e5)")
    elif not isinstance(api_id, str) or not _API_ID.match(api_id):
        p.add(
            f"{where}.apiId must be the 10-character API id (lower-case letters and digits, e.g. a1b2c3d4e5), "
            f"got {api_id!r}"
        )
        api_id = None
    stage = raw.get("stage")
    if stage is None:
        p.add(f"{where}.stage is missing: the stage name to watch (e.g. prod, or $default for an HTTP API)")
    elif not isinstance(stage, str) or not _STAGE.match(stage):
        p.add(f"{where}.stage must be a stage name (letters, digits, '-' and '_', or $default), got {stage!r}")
        stage = None
    name = p.string(
        raw, "name", where, re.compile(r"^[^\x00-\x1f]{1,100}$"), "is not a usable name (1-100 printable characters)"
    )
    access = p.string(
        raw,
        "accessLogGroup",
        where,
        _LOG_GROUP,
        "is not a log group name (letters, digits and . _ - / #, up to 512 characters)",
    )
    execution = p.boolean(raw, "executionLogs", where, False)
    create_exec = p.boolean(raw, "createExecutionLogGroup", where, False)
    execution_valid = isinstance(raw.get("executionLogs", False), bool)  # else already reported above
    if create_exec and not execution and execution_valid:
        p.add(
            f"{where}.createExecutionLogGroup is true but executionLogs is false: set executionLogs to true "
            "or drop createExecutionLogGroup"
        )
    if "accessLogGroup" not in raw and not execution and execution_valid:
        p.add(f"{where} has no logs to read: give accessLogGroup and/or set executionLogs to true")
    timeout = p.number(
        raw, "integrationTimeoutMs", where, DEFAULT_INTEGRATION_TIMEOUT_MS, integer=True, low=50, high=900_000
    )
    slow = p.number(raw, "slowMs", where, DEFAULT_SLOW_MS, integer=True, low=1, high=900_000)
    route_cap = p.number(raw, "routeCap", where, DEFAULT_ROUTE_CAP, integer=True, low=1, high=1_000)
    try:
        routes = parse_routes(raw.get("routes"), f"{where}.routes")
    except ConfigError as exc:
        p.add(str(exc))
        routes = frozenset()
    existing = p.number(
        raw, "existingSubscriptionFilters", where, 0, integer=True, low=0, high=MAX_SUBSCRIPTION_FILTERS
    )
    thresholds = _thresholds(p, p.mapping(raw, "thresholds", where), f"{where}.thresholds", defaults)
    log_format = raw.get("accessLogFormat", AccessLogFormat.JSON.value)
    try:
        access_log_format = AccessLogFormat(log_format)
    except ValueError:
        p.add(
            f"{where}.accessLogFormat must be one of {', '.join(f.value for f in AccessLogFormat)} (the stage's access-log "
            f"format, for the dashboard's Logs Insights tables), got {log_format!r}"
        )
        access_log_format = AccessLogFormat.JSON
    if api_id is None or stage is None:
        return None
    return WatchedApi(
        api_id=api_id,
        stage=stage,
        name=name,
        access_log_group=access,
        execution_logs=execution,
        create_execution_log_group=create_exec,
        integration_timeout_ms=timeout,
        slow_ms=slow,
        route_cap=route_cap,
        routes=routes,
        existing_subscription_filters=existing,
        thresholds=thresholds,
        access_log_format=access_log_format,
    )


def _check_api_set(p: _Problems, apis: list[tuple[int, WatchedApi]]) -> None:
    """Mistakes that only show across APIs: duplicates and colliding names."""
    seen_stage: dict[tuple[str, str], int] = {}
    seen_dimension: dict[tuple[str, str], int] = {}
    by_slug: dict[str, tuple[int, str]] = {}
    by_id: dict[str, tuple[int, WatchedApi]] = {}
    for i, api in apis:
        named = by_slug.setdefault(slug(api.dimension), (i, api.dimension))
        if named[1] != api.dimension:
            p.add(
                f"gatewatch.apis[{i}]: name {api.dimension!r} and the name {named[1]!r} of apis[{named[0]}] both become "
                f"{slug(api.dimension)!r} in dashboard and alarm names — their dashboards and alarms would collide; "
                "give the APIs names that differ in their letters or digits"
            )
        if (api.api_id, api.stage) in seen_stage:
            p.add(
                f"gatewatch.apis[{i}]: {api.api_id}/{api.stage} is already listed at apis[{seen_stage[api.api_id, api.stage]}]"
            )
            continue
        seen_stage[api.api_id, api.stage] = i
        if (api.dimension, api.stage) in seen_dimension:
            p.add(
                f"gatewatch.apis[{i}]: name {api.dimension!r} with stage {api.stage!r} is already used by "
                f"apis[{seen_dimension[api.dimension, api.stage]}] — metrics, alarms and dashboards would mix; "
                "give each API its own name"
            )
        seen_dimension[api.dimension, api.stage] = i
        first = by_id.get(api.api_id)
        if first is not None and (first[1].name, first[1].integration_timeout_ms, first[1].slow_ms) != (
            api.name,
            api.integration_timeout_ms,
            api.slow_ms,
        ):
            p.add(
                f"gatewatch.apis[{i}]: API {api.api_id} is also listed at apis[{first[0]}] with a different name, "
                "integrationTimeoutMs or slowMs — the analyzer keeps one setting per API id; make them equal"
            )
        by_id.setdefault(api.api_id, (i, api))


_KINESIS_KEYS = {
    "shardCount": ("shard_count", 1, 500),
    "retentionHours": ("retention_hours", 24, 8760),
    "batchSize": ("batch_size", 1, 10_000),
    "maxBatchingWindowSeconds": ("max_batching_window_s", 0, 300),
    "parallelizationFactor": ("parallelization_factor", 1, 10),
    "retryAttempts": ("retry_attempts", 0, 10_000),
    "maxRecordAgeSeconds": ("max_record_age_s", 60, 604_800),
}


KINESIS_REMOVAL_POLICIES = ("destroy", "retain")


def _kinesis(p: _Problems, raw: Mapping[str, Any], where: str) -> KinesisSettings:
    p.unknown_keys(raw, set(_KINESIS_KEYS) | {"sourceAccounts", "removalPolicy"}, where)
    defaults = KinesisSettings()
    values = {
        name: p.number(raw, key, where, getattr(defaults, name), integer=True, low=low, high=high)
        for key, (name, low, high) in _KINESIS_KEYS.items()
    }
    accounts = raw.get("sourceAccounts", [])
    if not isinstance(accounts, list) or not all(isinstance(a, str) and re.fullmatch(r"\d{12}", a) for a in accounts):
        p.add(f"{where}.sourceAccounts must be a list of 12-digit AWS account ids, got {accounts!r}")
        accounts = []
    removal = raw.get("removalPolicy", KinesisSettings().removal_policy)
    if removal not in KINESIS_REMOVAL_POLICIES:
        p.add(
            f"{where}.removalPolicy must be {' or '.join(repr(r) for r in KINESIS_REMOVAL_POLICIES)} (what "
            f"`cdk destroy` does with the stream), got {removal!r}"
        )
        removal = KinesisSettings().removal_policy
    return KinesisSettings(**values, source_accounts=tuple(accounts), removal_policy=removal)


def _slack(p: _Problems, raw: Mapping[str, Any], where: str) -> SlackSettings:
    p.unknown_keys(raw, {"webhookSecretName", "botTokenSecretName", "channel"}, where)
    hint = "is not a Secrets Manager secret name (letters, digits and /_+=.@-)"
    webhook = p.string(raw, "webhookSecretName", where, _SECRET_NAME, hint)
    bot = p.string(raw, "botTokenSecretName", where, _SECRET_NAME, hint)
    channel = p.string(
        raw, "channel", where, _SLACK_CHANNEL, "is not a Slack channel name or id (e.g. #alerts or C0123456789)"
    )
    if "webhookSecretName" in raw and "botTokenSecretName" in raw:
        p.add(f"{where}: give webhookSecretName or botTokenSecretName, not both")
    if "botTokenSecretName" in raw and "channel" not in raw:
        p.add(f"{where}.channel is missing: a bot token posts to a channel (e.g. #alerts)")
    return SlackSettings(webhook_secret_name=webhook, bot_token_secret_name=bot, channel=channel)


_TOP_KEYS = {
    "apis",
    "ingestion",
    "kinesis",
    "thresholds",
    "health",
    "slack",
    "alertEmail",
    "metricNamespace",
    "logRetentionDays",
    "alertCategories",
    "alertCooldownSeconds",
    "fieldMap",
}


def parse_config(raw: Any, *, require_apis: bool = True) -> GatewatchConfig:
    """Validate the `gatewatch` context value; raise GatewatchConfigError listing every mistake.

    `require_apis=False` is for the `Gatewatch` construct, whose APIs may all come from the app.
    """
    p = _Problems()
    where = CONTEXT_KEY
    if not isinstance(raw, Mapping):
        raise GatewatchConfigError(
            [f"{where} must be a JSON object (or the name of a JSON file holding one), got {type(raw).__name__}"]
        )
    p.unknown_keys(raw, _TOP_KEYS, where)
    thresholds = _thresholds(p, p.mapping(raw, "thresholds", where), f"{where}.thresholds", Thresholds())

    raw_apis = raw.get("apis", [])
    apis: list[tuple[int, WatchedApi]] = []
    if not isinstance(raw_apis, list):
        p.add(f"{where}.apis must be a list of APIs to watch, got {type(raw_apis).__name__}")
    else:
        if not raw_apis and require_apis:
            p.add(
                f"{where}.apis is empty: list at least one API to watch, e.g. "
                '[{"apiId": "a1b2c3d4e5", "stage": "prod", "accessLogGroup": "/aws/apigateway/orders-prod"}]'
            )
        for i, entry in enumerate(raw_apis):
            api = _api(p, entry, f"{where}.apis[{i}]", thresholds)
            if api is not None:
                apis.append((i, api))
        _check_api_set(p, apis)

    mode_raw = raw.get("ingestion", IngestionMode.SUBSCRIPTION.value)
    try:
        mode = IngestionMode(mode_raw)
    except ValueError:
        p.add(f"{where}.ingestion must be one of {', '.join(m.value for m in IngestionMode)}, got {mode_raw!r}")
        mode = IngestionMode.SUBSCRIPTION
    kinesis = _kinesis(p, p.mapping(raw, "kinesis", where), f"{where}.kinesis")
    if "kinesis" in raw and mode is not IngestionMode.KINESIS:
        p.add(
            f"{where}.kinesis is set but ingestion is {mode.value!r}: set ingestion to 'kinesis' or drop the kinesis block"
        )

    slack = _slack(p, p.mapping(raw, "slack", where), f"{where}.slack")
    email = p.string(raw, "alertEmail", where, _EMAIL, "is not an e-mail address")
    namespace = (
        p.string(
            raw,
            "metricNamespace",
            where,
            _NAMESPACE,
            "is not a CloudWatch namespace (letters, digits and . - _ / # :, up to 255)",
        )
        or DEFAULT_NAMESPACE
    )
    if namespace.startswith("AWS/"):
        p.add(f"{where}.metricNamespace must not start with 'AWS/' (reserved for AWS services), got {namespace!r}")
        namespace = DEFAULT_NAMESPACE
    retention = p.number(raw, "logRetentionDays", where, 30, integer=True)
    if retention not in LOG_RETENTION_DAYS:
        p.add(
            f"{where}.logRetentionDays must be one of CloudWatch's periods "
            f"({', '.join(map(str, LOG_RETENTION_DAYS))}), got {raw.get('logRetentionDays')!r}"
        )
        retention = 30
    categories = raw.get("alertCategories", list(GatewatchConfig().alert_categories))
    known = {c.value for c in ErrorCategory if c is not ErrorCategory.OK}
    if not isinstance(categories, list) or any(c not in known for c in categories):
        bad = [c for c in categories if c not in known] if isinstance(categories, list) else categories
        p.add(
            f"{where}.alertCategories: unknown category {bad!r}; categories are the names of DESIGN §4 "
            f"(e.g. {', '.join(sorted(BROKEN_DEPLOY_CATEGORIES))})"
        )
        categories = list(GatewatchConfig().alert_categories)
    cooldown = p.number(raw, "alertCooldownSeconds", where, DEFAULT_ALERT_COOLDOWN_S, integer=True, low=60, high=86_400)
    field_map = raw.get("fieldMap", {})
    if not isinstance(field_map, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in field_map.items()
    ):
        p.add(
            f"{where}.fieldMap must map your access-log field names to gatewatch's (strings to strings), got {field_map!r}"
        )
        field_map = {}
    health = _health(p, p.mapping(raw, "health", where), f"{where}.health")

    if p.items:
        raise GatewatchConfigError(p.items)
    return GatewatchConfig(
        apis=tuple(api for _, api in apis),
        ingestion=mode,
        kinesis=kinesis,
        thresholds=thresholds,
        health=health,
        slack=slack,
        alert_email=email,
        metric_namespace=namespace,
        log_retention_days=retention,
        alert_categories=tuple(categories),
        alert_cooldown_s=cooldown,
        field_map=dict(field_map),
    )


def load_config(
    context_value: Any, *, base_dir: Path | str = ".", reader: Callable[[Path], str] | None = None
) -> GatewatchConfig:
    """The config from the context value: an object, or the path of a JSON file (relative to base_dir)."""
    if context_value is None:
        raise GatewatchConfigError(
            [
                f'{CONTEXT_KEY}: no configuration — add a "{CONTEXT_KEY}" object to the context '
                "in cdk.json (see docs/deploy.md) or pass -c gatewatch=<file.json>"
            ]
        )
    if isinstance(context_value, str) and not context_value.lstrip().startswith("{"):
        path = Path(base_dir) / context_value
        try:
            text = (reader or Path.read_text)(path)
        except OSError as exc:
            raise GatewatchConfigError(
                [f"{CONTEXT_KEY}: cannot read the config file {str(path)!r}: {exc.strerror}"]
            ) from None
        context_value = text
    if isinstance(context_value, str):  # a file's text, or JSON given with -c
        try:
            context_value = json.loads(context_value)
        except json.JSONDecodeError as exc:
            raise GatewatchConfigError(
                [f"{CONTEXT_KEY}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]
            ) from None
    return parse_config(context_value)


__all__ = [
    "CONTEXT_KEY",
    "GatewatchConfig",
    "GatewatchConfigError",
    "IngestionMode",
    "KinesisSettings",
    "SlackSettings",
    "WatchedApi",
    "load_config",
    "parse_config",
]

"""Immediate alerts for broken deploys: which requests alert, the gatewatch.alert/v1 message, the dedupe window.

Why in the engine: deciding *what* to alert (categories, grouping per api/stage/category, samples,
a ready Logs Insights query) is pure logic that the CLI and tests can run without AWS; the adapters
only write the dedupe item and publish. One alert per (api, stage, category) per cooldown window:
the window is a DynamoDB item `pk = dedupe_key(...)` written with a conditional put
(`attribute_not_exists(pk) OR expires_at < :now`) and `expires_at = now + cooldown` (the table's TTL
attribute), so concurrent and retried invocations alert once.

The API in a key is its id; an API logged without an id is named by `name=<api name>`, else by
`log=<log group>` (two id-less APIs write different log groups), `none=` when nothing is known.
Each part is percent-encoded (`|`, `=`, `%`, `/` … never appear raw), so no API, name, log group or
stage can produce another's key. The alert's id starts with the same window name, and the alert's
fields keep their meaning (`api_id` is the id, else the name, else "unknown"). Keys of APIs with an
id and a plain stage read exactly as before (`alert#a1b2c3d4e5|prod|MALFORMED_RESPONSE`), so their
open windows stay valid across a deploy; id-less keys change (`alert#unknown|…` was shared by all of
them, `alert#orders|…` becomes `alert#name=orders|…`), which can repeat one alert per id-less API
within the first cooldown after the deploy.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from gatewatch.alerts.schema import AlertSample, AnalyzerAlert
from gatewatch.classify.taxonomy import BROKEN_DEPLOY_CATEGORIES, ErrorCategory, category_info
from gatewatch.config import ConfigError
from gatewatch.constants import (
    DEFAULT_ALERT_COOLDOWN_S,
    ENV_ALERT_CATEGORIES,
    ENV_ALERT_COOLDOWN_S,
    MAX_ALERT_SAMPLES,
)
from gatewatch.models import ClassifiedRequest
from gatewatch.redact import short_sample

MAX_ALERT_ROUTES = 10
MAX_EVIDENCE_CHARS = 300
MAX_QUERY_REQUEST_IDS = 20
INSIGHTS_QUERY_LIMIT = 50
UNKNOWN = "unknown"  # the api id / stage an alert shows when its requests did not say
DEDUPE_KEY_PREFIX = "alert#"
NOT_KNOWN = "none="  # a key part nothing is known of (an encoded part never holds "=")
_MAX_KEY_BYTES = 1024  # DynamoDB allows 2,048 bytes for a partition key; longer keys are hashed


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """Which categories alert at once, and how long one alert silences the same (api, stage, category)."""

    categories: frozenset[ErrorCategory] = BROKEN_DEPLOY_CATEGORIES
    cooldown_s: int = DEFAULT_ALERT_COOLDOWN_S

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AlertPolicy:
        """GATEWATCH_ALERT_CATEGORIES (comma list of category names) and GATEWATCH_ALERT_COOLDOWN_SECONDS."""
        return cls(
            categories=_categories_setting(environ.get(ENV_ALERT_CATEGORIES)),
            cooldown_s=_cooldown_setting(environ.get(ENV_ALERT_COOLDOWN_S)),
        )


def _categories_setting(value: str | None) -> frozenset[ErrorCategory]:
    """The categories named in GATEWATCH_ALERT_CATEGORIES; the broken-deploy ones when it is unset."""
    raw = (value or "").strip()
    if not raw:
        return BROKEN_DEPLOY_CATEGORIES
    names = [n.strip().upper() for n in raw.split(",") if n.strip()]
    unknown = [n for n in names if n not in ErrorCategory.__members__]
    if unknown or ErrorCategory.OK.value in names:
        raise ConfigError(
            f"{ENV_ALERT_CATEGORIES}: not error categories: {', '.join(unknown or ['OK'])} "
            f"(use names such as {', '.join(sorted(c.value for c in BROKEN_DEPLOY_CATEGORIES))})"
        )
    return frozenset(ErrorCategory(n) for n in names)


def _cooldown_setting(value: str | None) -> int:
    """GATEWATCH_ALERT_COOLDOWN_SECONDS: a positive number of seconds; the default when it is unset."""
    raw = (value or "").strip()
    if not raw:
        return DEFAULT_ALERT_COOLDOWN_S
    try:
        cooldown = int(raw)
    except ValueError:
        cooldown = -1
    if cooldown <= 0:
        raise ConfigError(f"{ENV_ALERT_COOLDOWN_S} must be a positive number of seconds, got {raw!r}")
    return cooldown


@dataclass(frozen=True, slots=True)
class DedupeWindow:
    """The DynamoDB item that owns one alert's cooldown window."""

    key: str  # pk
    now_s: int
    expires_at: int  # TTL attribute; the window is free again once now > expires_at
    alert_id: str


def _key_part(value: str) -> str:
    """A value percent-encoded so that it holds none of the key's separators (`|`, `=`, `%`)."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def api_identity(api_id: str | None, api_name: str | None = None, log_group: str | None = None) -> str:
    """Which API an alert is about, as a key part: its id, else `name=…`, else `log=…`, else `none=`."""
    if api_id:
        return _key_part(api_id)
    if api_name:
        return "name=" + _key_part(api_name)
    if log_group:
        return "log=" + _key_part(log_group)
    return NOT_KNOWN


def window_name(identity: str, stage: str | None, category: ErrorCategory | str) -> str:
    """`<api identity>|<stage>|<category>`: what one cooldown window is about (alert ids start with it)."""
    return f"{identity}|{_key_part(stage) if stage else NOT_KNOWN}|{ErrorCategory(category).value}"


def dedupe_key(
    api_id: str | None,
    stage: str | None,
    category: ErrorCategory | str,
    *,
    api_name: str | None = None,
    log_group: str | None = None,
) -> str:
    """The DynamoDB key of an (api, stage, category) cooldown window; unambiguous (see the module doc)."""
    return _pk(window_name(api_identity(api_id, api_name, log_group), stage, category))


def _pk(window: str) -> str:
    key = DEDUPE_KEY_PREFIX + window
    if len(key.encode()) <= _MAX_KEY_BYTES:
        return key
    return DEDUPE_KEY_PREFIX + "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def dedupe_window(alert: AnalyzerAlert, *, now_s: float, cooldown_s: int) -> DedupeWindow:
    """The alert's cooldown window, keyed by the window its id names (`<window>|<epoch s>`, build_alerts)."""
    now = int(now_s)
    window, _sep, _start = alert.alert_id.rpartition("|")
    return DedupeWindow(
        key=_pk(window) if window.count("|") == 2 else dedupe_key(alert.api_id, alert.stage, alert.category),
        now_s=now,
        expires_at=now + int(cooldown_s),
        alert_id=alert.alert_id,
    )


def iso_utc(epoch_ms: int | None) -> str | None:
    if epoch_ms is None:
        return None
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- Logs Insights --------------------------------------------------------------------------------
_QUOTED = re.compile(r'"([^"]{4,200})"')
_RESPONSE_TYPE = re.compile(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b")
_REGEX_SPECIAL = re.compile(r"([\\/.^$*+?()\[\]{}|])")


def _regex_literal(text: str) -> str:
    """Escape text for a Logs Insights `/regex/` literal (including the `/` delimiter)."""
    return _REGEX_SPECIAL.sub(r"\\\1", text)


def evidence_phrases(category: ErrorCategory) -> tuple[str, ...]:
    """What to search for in the logs for a category, read from the taxonomy's evidence text."""
    evidence = category_info(category).evidence
    phrases: list[str] = []
    for quoted in _QUOTED.findall(evidence):
        phrase = quoted.replace("...", "").replace("…", "").strip().rstrip(":").strip()
        if len(phrase) >= 4:
            phrases.append(phrase)
    phrases.extend(_RESPONSE_TYPE.findall(evidence))
    return tuple(dict.fromkeys(phrases))


def insights_query(request_ids: Iterable[str | None], category: ErrorCategory) -> str:
    """A ready Logs Insights query: these requests' lines, or any line showing the category's evidence."""
    ids = [rid for rid in dict.fromkeys(request_ids) if rid][:MAX_QUERY_REQUEST_IDS]
    clauses = []
    if ids:
        clauses.append("@message like /" + "|".join(_regex_literal(r) for r in ids) + "/")
    phrases = evidence_phrases(category)
    if phrases:
        clauses.append("@message like /" + "|".join(_regex_literal(p) for p in phrases) + "/")
    where = " or ".join(clauses) if clauses else f"@message like /{_regex_literal(category.value)}/"
    return f"fields @timestamp, @message | filter {where} | sort @timestamp desc | limit {INSIGHTS_QUERY_LIMIT}"


# -- building alerts ------------------------------------------------------------------------------
def alerting_requests(
    access: Iterable[ClassifiedRequest], execution: Iterable[ClassifiedRequest], categories: frozenset[ErrorCategory]
) -> list[ClassifiedRequest]:
    """The classified requests (access and execution) whose category alerts at once; a request read from a
    suspicious line (a caller's value added keys to it) never alerts."""
    if not categories:
        return []
    return [r for source in (access, execution) for r in source if r.category in categories and r.trusted]


def build_alerts(
    access: Iterable[ClassifiedRequest],
    execution: Iterable[ClassifiedRequest],
    *,
    policy: AlertPolicy,
    now_s: float,
    account: str | None = None,
    region: str | None = None,
) -> list[AnalyzerAlert]:
    """One AnalyzerAlert per (api, stage, category) found in this invocation, most requests first.

    A request seen in both logs with the same category counts once (distinct request ids).
    """
    groups: dict[tuple[str, str | None, ErrorCategory], list[ClassifiedRequest]] = {}
    for req in alerting_requests(access, execution, policy.categories):
        identity = api_identity(req.api_id, req.api_name, req.log_group)
        groups.setdefault((identity, req.stage or None, req.category), []).append(req)
    alerts = [
        _alert(
            window_name(identity, stage, category),
            stage,
            category,
            reqs,
            now_s=int(now_s),
            account=account,
            region=region,
        )
        for (identity, stage, category), reqs in groups.items()
    ]
    alerts.sort(key=lambda a: (-a.count, a.api_id or "", a.stage or "", a.category))
    return alerts


def _alert(
    window: str,
    stage: str | None,
    category: ErrorCategory,
    reqs: list[ClassifiedRequest],
    *,
    now_s: int,
    account: str | None,
    region: str | None,
) -> AnalyzerAlert:
    info = category_info(category)
    distinct = _distinct_requests(reqs)
    timestamps = [r.timestamp for r in distinct if r.timestamp is not None]
    routes = Counter(r.route for r in distinct if r.route)
    samples = tuple(_sample(r) for r in distinct[:MAX_ALERT_SAMPLES])
    return AnalyzerAlert(
        alert_id=f"{window}|{now_s}",
        api_id=next((r.api_id or r.api_name for r in distinct if r.api_id or r.api_name), UNKNOWN),
        api_name=next((r.api_name for r in distinct if r.api_name), None),
        stage=stage or UNKNOWN,
        category=category.value,
        title=info.title,
        retry=info.retry.value if info.retry else None,
        blame=info.blame.value if info.blame else None,
        count=len(distinct),
        first_seen=iso_utc(min(timestamps)) if timestamps else None,
        last_seen=iso_utc(max(timestamps)) if timestamps else None,
        routes=tuple(route for route, _ in routes.most_common(MAX_ALERT_ROUTES)),
        samples=samples,
        log_group=_alert_log_group(distinct),
        insights_query=insights_query((s.request_id for s in samples), category),
        account=account,
        region=region,
    )


def _by_time(req: ClassifiedRequest) -> tuple[bool, int]:
    """Oldest first; requests without a timestamp last."""
    return req.timestamp is None, req.timestamp or 0


def _distinct_requests(reqs: list[ClassifiedRequest]) -> list[ClassifiedRequest]:
    """One entry per request id, oldest first: the execution-log entry wins (its evidence is the cause
    line); requests without an id are all kept."""
    by_id: dict[str, ClassifiedRequest] = {}
    anonymous: list[ClassifiedRequest] = []
    for req in sorted(reqs, key=_by_time):
        if not req.request_id:
            anonymous.append(req)
        elif req.request_id not in by_id or (req.source != "access" and by_id[req.request_id].source == "access"):
            by_id[req.request_id] = req
    return sorted(list(by_id.values()) + anonymous, key=_by_time)


def _sample(req: ClassifiedRequest) -> AlertSample:
    return AlertSample(
        request_id=req.request_id,
        route=req.route,
        status=req.status,
        timestamp=iso_utc(req.timestamp),
        evidence=short_sample(req.evidence or "", MAX_EVIDENCE_CHARS),
    )


def _alert_log_group(reqs: list[ClassifiedRequest]) -> str | None:
    """The log group most of the requests came from, an execution-log group if any (it holds the cause)."""
    groups = Counter(r.log_group for r in reqs if r.log_group)
    execution_groups = Counter(r.log_group for r in reqs if r.log_group and r.source != "access")
    return (execution_groups or groups).most_common(1)[0][0] if groups else None


__all__ = [
    "AlertPolicy",
    "DedupeWindow",
    "alerting_requests",
    "api_identity",
    "build_alerts",
    "dedupe_key",
    "dedupe_window",
    "evidence_phrases",
    "insights_query",
    "iso_utc",
    "window_name",
]

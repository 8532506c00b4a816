"""Slack Block Kit messages that tell a responder what broke, why, whether a retry helps, and the fix.

Why pure: formatting is the part worth testing exhaustively (snapshots, hostile input, limits), and
keeping it free of HTTP and AWS lets the CLI, the notifier and the tests share it. Delivery lives in
adapters/slack_client.py.

Safety rules, applied in one place (`safe`): every string that did not come from gatewatch's own
taxonomy is passed through `redact_secrets` (credentials) and `escape_slack` (`&`, `<`, `>`), so no
request, alarm description or dimension value can inject `<!channel>`, `<!here>` or a disguised
`<http://evil|link>`; text objects are `verbatim` so Slack does not auto-link or mention-parse them.
Links are built from validated parts only: a region code of AWS's shape (its partition's console
host), names percent-encoded, log group names of CloudWatch's alphabet; anything else gets no link.
Limits (Slack's): section text ≤ 3,000 characters, header ≤ 150, ≤ 50 blocks, button URLs ≤ 3,000;
text is cut with "…" where it would exceed them, counting UTF-16 code units (an emoji is two: the
stricter reading of Slack's "characters"), never inside an `&amp;` entity or an emoji sequence. The
tests check every payload against slack_sdk's Block Kit models (tests/slack_kit.py).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from gatewatch.alerts.schema import AlertSample, AnalyzerAlert
from gatewatch.classify.taxonomy import (
    BROKEN_DEPLOY_CATEGORIES,
    CATEGORY_TABLE,
    CategoryInfo,
    ErrorCategory,
    Family,
    Retry,
)
from gatewatch.constants import (
    DEFAULT_NAMESPACE,
    DIM_ROUTE,
    ENV_APIS,
    ENV_DASHBOARD_URL,
    ENV_DEPLOYMENT,
    ENV_METRICS_NAMESPACE,
    MAX_ALERT_SAMPLES,
    METRIC_CAUSES,
    METRIC_ERRORS,
    METRIC_ERRORS_4XX,
    METRIC_ERRORS_5XX,
)
from gatewatch.naming import dashboard_name, execution_log_group
from gatewatch.notify.messages import (
    COMPARISON_WORDS,
    AlarmKind,
    AlarmNotification,
    AlarmState,
    GenericNotification,
    Notification,
    implied_category,
)
from gatewatch.redact import redact_secrets

# Slack's limits (https://docs.slack.dev/reference/block-kit/blocks), in UTF-16 code units: Slack
# documents "characters" without saying which; slack_sdk counts code points, while JavaScript (Slack's
# own SDK and clients) counts UTF-16 units, in which an emoji or any astral character is two. Cutting
# to the stricter count keeps every text within the limit under either reading.
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_HEADER = 150
MAX_BLOCKS = 50
MAX_URL = 3000
MAX_FALLBACK_TEXT = 3000  # Slack cuts at 40,000; the fallback is a notification line, keep it short
ELLIPSIS = "…"


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"
    RESOLVED = "resolved"

    @property
    def emoji(self) -> str:
        return _SEVERITY_STYLE[self][0]

    @property
    def color(self) -> str:
        return _SEVERITY_STYLE[self][1]


_SEVERITY_STYLE: dict[Severity, tuple[str, str]] = {
    Severity.CRITICAL: ("🔴", "#D0021B"),
    Severity.WARNING: ("🟠", "#F5A623"),
    Severity.INFO: ("🔵", "#439FE0"),
    Severity.RESOLVED: ("✅", "#2EB67D"),
}

#: ALARM severity by who has to act: a broken deploy or backend pages; capacity warns; clients inform.
FAMILY_SEVERITY: dict[Family, Severity] = {
    Family.CONFIG: Severity.CRITICAL,
    Family.BACKEND: Severity.CRITICAL,
    Family.CAPACITY: Severity.WARNING,
    Family.CLIENT: Severity.INFO,
    Family.OK: Severity.INFO,
}

#: What a responder should tell callers, per retry advice (a label; the fix itself comes from the taxonomy).
RETRY_ADVICE: dict[Retry, str] = {
    Retry.NO: "No — the same request fails the same way until something is fixed.",
    Retry.YES: "Yes — the failure can be transient; a retry may succeed.",
    Retry.BACKOFF: "Yes, with exponential backoff and jitter.",
    Retry.LATER: "Only after the quota period resets.",
}


class Lifecycle(StrEnum):
    """What the message does to its Slack thread (bot-token mode; webhooks just post)."""

    OPEN = "open"  # a new top-level message; remember its thread
    CONTINUE = "continue"  # reply in the remembered thread, else open one
    RESOLVE = "resolve"  # reply in the thread and mark the original resolved; forget the thread
    NOTE = "note"  # reply in the thread if there is one, else post top-level; remember nothing


# --- text safety ---------------------------------------------------------------------------------


def escape_slack(text: str) -> str:
    """Escape Slack's three control characters; neutralises <!channel>, <!here>, <@U…> and <url|label>."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def utf16_units(text: str) -> int:
    """The length of `text` in UTF-16 code units (an emoji or any character beyond U+FFFF counts two)."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le", "surrogatepass")) // 2


#: Characters that only modify the one before them: a cut just after one of them is moved before it,
#: so no text ends in half an emoji sequence (a joiner, a variation selector, a skin tone).
_JOINER = "\u200d"
_MODIFIERS = frozenset((_JOINER, "\ufe0e", "\ufe0f")) | {chr(c) for c in range(0x1F3FB, 0x1F400)}


def truncate(text: str, limit: int, ellipsis: str = ELLIPSIS) -> str:
    """Cut `text` to at most `limit` UTF-16 code units, ending in `ellipsis`: never inside an escape entity,
    never between a character and its emoji modifier (a Python string cannot split a surrogate pair)."""
    if utf16_units(text) <= limit:
        return text
    cut = _within_units(text, max(0, limit - utf16_units(ellipsis)))
    amp = cut.rfind("&", max(0, len(cut) - 4))
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    end = len(cut)
    if text[end : end + 1] in _MODIFIERS:  # the cut parts a character from what modifies it: drop both
        while end and cut[end - 1] in _MODIFIERS:
            end -= 1
        end = max(0, end - 1)
    while end and cut[end - 1] == _JOINER:  # no sequence ends in a joiner
        end -= 1
    return cut[:end] + ellipsis


def _within_units(text: str, units: int) -> str:
    """The longest prefix of `text` that is at most `units` UTF-16 code units long."""
    head = text[:units]  # never shorter than the answer: each character is at least one unit
    excess = utf16_units(head) - units
    end = len(head)
    while excess > 0:
        end -= 1
        excess -= 2 if ord(head[end]) > 0xFFFF else 1
    return head[:end]


def safe(text: Any, limit: int = MAX_SECTION_TEXT) -> str:
    """Untrusted text made fit for Slack: well-formed, redacted, escaped, and cut to `limit` UTF-16 units."""
    if text is None:
        return ""
    raw = well_formed(str(text)[: 2 * limit + 256])  # escaping only grows text; bound the work on huge input
    return truncate(escape_slack(redact_secrets(raw)), limit)


_SURROGATE = re.compile("[\ud800-\udfff]")


def well_formed(text: str) -> str:
    """The text with lone UTF-16 surrogates (JSON allows "\\ud800") replaced by U+FFFD: they cannot be
    encoded as UTF-8, so they would break a DynamoDB key, a URL or Slack's JSON decoder."""
    if _SURROGATE.search(text) is None:
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _code(text: Any, limit: int = 200) -> str:
    """Inline code span for an identifier (request id, route); backticks would end the span early."""
    return f"`{safe(str(text).replace('`', chr(39)), limit)}`"


# --- deep links ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkContext:
    """What the formatter knows about the deployment: for deep links and category enrichment."""

    region: str | None = None
    account: str | None = None
    namespace: str = DEFAULT_NAMESPACE
    dashboard_url: str | None = None  # GATEWATCH_DASHBOARD_URL overrides the per-API dashboard link
    log_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # by Api dimension value / api id
    api_ids: Mapping[str, str] = field(default_factory=dict)  # friendly name -> api id
    deployment: str | None = None  # GATEWATCH_DEPLOYMENT: the stack name that starts dashboard names

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str], *, region: str | None = None, account: str | None = None
    ) -> LinkContext:
        """Read the namespace, dashboard URL and per-API log groups (GATEWATCH_APIS `accessLogGroup`)."""
        log_groups: dict[str, tuple[str, ...]] = {}
        api_ids: dict[str, str] = {}
        for api_id, entry in _api_entries(environ.get(ENV_APIS)):
            groups = tuple(str(g) for g in (entry.get("accessLogGroup"),) if g)
            log_groups[api_id] = groups
            if entry.get("name"):
                log_groups[str(entry["name"])] = groups
                api_ids[str(entry["name"])] = api_id
        return cls(
            region=region or environ.get("AWS_REGION"),
            account=account,
            namespace=environ.get(ENV_METRICS_NAMESPACE) or DEFAULT_NAMESPACE,
            dashboard_url=environ.get(ENV_DASHBOARD_URL) or None,
            log_groups=log_groups,
            api_ids=api_ids,
            deployment=environ.get(ENV_DEPLOYMENT) or None,
        )

    def groups_for(self, api: str | None, stage: str | None, extra: Iterable[str | None] = ()) -> tuple[str, ...]:
        """Access-log groups configured for the API plus its execution-log group (deduplicated, ordered)."""
        out: list[str] = [g for g in extra if g]
        if api:
            out.extend(self.log_groups.get(api, ()))
            api_id = self.api_ids.get(api) or (api if _API_ID.fullmatch(api) else None)
            if api_id and stage:
                out.append(execution_log_group(api_id, stage))
        return tuple(dict.fromkeys(out))


_API_ID = re.compile(r"[a-z0-9]{10}")  # API Gateway ids; a friendly name needs GATEWATCH_APIS to map it


def _api_entries(raw_json: str | None) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(api id, entry) of each usable GATEWATCH_APIS entry: a JSON object keyed by api id, or a list of
    objects with `apiId`. Anything unreadable yields nothing (links are a help, not a requirement)."""
    try:
        raw = json.loads(raw_json or "{}")
    except ValueError:
        return
    if isinstance(raw, Mapping):
        entries: Iterable[tuple[Any, Any]] = raw.items()
    elif isinstance(raw, list):
        entries = ((e.get("apiId"), e) for e in raw if isinstance(e, Mapping))
    else:
        return
    for api_id, entry in entries:
        if api_id and isinstance(entry, Mapping):
            yield str(api_id), entry


# Console links are built only from validated parts: a region code of AWS's shape, names URL-encoded
# (or no link when they cannot be), log group names of CloudWatch's alphabet. A message that says its
# region is `evil.example/x?` gets no link rather than one to https://evil.example/x?.console.aws…
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+){1,3}-[0-9]{1,2}")
_ACCOUNT = re.compile(r"[0-9]{12}")
_LOG_GROUP = re.compile(r"[A-Za-z0-9_./#-]{1,512}")
#: Partitions whose console is not {region}.console.aws.amazon.com; None: no public console to link to.
_PARTITION_CONSOLES: tuple[tuple[str, str | None], ...] = (
    ("cn-", "console.amazonaws.cn"),
    ("us-gov-", "console.amazonaws-us-gov.com"),
    ("us-iso", None),
    ("eu-isoe-", None),
)


def valid_region(region: str | None) -> str | None:
    """The region code if it has the shape of one (eu-west-1, us-gov-west-1, cn-north-1), else None."""
    return region if region and _REGION.fullmatch(region) else None


def valid_account(account: str | None) -> str | None:
    """The account id if it is twelve digits, else None."""
    return account if account and _ACCOUNT.fullmatch(account) else None


def console_home(region: str | None) -> str | None:
    """The CloudWatch console of a region; None when the region is not valid or its partition has none."""
    code = valid_region(region)
    if code is None:
        return None
    host: str | None = f"{code}.console.aws.amazon.com"
    for prefix, partition_host in _PARTITION_CONSOLES:
        if code.startswith(prefix):
            host = partition_host
            break
    return f"https://{host}/cloudwatch/home?region={code}" if host else None


def _url_part(text: str) -> str | None:
    """A name percent-encoded for a URL path or fragment; None when it cannot be (a lone surrogate)."""
    try:
        return quote(text, safe="")
    except UnicodeError:
        return None


def alarm_console_url(region: str | None, alarm_name: str) -> str | None:
    home, name = console_home(region), _url_part(alarm_name)
    return f"{home}#alarmsV2:alarm/{name}" if home and name else None


def dashboard_console_url(ctx: LinkContext, api: str | None, region: str | None) -> str | None:
    """The per-API dashboard. GATEWATCH_DASHBOARD_URL ending in '/' is a prefix (the stack sets
    `…#dashboards/dashboard/`) to which `naming.dashboard_name(api)` is appended; otherwise it is used as is.
    The configured URL is the operator's (any https URL); the names appended to it are encoded."""
    configured = ctx.dashboard_url if ctx.dashboard_url and ctx.dashboard_url.startswith("https://") else None
    if configured and not configured.endswith("/"):
        return configured
    if not api:
        return configured
    name = _url_part(dashboard_name(api, ctx.deployment))
    if configured:
        return configured + name if name else None
    home = console_home(region)
    return f"{home}#dashboards/dashboard/{name}" if home and name else None


_INSIGHTS_LITERAL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._")
# JavaScript's escape() leaves these alone; everything our JSURL text contains besides them is ~ ' ( ).
_JS_ESCAPE_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@*_+-./")


def _insights_string(value: str) -> str:
    """A string primitive: percent-encode (UTF-8) with `*` for `%`, prefixed by `'` (the console's JSURL)."""
    out = []
    for ch in value:
        if ch in _INSIGHTS_LITERAL:
            out.append(ch)
        else:
            out.extend(f"*{b:02X}" for b in ch.encode("utf-8"))
    return "'" + "".join(out)


def _jsurl(value: Any) -> str:
    """Serialise like the console: objects `~(k~v~k~v)`, arrays `~(~a~b)`, strings `~'…`, numbers `~1`."""
    if isinstance(value, bool):
        return "~true" if value else "~false"
    if isinstance(value, (int, float)):
        return f"~{value}"
    if isinstance(value, str):
        return "~" + _insights_string(value)
    if isinstance(value, Mapping):
        return "~(" + "~".join(f"{k}{_jsurl(v)}" for k, v in value.items()) + ")"
    return "~(" + "".join(_jsurl(v) for v in value) + ")"


def logs_insights_url(
    region: str | None, log_groups: Iterable[str], query: str, start: datetime, end: datetime
) -> str | None:
    """A Logs Insights console link with the log groups, the query and an absolute UTC time window (None
    without a valid region; log group names outside CloudWatch's alphabet are left out, and with none
    left there is no link).

    The console reads `#logsV2:logs-insights?queryDetail=<JSURL>`, where the JSURL text is passed
    through JavaScript's escape(), then the whole fragment through encodeURIComponent with `%`
    written as `$` (so `~` appears as `$257E`, `?queryDetail=` as `$3FqueryDetail$3D`).
    """
    home = console_home(region)
    groups = [g for g in log_groups if _LOG_GROUP.fullmatch(g)]
    if home is None or not groups:
        return None
    detail = _jsurl(
        {
            "end": _iso(end),
            "start": _iso(start),
            "timeType": "ABSOLUTE",
            "tz": "UTC",
            "editorString": well_formed(query),
            "isLiveTail": False,
            "source": groups,
        }
    )
    escaped = "".join(ch if ch in _JS_ESCAPE_SAFE else f"%{ord(ch):02X}" for ch in detail)
    fragment = quote("?queryDetail=" + escaped, safe="*-._").replace("%", "$")
    return f"{home}#logsV2:logs-insights{fragment}"


def _iso(moment: datetime) -> str:
    """2026-11-25T14:00:00.000Z (UTC; the year always four digits, as the console expects)."""
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + ".000Z"


_REQUEST_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")


def insights_query(request_ids: Iterable[str | None] = (), *, status_prefix: str | None = None) -> str:
    """A Logs Insights query over access and execution logs: by request ids when known, else by status."""
    ids = [r for r in request_ids if r and len(r) <= 64 and set(r) <= _REQUEST_ID_CHARS]
    lines = ["fields @timestamp, @logStream, @message"]
    if ids:
        lines.append("| filter " + " or ".join(f"@message like {json.dumps(r)}" for r in ids))
    elif status_prefix:
        lines.append(
            f'| filter @message like /"status"\\s*:\\s*"?{status_prefix}\\d\\d/'
            f" or @message like /Method completed with status: {status_prefix}\\d\\d/"
        )
    lines += ["| sort @timestamp desc", "| limit 200"]
    return "\n".join(lines)


# --- the message ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlackMessage:
    """A formatted message: header on top, the body in a colour-coded attachment, a plain-text fallback."""

    text: str
    header: str
    body: tuple[dict[str, Any], ...]
    severity: Severity
    lifecycle: Lifecycle = Lifecycle.NOTE
    thread_key: str | None = None

    def to_payload(self) -> dict[str, Any]:
        """The JSON body for an incoming webhook or chat.postMessage (add `channel` / `thread_ts`)."""
        if not self.header and not self.body:  # text only (plain_text())
            return {"text": self.text, "unfurl_links": False, "unfurl_media": False}
        header = {"type": "header", "text": {"type": "plain_text", "text": self.header, "emoji": True}}
        body = _limit_blocks(list(self.body), MAX_BLOCKS - 1)
        return {
            "text": self.text,
            "blocks": [header],
            "attachments": [{"color": self.severity.color, "blocks": body}],
            "unfurl_links": False,
            "unfurl_media": False,
        }

    def plain_text(self) -> SlackMessage:
        """The same message as its text line only: what is left to post when Slack refuses the blocks."""
        return replace(self, header="", body=())


def mark_resolved(payload: Mapping[str, Any], when: str) -> dict[str, Any]:
    """The original alarm message, re-coloured green with a RESOLVED header (for chat.update)."""
    out = copy.deepcopy(dict(payload))
    for block in out.get("blocks") or []:
        if block.get("type") == "header":
            block["text"]["text"] = truncate(
                f"{Severity.RESOLVED.emoji} RESOLVED · {block['text']['text']}", MAX_HEADER
            )
    out["text"] = truncate(f"RESOLVED · {out.get('text', '')}", MAX_FALLBACK_TEXT)
    for attachment in out.get("attachments") or []:
        attachment["color"] = Severity.RESOLVED.color
        blocks = attachment.setdefault("blocks", [])
        note = _context([f"{Severity.RESOLVED.emoji} Resolved at {safe(when, 100)} — the recovery is in the thread."])
        attachment["blocks"] = _limit_blocks([note, *blocks], MAX_BLOCKS - 1)
    return out


def format_notification(notification: Notification, ctx: LinkContext | None = None) -> SlackMessage:
    """Turn anything that arrived on the topic into a Slack message."""
    ctx = ctx or LinkContext()
    if isinstance(notification, AlarmNotification):
        return format_alarm(notification, ctx)
    if isinstance(notification, AnalyzerAlert):
        return format_analyzer_alert(notification, ctx)
    return format_generic(notification)


# --- alarms --------------------------------------------------------------------------------------


def alarm_severity(alarm: AlarmNotification, info: CategoryInfo | None) -> Severity:
    if alarm.state is AlarmState.OK:
        return Severity.RESOLVED
    if alarm.state is AlarmState.INSUFFICIENT_DATA:
        return Severity.INFO
    if info is not None:
        return FAMILY_SEVERITY[info.family]
    names = {alarm.metric_name} | {m.metric_name for m in alarm.metrics}
    return Severity.CRITICAL if METRIC_ERRORS_5XX in names else Severity.WARNING


def format_alarm(alarm: AlarmNotification, ctx: LinkContext) -> SlackMessage:
    category = implied_category(alarm, ctx.namespace)
    info = CATEGORY_TABLE[category] if category else None
    severity = alarm_severity(alarm, info)
    region = alarm.region or ctx.region
    account = alarm.account or ctx.account
    what = info.title if info else _alarm_subject(alarm)
    where = "/".join(p for p in (alarm.api, alarm.stage) if p)
    header = f"{severity.emoji} {severity.name} · {alarm.state.value} · {what}" + (f" · {where}" if where else "")
    text = f"{severity.name} {alarm.state.value}: {alarm.name}" + (f" ({where})" if where else "")

    intro = f"*{safe(alarm.name, 300)}*"
    if alarm.description:
        intro += "\n" + safe(alarm.description, 1200)
    blocks: list[dict[str, Any]] = [_section(intro), _fields(_alarm_fields(alarm, info))]
    blocks += _alarm_state_blocks(alarm, info)
    links = _alarm_links(alarm, ctx, region, info)
    if links:
        blocks.append(links)
    blocks.append(_context(_where_bits(account, region, alarm.region_name) + [f"{_metric_label(alarm)}"]))
    lifecycle = {AlarmState.ALARM: Lifecycle.OPEN, AlarmState.OK: Lifecycle.RESOLVE}.get(alarm.state, Lifecycle.NOTE)
    return SlackMessage(
        text=safe(text, MAX_FALLBACK_TEXT),
        header=safe(header, MAX_HEADER),
        body=tuple(blocks),
        severity=severity,
        lifecycle=lifecycle,
        thread_key=well_formed(alarm.arn or alarm.name),
    )


def _alarm_state_blocks(alarm: AlarmNotification, info: CategoryInfo | None) -> list[dict[str, Any]]:
    """What the new state means: a recovery, or what is wrong (no data, the category's fix) and why."""
    if alarm.state is AlarmState.OK:
        return [_section(f"*Recovered.* {safe(alarm.reason, 1500)}" if alarm.reason else "*Recovered.*")]
    blocks: list[dict[str, Any]] = []
    if alarm.state is AlarmState.INSUFFICIENT_DATA:
        blocks.append(
            _section(
                "*No data.* The alarm cannot evaluate its metric. gatewatch publishes metrics only while the API "
                "logs requests: either the API is idle, or logs no longer reach the analyzer (check the "
                "subscription filter and the analyzer's errors)."
            )
        )
    if info is not None:
        blocks.extend(_category_blocks(info))
    if alarm.reason:
        blocks.append(_section(f"*Why CloudWatch changed state*\n{safe(alarm.reason, 1500)}"))
    return blocks


def _alarm_fields(alarm: AlarmNotification, info: CategoryInfo | None) -> list[str]:
    fields = []
    if alarm.api:
        fields.append(f"*API*\n{safe(alarm.api, 200)}")
    if alarm.stage:
        fields.append(f"*Stage*\n{safe(alarm.stage, 200)}")
    route = alarm.dimension(DIM_ROUTE)
    if route:
        fields.append(f"*Route*\n{_code(route)}")
    if info is not None:
        fields.append(f"*Category*\n`{info.category.value}` · {info.blame} · {info.status_label}")
    fields.append(f"*Value*\n{_value_text(alarm)}")
    fields.append(f"*Condition*\n{_condition_text(alarm)}")
    state = alarm.state.value + (f" (was {alarm.previous_state.value})" if alarm.previous_state else "")
    fields.append(f"*State*\n{state}")
    if alarm.changed_at:
        fields.append(f"*Since*\n{safe(_human_time(alarm.changed_at), 100)}")
    for name, value in alarm.all_dimensions:
        if len(fields) >= MAX_FIELDS:
            break
        if name not in ("Api", "Stage", "Route", "Category"):
            fields.append(f"*{safe(name, 100)}*\n{safe(value, 300)}")
    return fields


def _value_text(alarm: AlarmNotification) -> str:
    if alarm.observed is None:
        return "not reported"
    value = _num(alarm.observed)
    if alarm.kind is AlarmKind.ANOMALY_DETECTION and alarm.band:
        low, high = alarm.band
        band = f"{_num(low) if low is not None else '−∞'} … {_num(high) if high is not None else '∞'}"
        return f"*{value}* (expected {band})"
    return f"*{value}*"


def _condition_text(alarm: AlarmNotification) -> str:
    op = COMPARISON_WORDS.get(alarm.comparison_operator or "", safe(alarm.comparison_operator or "?", 60))
    if alarm.kind is AlarmKind.COMPOSITE:
        return "composite alarm (a rule over other alarms)"
    subject = _metric_label(alarm)
    if alarm.kind is AlarmKind.ANOMALY_DETECTION:
        cond = f"{subject} {op}"
        if alarm.expression:
            cond += f" ({safe(alarm.expression, 200)})"
    else:
        threshold = _num(alarm.threshold) if alarm.threshold is not None else "?"
        cond = f"{subject} {op} {threshold}"
    periods = ""
    if alarm.evaluation_periods:
        dta = alarm.datapoints_to_alarm or alarm.evaluation_periods
        periods = f" for {dta} of {alarm.evaluation_periods} × {_duration(alarm.period_s)}" if alarm.period_s else ""
    return cond + periods


def _alarm_subject(alarm: AlarmNotification) -> str:
    """A short name for what the alarm watches, for the header: '5xx rate (%)', 'Requests anomaly'."""
    if alarm.kind is AlarmKind.METRIC_MATH and alarm.expression_label:
        return alarm.expression_label
    metric = alarm.watched_metric_name
    if not metric:
        return alarm.name
    if alarm.kind is AlarmKind.ANOMALY_DETECTION:
        return f"{metric} anomaly"
    return f"{metric} {alarm.statistic}" if alarm.statistic else metric


def _metric_label(alarm: AlarmNotification) -> str:
    """'Gatewatch/Errors5xx Sum' or, for metric math, '5xx rate = `100*m2/m1` (m1 = Requests Sum, …)'."""
    if alarm.kind is AlarmKind.METRIC_MATH and alarm.expression:
        label = alarm.expression_label
        inputs = ", ".join(
            f"{m.id} = {m.metric_name}" + (f" {m.stat}" if m.stat else "") for m in alarm.metrics if m.metric_name
        )
        text = (f"{safe(label, 120)} = " if label else "") + f"`{safe(alarm.expression.replace('`', ''), 300)}`"
        return text + (f" ({safe(inputs, 400)})" if inputs else "")
    name = alarm.watched_metric_name
    ns = alarm.watched_namespace
    stat = alarm.statistic
    text = f"{ns}/{name}" if ns and name else (name or "metric")
    return safe(text + (f" {stat}" if stat else ""), 300)


def _alarm_links(
    alarm: AlarmNotification, ctx: LinkContext, region: str | None, info: CategoryInfo | None
) -> dict[str, Any] | None:
    if not region:
        return None
    buttons = [
        ("Open alarm", alarm_console_url(region, alarm.name)),
        ("Dashboard", dashboard_console_url(ctx, alarm.api, region)),
    ]
    groups = ctx.groups_for(alarm.api, alarm.stage)
    moment = _parse_time(alarm.changed_at)
    window = timedelta(seconds=(alarm.period_s or 60) * (alarm.evaluation_periods or 1) + 300)
    span = _shifted_span(moment, moment, -window, timedelta(minutes=1)) if moment else None
    if groups and span:
        names = {alarm.metric_name} | {m.metric_name for m in alarm.metrics}
        status = (
            "5"
            if METRIC_ERRORS_5XX in names or (info and not info.is_client_error)
            else ("4" if METRIC_ERRORS_4XX in names or info else None)
        )
        if status is None and names & {METRIC_ERRORS, METRIC_CAUSES}:
            status = "[45]"
        query = insights_query(status_prefix=status)
        buttons.append(("Logs Insights", logs_insights_url(region, groups, query, *span)))
    return _actions(buttons)


# --- analyzer alerts -----------------------------------------------------------------------------


def format_analyzer_alert(alert: AnalyzerAlert, ctx: LinkContext) -> SlackMessage:
    info = _category_info(alert.category)
    severity = FAMILY_SEVERITY[info.family] if info else Severity.WARNING
    api = alert.api_name or alert.api_id
    header, text = _alert_headline(alert, info, severity, api)
    blocks: list[dict[str, Any]] = [_section(_alert_intro(alert, info))]
    fields = _alert_fields(alert, api, info)
    if fields:
        blocks.append(_fields(fields))
    if info:
        blocks.extend(_category_blocks(info))
    samples = alert.samples[:MAX_ALERT_SAMPLES]
    if samples:
        blocks.append(_section("*Sample requests*\n" + "\n".join(_sample_line(s) for s in samples)))
    links = _alert_links(alert, ctx, api)
    if links:
        blocks.append(links)
    blocks.append(
        _context(
            _where_bits(alert.account or ctx.account, alert.region or ctx.region, None)
            + [f"alert {safe(alert.alert_id, 200)}"]
        )
    )
    thread_key = well_formed("|".join(alert.alert_id.split("|")[:3])) or None
    return SlackMessage(
        text=safe(text, MAX_FALLBACK_TEXT),
        header=safe(header, MAX_HEADER),
        body=tuple(blocks),
        severity=severity,
        lifecycle=Lifecycle.CONTINUE,
        thread_key=thread_key,
    )


def _alert_headline(
    alert: AnalyzerAlert, info: CategoryInfo | None, severity: Severity, api: str | None
) -> tuple[str, str]:
    """The header ('🔴 CRITICAL · Malformed response · orders/prod') and the plain-text fallback."""
    where = "/".join(p for p in (api, alert.stage) if p)
    title = info.title if info else (alert.title or alert.category)
    header = f"{severity.emoji} {severity.name} · {title}" + (f" · {where}" if where else "")
    text = f"{severity.name}: {_requests(alert)} failed with {alert.category}" + (f" on {where}" if where else "")
    return header, text


def _requests(alert: AnalyzerAlert) -> str:
    """'1 request', '12 requests'; 'Requests' when the message gave no usable count."""
    if alert.count <= 0:
        return "Requests"
    return f"{alert.count} request" if alert.count == 1 else f"{alert.count} requests"


def _alert_intro(alert: AnalyzerAlert, info: CategoryInfo | None) -> str:
    """'*12 requests failed with `MALFORMED_RESPONSE`* between … and …', and what a broken deploy means."""
    window = " ".join(
        p
        for p in (
            f"between {_human_time(alert.first_seen)}" if alert.first_seen else "",
            f"and {_human_time(alert.last_seen)}" if alert.last_seen and alert.last_seen != alert.first_seen else "",
        )
        if p
    )
    intro = f"*{_requests(alert)} failed with `{safe(alert.category, 60)}`* {safe(window, 200)}"
    if info and info.category in BROKEN_DEPLOY_CATEGORIES:
        intro += "\n_Every call on the route fails the same way: this cause means a broken deploy._"
    return intro


def _alert_fields(alert: AnalyzerAlert, api: str | None, info: CategoryInfo | None) -> list[str]:
    fields = []
    if api:
        fields.append(
            f"*API*\n{safe(api, 200)}" + (f" ({safe(alert.api_id, 60)})" if alert.api_name and alert.api_id else "")
        )
    if alert.log_group and not alert.api_name and not _API_ID.fullmatch(alert.api_id or ""):
        fields.append(f"*Log group*\n{_code(alert.log_group, 300)}")  # the API is known by neither: this says which
    if alert.stage:
        fields.append(f"*Stage*\n{safe(alert.stage, 200)}")
    if alert.routes:
        shown = "\n".join(_code(r, 150) for r in alert.routes[:10])
        fields.append(f"*Route{'s' if len(alert.routes) > 1 else ''}*\n{shown}")
    if info:
        fields.append(f"*Category*\n`{info.category.value}` · {info.blame} · {info.status_label}")
    return fields


def _sample_line(sample: AlertSample) -> str:
    """'• `request id` · 502 · `POST /orders` · time', then the evidence indented below."""
    head = " · ".join(
        p
        for p in (
            _code(sample.request_id or "no request id", 80),
            str(sample.status) if sample.status is not None else "",
            _code(sample.route, 150) if sample.route else "",
            safe(_human_time(sample.timestamp), 40) if sample.timestamp else "",
        )
        if p
    )
    return f"• {head}" + (f"\n      {safe(sample.evidence, 300)}" if sample.evidence else "")


def _alert_links(alert: AnalyzerAlert, ctx: LinkContext, api: str | None) -> dict[str, Any] | None:
    region = alert.region or ctx.region
    if not region:
        return None
    buttons: list[tuple[str, str | None]] = []
    groups = ctx.groups_for(api, alert.stage, extra=[alert.log_group])
    seen = _time_span(_parse_time(alert.first_seen), _parse_time(alert.last_seen))
    span = _shifted_span(*seen, -timedelta(minutes=5), timedelta(minutes=5)) if seen else None
    if groups and span:
        start, end = span
        ids = [s.request_id for s in alert.samples[:MAX_ALERT_SAMPLES]]
        for query in (alert.insights_query or insights_query(ids), insights_query(status_prefix="[45]")):
            url = logs_insights_url(region, groups, query, start, end)
            if url and len(url) <= MAX_URL:
                buttons.append(("Logs Insights", url))
                break
    buttons.append(("Dashboard", dashboard_console_url(ctx, api, region)))
    return _actions(buttons)


# --- anything else -------------------------------------------------------------------------------


def format_generic(notification: GenericNotification) -> SlackMessage:
    subject = (notification.subject or "").strip() or "Notification on the gatewatch topic"
    blocks: list[dict[str, Any]] = []
    if notification.text:
        blocks.append(_section(safe(notification.text, MAX_SECTION_TEXT)))
    fields = [f"*{safe(k, 100)}*\n{safe(v, 500)}" for k, v in notification.fields]
    for i in range(0, len(fields), MAX_FIELDS):
        blocks.append(_fields(fields[i : i + MAX_FIELDS]))
    if not blocks:
        blocks.append(_section("_(empty message)_"))
    bits = [f"topic {safe(notification.topic_arn.rsplit(':', 1)[-1], 256)}"] if notification.topic_arn else []
    if notification.timestamp:
        bits.append(safe(_human_time(notification.timestamp), 60))
    if bits:
        blocks.append(_context(bits))
    sev = Severity.INFO
    return SlackMessage(
        text=safe(subject, MAX_FALLBACK_TEXT),
        header=safe(f"{sev.emoji} {subject}", MAX_HEADER),
        body=tuple(blocks),
        severity=sev,
        lifecycle=Lifecycle.NOTE,
        thread_key=None,
    )


# --- block helpers -------------------------------------------------------------------------------


def _category_info(name: str) -> CategoryInfo | None:
    try:
        info = CATEGORY_TABLE[ErrorCategory(name)]
    except ValueError:
        return None
    return None if info.category is ErrorCategory.OK else info


def _category_blocks(info: CategoryInfo) -> list[dict[str, Any]]:
    retry = RETRY_ADVICE.get(info.retry, "") if info.retry else ""
    return [
        _section(f"*What it means* ({safe(info.title, 150)})\n{safe(info.meaning, 1400)}"),
        _section(f"*Does a retry help?* {retry}\n*Fix*\n{safe(info.fix, 2000)}"),
    ]


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, MAX_SECTION_TEXT), "verbatim": True}}


def _fields(items: list[str]) -> dict[str, Any]:
    return {
        "type": "section",
        "fields": [
            {"type": "mrkdwn", "text": truncate(t, MAX_FIELD_TEXT), "verbatim": True} for t in items[:MAX_FIELDS]
        ],
    }


def _context(items: list[str]) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [
            {"type": "mrkdwn", "text": truncate(t, MAX_SECTION_TEXT), "verbatim": True} for t in items[:10] if t
        ],
    }


def _actions(buttons: list[tuple[str, str | None]]) -> dict[str, Any] | None:
    """Link buttons for the URLs that could be built (None: no valid region, name or log group)."""
    elements = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": label},
            "url": url,
            "action_id": f"gatewatch-link-{i}",
        }
        for i, (label, url) in enumerate((label, url) for label, url in buttons if url and len(url) <= MAX_URL)
    ]
    return {"type": "actions", "elements": elements} if elements else None


def _limit_blocks(blocks: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Keep at most `limit` blocks: the first ones, a note, and the last (links/context) ones."""
    if len(blocks) <= limit:
        return blocks
    tail = blocks[-2:]
    head = blocks[: limit - 3]
    dropped = len(blocks) - len(head) - len(tail)
    return head + [_context([f"{ELLIPSIS} {dropped} more blocks omitted (Slack allows {MAX_BLOCKS})."])] + tail


def _where_bits(account: str | None, region: str | None, region_name: str | None) -> list[str]:
    """'account 111122223333', 'eu-west-1 (EU (Ireland))': only an account id and a region code that are valid."""
    bits = []
    if valid_account(account):
        bits.append(f"account {account}")
    if valid_region(region):
        bits.append(f"{region}" + (f" ({safe(region_name, 60)})" if region_name else ""))
    return bits


def _num(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.1f}"


def _duration(seconds: int | None) -> str:
    if not seconds:
        return "?"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _parse_time(value: str | None) -> datetime | None:
    """CloudWatch writes 2021-06-27T13:53:39.351+0000; the analyzer 2026-11-25T14:00:01Z. In UTC; None
    for anything unreadable, including a moment that has no UTC equivalent (0001-01-01T00:00+01:00)."""
    if not value:
        return None
    text = value.strip()
    if text.endswith("+0000"):
        text = text[:-5] + "+00:00"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def _shifted_span(
    start: datetime, end: datetime, before: timedelta, after: timedelta
) -> tuple[datetime, datetime] | None:
    """(start + before, end + after), or None when that leaves the calendar (a StateChangeTime in year 1 or 9999)."""
    try:
        return start + before, end + after
    except OverflowError:
        return None


def _time_span(first: datetime | None, last: datetime | None) -> tuple[datetime, datetime] | None:
    """(first, last) where one of them may stand in for the other; None when neither is known."""
    if first is None:
        return None if last is None else (last, last)
    return first, first if last is None else last


def _human_time(value: str | None) -> str:
    moment = _parse_time(value)
    return moment.replace(microsecond=0, tzinfo=None).isoformat(sep=" ") + " UTC" if moment else (value or "")

"""The report a person reads (`gatewatch analyze`): per API and stage, what failed, why, and what to do.

Built from an Analysis; rendered as text (rich), JSON or Markdown. The fix texts come from the
taxonomy table, so the report, Slack and the README say the same thing.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from gatewatch.classify.taxonomy import CATEGORY_TABLE, ErrorCategory
from gatewatch.constants import ROUTE_UNMATCHED
from gatewatch.models import ClassifiedRequest, LatencyClass
from gatewatch.pipeline import Analysis

if TYPE_CHECKING:  # the text renderers import rich themselves, when they print
    from rich.console import Console

MAX_SAMPLES = 5

#: Access-log fields that let gatewatch say *why*; when a format lacks them, the report says so.
RECOMMENDED_FIELDS: dict[str, str] = {
    "error_response_type": "$context.error.responseType",
    "error_message": "$context.error.message",
    "integration_error": "$context.integration.error",
    "integration_status": "$context.integration.status",
    "integration_service_status": "$context.integrationStatus",
    "integration_latency_ms": "$context.integrationLatency",
    "response_latency_ms": "$context.responseLatency",
    "api_id": "$context.apiId",
    "stage": "$context.stage",
}


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass(frozen=True)
class LatencySummary:
    count: int
    p50: float | None
    p90: float | None
    p99: float | None
    max: float | None

    @classmethod
    def of(cls, values: Iterable[float | None]) -> LatencySummary:
        vals = sorted(v for v in values if v is not None)
        return cls(
            len(vals), percentile(vals, 50), percentile(vals, 90), percentile(vals, 99), vals[-1] if vals else None
        )


@dataclass(frozen=True)
class CategoryLine:
    category: str
    title: str
    count: int
    statuses: dict[str, int]
    retry: str | None
    blame: str | None
    fix: str
    samples: list[str]
    status_only: int  # how many were decided by the status code alone


@dataclass(frozen=True)
class RouteLine:
    route: str
    requests: int
    errors: int
    top_category: str | None


@dataclass(frozen=True)
class ApiStageReport:
    api: str
    api_id: str | None
    stage: str | None
    requests: int
    errors_4xx: int
    errors_5xx: int
    error_rate: float
    by_status: dict[str, int]
    by_category: list[CategoryLine]
    top_failing_routes: list[RouteLine]
    latency: LatencySummary
    integration_latency: LatencySummary
    gateway_overhead: LatencySummary
    near_timeouts: int
    timeouts: int
    integration_timeout_ms: int | None
    sources: dict[str, int]


@dataclass(frozen=True)
class InputSummary:
    lines_parsed: dict[str, int]
    lines_unparsed: dict[str, int]
    unparsed_reasons: dict[str, int]
    unparsed_samples: dict[str, str]
    access_formats: dict[str, int]
    recovered_access_lines: int
    incomplete_execution_requests: int
    missing_fields: list[str]  # "$context.x" variables the access-log format lacks


@dataclass(frozen=True)
class Report:
    apis: list[ApiStageReport]
    inputs: InputSummary
    total_requests: int
    total_errors: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _is_error(req: ClassifiedRequest) -> bool:
    return req.category is not ErrorCategory.OK


def build_report(analysis: Analysis, *, top_routes: int = 10) -> Report:
    requests = analysis.joined()
    groups: dict[tuple[str | None, str | None], list[ClassifiedRequest]] = defaultdict(list)
    for req in requests:
        groups[(req.api_id, req.stage)].append(req)
    api_reports = [_api_stage_report(key, reqs, top_routes) for key, reqs in groups.items()]
    api_reports.sort(key=lambda r: (r.api_id is None, -r.requests, r.api, r.stage or ""))
    missing_by_format = _missing_fields_by_format(analysis)
    return Report(
        apis=api_reports,
        inputs=_input_summary(analysis, missing_by_format),
        total_requests=len(requests),
        total_errors=sum(1 for r in requests if _is_error(r)),
        notes=_status_only_notes(requests, missing_by_format),
    )


def _missing_fields_by_format(analysis: Analysis) -> dict[str, list[str]]:
    """Per access-log format seen, the recommended `$context` variables it lacks."""
    return {
        fmt: [var for name, var in RECOMMENDED_FIELDS.items() if name not in seen]
        for fmt, seen in analysis.fields_by_format().items()
    }


def _input_summary(analysis: Analysis, missing_by_format: dict[str, list[str]]) -> InputSummary:
    reasons: Counter[str] = Counter()
    samples: dict[str, str] = {}
    for rej in analysis.rejections:
        key = f"{rej.source}:{rej.reason}"
        reasons[key] += 1
        samples.setdefault(key, rej.sample)
    kept = sum(reasons.values())
    total_unparsed = sum(analysis.lines_unparsed.values())
    if total_unparsed > kept:
        reasons["(not itemised)"] += total_unparsed - kept
    missing = sorted(
        {var for vars_ in missing_by_format.values() for var in vars_}, key=list(RECOMMENDED_FIELDS.values()).index
    )
    return InputSummary(
        lines_parsed=dict(analysis.lines_parsed),
        lines_unparsed=dict(analysis.lines_unparsed),
        unparsed_reasons=dict(reasons.most_common()),
        unparsed_samples=samples,
        access_formats=dict(analysis.access_formats),
        recovered_access_lines=analysis.recovered_access_lines,
        incomplete_execution_requests=analysis.incomplete_execution_requests,
        missing_fields=missing,
    )


def _status_only_notes(requests: list[ClassifiedRequest], missing_by_format: dict[str, list[str]]) -> list[str]:
    """A note when failures were classified from the status code alone, and which fields would say more."""
    status_only = sum(1 for r in requests if _is_error(r) and r.evidence_rank == 1)
    if not status_only:
        return []
    lacking = {fmt: v for fmt, v in missing_by_format.items() if v}
    hint = "; ".join(f"the {fmt} access-log format lacks {', '.join(v[:5])}" for fmt, v in lacking.items())
    return [
        f"{status_only} failed request(s) were classified from the status code alone"
        + (f": {hint}." if hint else "; enable execution logs to see the cause.")
    ]


def _api_stage_report(
    key: tuple[str | None, str | None], reqs: list[ClassifiedRequest], top_routes: int
) -> ApiStageReport:
    api_id, stage = key
    api_name = next((r.api_name for r in reqs if r.api_name), None) or api_id or "unknown API"
    latency_classes = Counter(r.latency_class for r in reqs)
    status_classes = Counter(_status_class(r.status) for r in reqs)
    return ApiStageReport(
        api=api_name,
        api_id=api_id,
        stage=stage,
        requests=len(reqs),
        errors_4xx=status_classes["4xx"],
        errors_5xx=status_classes["5xx"],
        error_rate=_error_rate(reqs),
        by_status=dict(sorted(_status_counts(reqs).items())),
        by_category=_category_lines(reqs),
        top_failing_routes=_route_lines(reqs)[:top_routes],
        latency=LatencySummary.of(r.latency_ms for r in reqs),
        integration_latency=LatencySummary.of(r.integration_latency_ms for r in reqs),
        gateway_overhead=LatencySummary.of(r.gateway_overhead_ms for r in reqs),
        near_timeouts=latency_classes[LatencyClass.NEAR_TIMEOUT],
        timeouts=latency_classes[LatencyClass.TIMEOUT],
        integration_timeout_ms=next((r.integration_timeout_ms for r in reqs if r.integration_timeout_ms), None),
        sources=dict(Counter(r.source for r in reqs)),
    )


def _status_class(status: int | None) -> str | None:
    """'4xx' or '5xx' for an error status; None for any other status or none."""
    if status is None or status < 400:
        return None
    return "4xx" if status < 500 else "5xx"


def _error_rate(reqs: list[ClassifiedRequest]) -> float:
    """The share of failed requests, rounded to 4 places (0.0 without requests)."""
    errors = sum(1 for r in reqs if _is_error(r))
    return round(errors / len(reqs), 4) if reqs else 0.0


def _status_counts(reqs: Iterable[ClassifiedRequest]) -> Counter[str]:
    return Counter(str(r.status) if r.status is not None else "unknown" for r in reqs)


def _category_lines(reqs: list[ClassifiedRequest]) -> list[CategoryLine]:
    """The failures by category, most frequent first, each with the taxonomy's advice."""
    by_cat: dict[ErrorCategory, list[ClassifiedRequest]] = defaultdict(list)
    for r in reqs:
        if _is_error(r):
            by_cat[r.category].append(r)
    return [
        _category_line(cat, items) for cat, items in sorted(by_cat.items(), key=lambda kv: (-len(kv[1]), kv[0].value))
    ]


def _category_line(cat: ErrorCategory, items: list[ClassifiedRequest]) -> CategoryLine:
    info = CATEGORY_TABLE[cat]
    return CategoryLine(
        category=cat.value,
        title=info.title,
        count=len(items),
        statuses=dict(_status_counts(items).most_common()),
        retry=info.retry.value if info.retry else None,
        blame=info.blame.value if info.blame else None,
        fix=info.fix,
        samples=[i.request_id for i in items if i.request_id][:MAX_SAMPLES],
        status_only=sum(1 for i in items if i.evidence_rank == 1),
    )


def _route_lines(reqs: list[ClassifiedRequest]) -> list[RouteLine]:
    """The routes with failures, most failures first (UNMATCHED after a named route with as many)."""
    routes: dict[str, list[ClassifiedRequest]] = defaultdict(list)
    for r in reqs:
        routes[r.route].append(r)
    lines = []
    for route, items in routes.items():
        failed = [i for i in items if _is_error(i)]
        if failed:
            top = Counter(i.category.value for i in failed).most_common(1)[0][0]
            lines.append(RouteLine(route, len(items), len(failed), top))
    lines.sort(key=lambda r: (-r.errors, r.route == ROUTE_UNMATCHED, r.route))
    return lines


# ---------------------------------------------------------------------------------------------
# Rendering


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:,.0f} ms"


def _title(api: ApiStageReport) -> str:
    if api.api_id is None and api.api == "unknown API":
        return "unknown API / stage (the access-log format has no $context.apiId / $context.stage)"
    ident = api.api if api.api_id in (None, api.api) else f"{api.api} ({api.api_id})"
    return f"{ident} / {api.stage or 'unknown stage'}"


def render_markdown(report: Report) -> str:
    out: list[str] = ["# gatewatch report", ""]
    out.append(f"{report.total_requests:,} requests, {report.total_errors:,} failed.")
    out.append("")
    for api in report.apis:
        out += [
            f"## {_title(api)}",
            "",
            f"- Requests: {api.requests:,} — 4xx: {api.errors_4xx:,}, 5xx: {api.errors_5xx:,}, "
            f"error rate {api.error_rate:.1%}",
            "- By status: " + ", ".join(f"{k}: {v:,}" for k, v in api.by_status.items()),
            "",
        ]
        if api.by_category:
            out += ["| category | count | status | retry | blame | sample request ids |", "|---|---:|---|---|---|---|"]
            for c in api.by_category:
                statuses = ", ".join(f"{k}×{v}" for k, v in c.statuses.items())
                out.append(
                    f"| {c.category} | {c.count:,} | {statuses} | {c.retry} | {c.blame} | {', '.join(c.samples[:3])} |"
                )
            out += ["", "### What to do", ""]
            for c in api.by_category:
                out.append(f"- **{c.category}** ({c.title}): {c.fix}")
            out.append("")
        if api.top_failing_routes:
            out += ["### Top failing routes", "", "| route | requests | errors | top category |", "|---|---:|---:|---|"]
            out += [
                f"| `{r.route}` | {r.requests:,} | {r.errors:,} | {r.top_category} |" for r in api.top_failing_routes
            ]
            out.append("")
        out += ["### Latency", "", "| | p50 | p90 | p99 | max |", "|---|---:|---:|---:|---:|"]
        for name, s in (
            ("response", api.latency),
            ("integration", api.integration_latency),
            ("gateway overhead", api.gateway_overhead),
        ):
            out.append(f"| {name} | {_ms(s.p50)} | {_ms(s.p90)} | {_ms(s.p99)} | {_ms(s.max)} |")
        out += [
            "",
            f"Near timeouts: {api.near_timeouts:,}; at the timeout: {api.timeouts:,} "
            f"(integration timeout {api.integration_timeout_ms or 29000:,} ms).",
            "",
        ]
    out += _input_lines_markdown(report)
    return "\n".join(out) + "\n"


def _input_lines_markdown(report: Report) -> list[str]:
    i = report.inputs
    out = [
        "## Input",
        "",
        "- Lines parsed: " + (", ".join(f"{k}: {v:,}" for k, v in i.lines_parsed.items()) or "none"),
        "- Lines not parsed: " + (", ".join(f"{k}: {v:,}" for k, v in i.lines_unparsed.items()) or "none"),
    ]
    for reason, n in i.unparsed_reasons.items():
        sample = i.unparsed_samples.get(reason)
        out.append(f"  - {reason}: {n:,}" + (f" — e.g. `{sample}`" if sample else ""))
    if i.access_formats:
        out.append("- Access-log formats: " + ", ".join(f"{k}: {v:,}" for k, v in i.access_formats.items()))
    if i.recovered_access_lines:
        out.append(f"- Invalid JSON lines recovered: {i.recovered_access_lines:,}")
    if i.incomplete_execution_requests:
        out.append(f"- Execution-log requests without an outcome line: {i.incomplete_execution_requests:,}")
    if i.missing_fields:
        out.append("- The access-log format lacks: " + ", ".join(f"`{f}`" for f in i.missing_fields))
    out += [f"- Note: {n}" for n in report.notes]
    return out + [""]


def render_text(report: Report, console: Console) -> None:
    """Print the report with rich tables."""
    from rich.panel import Panel
    from rich.text import Text

    console.print(Text(f"gatewatch: {report.total_requests:,} requests, {report.total_errors:,} failed", style="bold"))
    for api in report.apis:
        head = (
            f"{api.requests:,} requests · 4xx {api.errors_4xx:,} · 5xx {api.errors_5xx:,} · "
            f"error rate {api.error_rate:.1%} · statuses " + ", ".join(f"{k}:{v}" for k, v in api.by_status.items())
        )
        console.print(Panel(Text(head), title=Text(_title(api), style="bold cyan"), expand=False))
        if api.by_category:
            _print_categories(api.by_category, console)
        if api.top_failing_routes:
            _print_routes(api.top_failing_routes, console)
        _print_latency(api, console)
    for line in _input_lines_markdown(report)[2:]:
        if line:
            console.print(Text(line.replace("`", "")))


_RETRY_STYLES = {"no": "red", "yes": "green", "backoff": "yellow", "later": "yellow"}


def _print_categories(categories: list[CategoryLine], console: Console) -> None:
    """The failures by cause, then what to do about each."""
    from rich.table import Table
    from rich.text import Text

    t = Table(title="Failures by cause", expand=False)
    for col, kw in (
        ("category", {"style": "bold", "no_wrap": True}),
        ("count", {"justify": "right"}),
        ("status", {}),
        ("retry", {}),
        ("blame", {}),
        ("what it is", {}),
    ):
        t.add_column(col, **kw)
    for c in categories:
        t.add_row(
            Text(c.category),
            f"{c.count:,}",
            ", ".join(c.statuses),
            Text(c.retry or "", style=_RETRY_STYLES.get(c.retry or "", "")),
            c.blame or "",
            Text(c.title),
        )
    console.print(t)
    console.print(Text("What to do", style="bold underline"))
    for c in categories:
        line = Text()
        line.append(f"{c.category}: ", style="bold")
        line.append(c.fix)
        if c.samples:
            line.append(f"  e.g. request {', '.join(c.samples[:3])}", style="dim")
        console.print(line)
    console.print()


def _print_routes(routes: list[RouteLine], console: Console) -> None:
    from rich.table import Table
    from rich.text import Text

    t = Table(title="Top failing routes")
    for col in ("route", "requests", "errors", "top category"):
        t.add_column(col, justify="right" if col in ("requests", "errors") else "left")
    for r in routes:
        t.add_row(Text(r.route), f"{r.requests:,}", f"{r.errors:,}", r.top_category or "")
    console.print(t)


def _print_latency(api: ApiStageReport, console: Console) -> None:
    from rich.table import Table
    from rich.text import Text

    if not (api.latency.count or api.integration_latency.count):
        console.print(
            Text(
                "Latency: not logged (add $context.responseLatency and $context.integrationLatency "
                "to the access-log format)\n",
                style="dim",
            )
        )
        return
    t = Table(title=f"Latency (integration timeout {api.integration_timeout_ms or 29000:,} ms)")
    for col in ("", "p50", "p90", "p99", "max", "n"):
        t.add_column(col, justify="right")
    for name, s in (
        ("response", api.latency),
        ("integration", api.integration_latency),
        ("gateway overhead", api.gateway_overhead),
    ):
        t.add_row(name, _ms(s.p50), _ms(s.p90), _ms(s.p99), _ms(s.max), f"{s.count:,}")
    console.print(t)
    console.print(f"Near timeouts: {api.near_timeouts:,} · at the timeout: {api.timeouts:,}\n")


def render_json(report: Report) -> str:
    import json

    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False)

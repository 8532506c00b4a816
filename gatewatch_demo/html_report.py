"""The demo's HTML report: one self-contained file with the headline numbers, the dashboard, the report, the alarms
and the Slack messages the notifier sent.

Why paranoid: request paths, error messages and Slack texts are chosen by whoever calls the API.
Everything from the report is `html.escape`d, Slack payloads go through `gatewatch_demo.slack_html`,
and the dashboard image is linked only by a relative name or an http(s) URL. No script, no external
asset: the file opens offline and is safe to mail around.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gatewatch.constants import DEFAULT_INTEGRATION_TIMEOUT_MS
from gatewatch_demo.alarms import AlarmTransition
from gatewatch_demo.metrics import MINUTE_MS
from gatewatch_demo.palette import FAMILY_COLOURS, GREY, STATE_COLOURS, family_of
from gatewatch_demo.slack_html import render_slack_html, safe_url

if TYPE_CHECKING:  # the report module pulls in the pipeline; only its types are needed here
    from gatewatch_cli.report import ApiStageReport, CategoryLine, LatencySummary, Report, RouteLine

#: One ALARM episode of one alarm: the transition that fired it and the one that recovered it (None: still firing).
_Episode = tuple[AlarmTransition, AlarmTransition | None]

_CSS = """
:root { --ink:#16191f; --muted:#545b64; --line:#d5dbdb; --bg:#f2f3f3; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font:14px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; }
main { max-width:1240px; margin:0 auto; padding:24px; }
h1 { font-size:26px; margin:0 0 4px; } h2 { font-size:20px; margin:32px 0 10px; }
h3 { font-size:16px; margin:20px 0 8px; } .muted { color:var(--muted); }
.card { background:#fff; border:1px solid var(--line); border-radius:6px; padding:16px; margin:12px 0; overflow-x:auto; }
.kpis { display:flex; flex-wrap:wrap; gap:12px; margin:16px 0; }
.kpi { background:#fff; border:1px solid var(--line); border-radius:6px; padding:12px 18px; min-width:150px; }
.kpi b { display:block; font-size:26px; } .kpi span { color:var(--muted); font-size:12px; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { text-align:left; padding:6px 8px; border-bottom:1px solid #eaeded; vertical-align:top; }
th { color:var(--muted); font-weight:600; border-bottom:2px solid var(--line); white-space:nowrap; }
td.num, th.num { text-align:right; white-space:nowrap; }
tr:nth-child(even) td { background:#fafbfb; }
code, .mono { font-family:SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace; font-size:12px;
  background:#f4f6f7; padding:1px 4px; border-radius:3px; word-break:break-all; }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; color:#fff; font-size:12px; font-weight:600;
  white-space:nowrap; }
.cat { font-weight:600; white-space:nowrap; } .swatch { display:inline-block; width:10px; height:10px;
  border-radius:2px; margin-right:6px; vertical-align:baseline; }
.retry-no { color:#c62828; } .retry-yes { color:#1d8102; } .retry-backoff, .retry-later { color:#b7791f; }
.fix { max-width:520px; } .samples code { display:inline-block; margin:1px 0; }
img.dashboard { width:100%; height:auto; border:1px solid var(--line); border-radius:6px; background:#fff; }
.fired { background:#d13212; } .recovered { background:#1d8102; } .other { background:#7f8c8d; }
details summary { cursor:pointer; color:var(--muted); }
.slack { background:#fff; border:1px solid var(--line); border-radius:8px; padding:14px 16px; margin:12px 0;
  font-family:Lato,-apple-system,"Segoe UI",Roboto,sans-serif; max-width:900px; }
.s-header { font-size:18px; font-weight:700; margin-bottom:6px; }
.s-attachment { border-left:4px solid #d5dbdb; padding:2px 0 2px 12px; margin:6px 0; }
.s-section { margin:6px 0; } .s-fields { display:grid; grid-template-columns:1fr 1fr; gap:6px 24px; margin-top:6px; }
.s-context { color:var(--muted); font-size:12px; margin:6px 0; } .s-title { font-weight:700; }
.s-actions { margin:8px 0; } .s-fallback { color:var(--muted); font-size:12px; margin-top:8px;
  border-top:1px dashed var(--line); padding-top:6px; }
.button { display:inline-block; border:1px solid #c3c7cb; border-radius:4px; padding:3px 12px; margin:2px 6px 2px 0;
  color:#1264a3; text-decoration:none; font-weight:600; font-size:13px; }
.button.disabled { color:var(--muted); }
.mention { background:#fff3bf; color:#1264a3; padding:0 2px; border-radius:3px; }
pre { background:#f4f6f7; padding:8px; border-radius:4px; white-space:pre-wrap; word-break:break-all; }
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _utc(ms: int, fmt: str = "%Y-%m-%d %H:%M UTC") -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime(fmt)


def _num(n: float | int) -> str:
    return f"{n:,}"


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:,.0f} ms"


def _category_cell(category: str | None) -> str:
    if not category:
        return "—"
    colour = FAMILY_COLOURS.get(family_of(category), GREY)
    return f'<span class="cat"><span class="swatch" style="background:{colour}"></span>{_e(category)}</span>'


# ---------------------------------------------------------------------------------------------------
# One API stage
# ---------------------------------------------------------------------------------------------------


def _stage_title(api: ApiStageReport) -> str:
    if api.api_id is None and api.api == "unknown API":
        return "unknown API / stage (the access-log format has no $context.apiId / $context.stage)"
    ident = api.api if api.api_id in (None, api.api) else f"{api.api} ({api.api_id})"
    return f"{ident} / {api.stage or 'unknown stage'}"


def _category_row(c: CategoryLine) -> str:
    statuses = ", ".join(f"{k}×{v}" for k, v in c.statuses.items())
    retry = _e(c.retry or "—")
    samples = " ".join(f"<code>{_e(s)}</code>" for s in c.samples[:3]) or "—"
    note = (
        f'<br><span class="muted">{_num(c.status_only)} decided by the status code alone</span>'
        if c.status_only
        else ""
    )
    return (
        f"<tr><td>{_category_cell(c.category)}</td><td>{_e(c.title)}</td>"
        f'<td class="num">{_num(c.count)}</td><td>{_e(statuses)}</td>'
        f'<td class="retry-{_e(c.retry or "none")}">{retry}</td><td>{_e(c.blame or "—")}</td>'
        f'<td class="fix">{_e(c.fix)}{note}</td><td class="samples">{samples}</td></tr>'
    )


def _categories_html(categories: Sequence[CategoryLine]) -> list[str]:
    """The failures by cause: what each is, how often, whether to retry, who acts and what to do."""
    if not categories:
        return []
    return [
        "<h3>Failures by cause</h3>",
        "<table><thead><tr><th>category</th><th>what it is</th>"
        '<th class="num">count</th><th>status</th><th>retry?</th><th>who acts</th><th>what to do</th>'
        "<th>sample request ids</th></tr></thead><tbody>",
        *(_category_row(c) for c in categories),
        "</tbody></table>",
    ]


def _routes_html(routes: Sequence[RouteLine]) -> list[str]:
    if not routes:
        return []
    out = [
        "<h3>Top failing routes</h3>",
        '<table><thead><tr><th>route</th><th class="num">requests</th>'
        '<th class="num">errors</th><th class="num">error rate</th><th>top category</th></tr></thead><tbody>',
    ]
    for r in routes:
        rate = f"{r.errors / r.requests:.1%}" if r.requests else "—"
        out.append(
            f"<tr><td><code>{_e(r.route)}</code></td><td class='num'>{_num(r.requests)}</td>"
            f"<td class='num'>{_num(r.errors)}</td><td class='num'>{rate}</td>"
            f"<td>{_category_cell(r.top_category)}</td></tr>"
        )
    out.append("</tbody></table>")
    return out


def _latency_html(api: ApiStageReport) -> list[str]:
    timeout = api.integration_timeout_ms or DEFAULT_INTEGRATION_TIMEOUT_MS
    out = [f"<h3>Latency <span class='muted'>(integration timeout {timeout:,} ms)</span></h3>"]
    if not (api.latency.count or api.integration_latency.count):
        out.append(
            '<p class="muted">Latency not logged: add $context.responseLatency and '
            "$context.integrationLatency to the access-log format.</p>"
        )
        return out
    out.append(
        '<table><thead><tr><th></th><th class="num">p50</th><th class="num">p90</th><th class="num">p99</th>'
        '<th class="num">max</th><th class="num">n</th></tr></thead><tbody>'
    )
    rows: tuple[tuple[str, LatencySummary], ...] = (
        ("response", api.latency),
        ("integration", api.integration_latency),
        ("gateway overhead", api.gateway_overhead),
    )
    for name, s in rows:
        out.append(
            f"<tr><td>{name}</td><td class='num'>{_ms(s.p50)}</td><td class='num'>{_ms(s.p90)}</td>"
            f"<td class='num'>{_ms(s.p99)}</td><td class='num'>{_ms(s.max)}</td>"
            f"<td class='num'>{_num(s.count)}</td></tr>"
        )
    out.append("</tbody></table>")
    out.append(f"<p>Near timeouts: <b>{_num(api.near_timeouts)}</b> · at the timeout: <b>{_num(api.timeouts)}</b></p>")
    return out


def _stage_html(api: ApiStageReport) -> str:
    out = [
        f"<h2>{_e(_stage_title(api))}</h2>",
        '<div class="card">',
        f"<p><b>{_num(api.requests)}</b> requests · 4xx <b>{_num(api.errors_4xx)}</b> · 5xx "
        f"<b>{_num(api.errors_5xx)}</b> · error rate <b>{api.error_rate:.1%}</b></p>",
        '<p class="muted">By status: ' + _e(", ".join(f"{k}: {v:,}" for k, v in api.by_status.items())) + "</p>",
        *_categories_html(api.by_category),
        *_routes_html(api.top_failing_routes),
        *_latency_html(api),
        "</div>",
    ]
    return "\n".join(out)


def _inputs_html(report: Report) -> str:
    i = report.inputs
    items = [
        f"Lines parsed: {_e(', '.join(f'{k}: {v:,}' for k, v in i.lines_parsed.items()) or 'none')}",
        f"Lines not parsed: {_e(', '.join(f'{k}: {v:,}' for k, v in i.lines_unparsed.items()) or 'none')}",
    ]
    for reason, n in i.unparsed_reasons.items():
        sample = i.unparsed_samples.get(reason)
        items.append(f"{_e(reason)}: {_num(n)}" + (f" — e.g. <code>{_e(sample)}</code>" if sample else ""))
    if i.access_formats:
        items.append("Access-log formats: " + _e(", ".join(f"{k}: {v:,}" for k, v in i.access_formats.items())))
    if i.missing_fields:
        items.append("The access-log format lacks: " + ", ".join(f"<code>{_e(f)}</code>" for f in i.missing_fields))
    items += [f"Note: {_e(n)}" for n in report.notes]
    return '<h2>Input</h2><div class="card"><ul>' + "".join(f"<li>{x}</li>" for x in items) + "</ul></div>"


# ---------------------------------------------------------------------------------------------------
# Alarms
# ---------------------------------------------------------------------------------------------------


def _alarm_episodes(ordered: Sequence[AlarmTransition]) -> list[_Episode]:
    """Fired -> recovered pairs in time order, one per ALARM episode (recovered None: still in ALARM at the end)."""
    episodes: list[_Episode] = []
    open_: dict[str, int] = {}
    for t in ordered:
        if t.new_state == "ALARM":
            open_[t.alarm_name] = len(episodes)
            episodes.append((t, None))
        elif t.old_state == "ALARM" and t.alarm_name in open_:
            idx = open_.pop(t.alarm_name)
            episodes[idx] = (episodes[idx][0], t)
    return episodes


def _episode_row(fired: AlarmTransition, recovered: AlarmTransition | None) -> str:
    took = f"{(recovered.time_ms - fired.time_ms) // MINUTE_MS} min" if recovered else "—"
    value = "—" if fired.value is None else f"{fired.value:,.4g}"
    return (
        f"<tr><td><code>{_e(fired.alarm_name)}</code></td>"
        f'<td><span class="badge fired">fired</span> {_e(_utc(fired.time_ms))}</td>'
        + (
            f'<td><span class="badge recovered">recovered</span> {_e(_utc(recovered.time_ms))}</td>'
            if recovered
            else '<td><span class="badge fired">still in ALARM</span></td>'
        )
        + f"<td class='num'>{took}</td><td class='num'>{_e(value)}</td></tr>"
    )


def _episodes_html(episodes: Sequence[_Episode]) -> list[str]:
    fired = len(episodes)
    recovered = sum(1 for _, r in episodes if r is not None)
    out = [
        f"<p><b>{fired}</b> alarm period(s), <b>{recovered}</b> recovered"
        + (f", <b>{fired - recovered}</b> still in ALARM at the end" if fired > recovered else "")
        + ".</p>"
    ]
    if episodes:
        out.append(
            '<table><thead><tr><th>alarm</th><th>fired</th><th>recovered</th><th class="num">in ALARM</th>'
            '<th class="num">value when fired</th></tr></thead><tbody>'
        )
        out += [_episode_row(f, r) for f, r in episodes]
        out.append("</tbody></table>")
    return out


def _change_kind(t: AlarmTransition) -> str:
    """The badge of a state change: fired, recovered (ALARM -> OK) or other."""
    if t.new_state == "ALARM":
        return "fired"
    if t.old_state == "ALARM" and t.new_state == "OK":
        return "recovered"
    return "other"


def _state_changes_html(ordered: Sequence[AlarmTransition]) -> list[str]:
    out = [
        f"<details><summary>Every state change ({len(ordered)}), with CloudWatch's reason</summary>"
        "<table><thead><tr><th>time</th><th>alarm</th><th>change</th><th>reason</th></tr></thead><tbody>"
    ]
    for t in ordered:
        out.append(
            f"<tr><td style='white-space:nowrap'>{_e(_utc(t.time_ms, '%Y-%m-%d %H:%M:%S UTC'))}</td>"
            f"<td><code>{_e(t.alarm_name)}</code></td>"
            f'<td><span class="badge {_change_kind(t)}">{_e(t.old_state)} → {_e(t.new_state)}</span></td>'
            f"<td class='muted'>{_e(t.reason)}</td></tr>"
        )
    out.append("</tbody></table></details></div>")
    return out


def _alarms_html(transitions: Sequence[AlarmTransition]) -> str:
    ordered = sorted(transitions, key=lambda t: (t.time_ms, t.alarm_name))
    out = ["<h2>Alarms</h2>", '<div class="card">']
    if not ordered:
        out.append('<p class="muted">No alarm changed state.</p></div>')
        return "\n".join(out)
    out += _episodes_html(_alarm_episodes(ordered))
    out += _state_changes_html(ordered)
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------------
# The whole page
# ---------------------------------------------------------------------------------------------------


def _image_src(name: str | None) -> str | None:
    """A relative file name or an http(s) URL; anything with another scheme (javascript:, data:) is dropped."""
    if not name:
        return None
    if safe_url(name):
        return name
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", name) or name.startswith("//"):
        return None
    return name


def _head_html(report: Report, transitions: Sequence[AlarmTransition], messages: int, title: str) -> list[str]:
    """The document head, the title and the headline numbers."""
    rate = report.total_errors / report.total_requests if report.total_requests else 0.0
    fired = sum(1 for t in transitions if t.new_state == "ALARM")
    recovered = sum(1 for t in transitions if t.old_state == "ALARM" and t.new_state == "OK")
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # no script may run, whatever slipped through: a second line of defence behind html.escape
        "<meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'none'; object-src 'none'; "
        "base-uri 'none'; form-action 'none'\">",
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{_e(title)}</h1>",
        '<p class="muted">What gatewatch found in the logs, the alarms the stack\'s definitions raised, '
        "and the Slack messages the notifier sent.</p>",
        '<div class="kpis">',
        f'<div class="kpi"><b>{_num(report.total_requests)}</b><span>requests</span></div>',
        f'<div class="kpi"><b>{_num(report.total_errors)}</b><span>failed ({rate:.1%})</span></div>',
        f'<div class="kpi"><b style="color:{STATE_COLOURS["ALARM"]}">{fired}</b><span>alarms fired</span></div>',
        f'<div class="kpi"><b style="color:{STATE_COLOURS["OK"]}">{recovered}</b><span>recovered</span></div>',
        f'<div class="kpi"><b>{messages}</b><span>Slack messages</span></div>',
        "</div>",
    ]


def _dashboard_html(dashboard_png: str | None) -> list[str]:
    src = _image_src(dashboard_png)
    if not src:
        return []
    return [
        "<h2>Dashboard</h2>",
        f'<a href="{_e(src)}"><img class="dashboard" src="{_e(src)}" '
        'alt="gatewatch dashboard: requests, errors by category, latency, alarms"></a>',
    ]


def _slack_messages_html(slack_messages: Sequence[Mapping[str, Any]]) -> list[str]:
    out = [f"<h2>Slack messages ({len(slack_messages)})</h2>"]
    if not slack_messages:
        out.append('<p class="muted">No Slack message was sent.</p>')
    for i, payload in enumerate(slack_messages, 1):
        out.append(f'<h3 class="muted">#{i}</h3>')
        out.append(render_slack_html(payload) if isinstance(payload, Mapping) else f"<pre>{_e(payload)}</pre>")
    return out


def render_html_report(
    report: Report,
    path: Path,
    *,
    dashboard_png: str | None,
    transitions: Sequence[AlarmTransition],
    slack_messages: Sequence[Mapping[str, Any]],
    title: str = "gatewatch demo",
) -> Path:
    """Write one self-contained HTML file: headline numbers, the dashboard, the report, alarms, Slack messages."""
    path = Path(path)
    parts = [
        *_head_html(report, transitions, len(slack_messages), title),
        *_dashboard_html(dashboard_png),
        *(_stage_html(api) for api in report.apis),
        _alarms_html(transitions),
        *_slack_messages_html(slack_messages),
        _inputs_html(report),
        "</main></body></html>",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path


__all__ = ["render_html_report"]

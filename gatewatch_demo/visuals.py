"""The demo's two pictures: a dashboard PNG (the CloudWatch dashboard's widgets) and a self-contained HTML report.

Why a PNG at all: moto stores metrics but has no dashboards, so a newcomer running `make demo` would
never see what the stack's dashboard shows during an incident. `render_dashboard_png` draws the same
widgets as `stacks/constructs/dashboard.py` (requests and error rate, errors by category, causes,
429 quota vs throttle, near-timeouts, latency percentiles, integration vs gateway overhead, top
failing routes, alarm status) from the metrics the demo extracted from the analyzer's EMF output.

Why the HTML is paranoid: request paths, error messages and Slack texts are chosen by whoever calls
the API. Everything from the report or a Slack payload is `html.escape`d; Slack mrkdwn is converted
by a small tokenizer (never by string substitution on raw input), and links are emitted only for
http(s) URLs. No script, no external asset: the file opens offline and is safe to mail around.

matplotlib is imported inside `render_dashboard_png` only, so the engine and the Lambda bundle never
load it. It draws on a `Figure` with the Agg canvas directly — no pyplot, hence no GUI backend, no
global figure registry and nothing left behind between renders.
"""

from __future__ import annotations

import html
import math
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from gatewatch.classify.taxonomy import CATEGORY_TABLE, ErrorCategory, Family
from gatewatch.constants import (
    DEFAULT_INTEGRATION_TIMEOUT_MS,
    DIM_API,
    DIM_CATEGORY,
    DIM_STAGE,
    METRIC_CAUSES,
    METRIC_ERRORS,
    METRIC_ERRORS_4XX,
    METRIC_ERRORS_5XX,
    METRIC_GATEWAY_OVERHEAD,
    METRIC_INTEGRATION_LATENCY,
    METRIC_LATENCY,
    METRIC_NEAR_TIMEOUT,
    METRIC_REQUESTS,
)
from gatewatch.naming import alarm_name
from gatewatch_demo.alarms import AlarmTransition
from gatewatch_demo.metrics import MINUTE_MS, MetricStore

if TYPE_CHECKING:  # the report module pulls in the pipeline; only its types are needed here
    from gatewatch_cli.report import ApiStageReport, LatencySummary, Report, RouteLine

# ---------------------------------------------------------------------------------------------------
# Colours shared by the PNG and the HTML (one place, so both pictures agree)
# ---------------------------------------------------------------------------------------------------

#: A family's colour: config = red, backend = orange, capacity = purple, client = blue.
FAMILY_COLOURS: dict[str, str] = {
    Family.CONFIG.value: "#c62828",
    Family.BACKEND.value: "#ef6c00",
    Family.CAPACITY.value: "#6a1b9a",
    Family.CLIENT.value: "#1565c0",
    Family.OK.value: "#2e7d32",
}
_FAMILY_CMAPS = {
    Family.CONFIG.value: "Reds",
    Family.BACKEND.value: "Oranges",
    Family.CAPACITY.value: "Purples",
    Family.CLIENT.value: "Blues",
}
#: Bottom to top in the stacked charts: what the API's owner must fix first sits at the bottom.
_FAMILY_ORDER = (Family.CONFIG.value, Family.BACKEND.value, Family.CAPACITY.value, Family.CLIENT.value)
_UNKNOWN_FAMILY = "other"
_GREY = "#7f8c8d"

STATE_COLOURS = {"OK": "#1d8102", "ALARM": "#d13212", "INSUFFICIENT_DATA": "#aab7b8"}
_ALARM_SHADE = "#d13212"

#: Which alarm keys shade which panel (keys as in gatewatch.alarm_specs; category bursts use the category name).
_RATE_KEYS = frozenset({"5xx-rate", "4xx-rate"})
_QUOTA_KEYS = frozenset(
    {ErrorCategory.THROTTLED.value, ErrorCategory.QUOTA_EXCEEDED.value, ErrorCategory.BACKEND_THROTTLED.value}
)
_CATEGORY_KEYS = frozenset(c.value for c in ErrorCategory)

MAX_STACKED_SERIES = 14  # beyond this, the smallest categories of a family fold into "other <family>"
MAX_TABLE_ROUTES = 10
MAX_ROUTE_CHARS = 50


def family_of(category: str) -> str:
    """The taxonomy family of a category name ("other" for a name the taxonomy does not know)."""
    try:
        return CATEGORY_TABLE[ErrorCategory(category)].family.value
    except ValueError:
        return _UNKNOWN_FAMILY


def _utc(ms: int, fmt: str = "%Y-%m-%d %H:%M UTC") -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime(fmt)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------------------
# Alarm periods (shared by both renderers)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlarmPeriod:
    """One stretch of time an alarm spent in one state; `end_ms` None = still in it at the end."""

    alarm_name: str
    key: str
    state: str
    start_ms: int
    end_ms: int | None


def alarm_periods(transitions: Iterable[AlarmTransition], alarm: str, start_ms: int) -> list[AlarmPeriod]:
    """The states of one alarm from `start_ms` on, built from its transitions (OK before the first one)."""
    own = sorted((t for t in transitions if t.alarm_name == alarm), key=lambda t: t.time_ms)
    key = own[0].key if own else alarm
    state = own[0].old_state if own else "OK"
    periods: list[AlarmPeriod] = []
    since = start_ms
    for t in own:
        if t.time_ms > since:
            periods.append(AlarmPeriod(alarm, key, state, since, t.time_ms))
        since, state = max(since, t.time_ms), t.new_state
    periods.append(AlarmPeriod(alarm, key, state, since, None))
    return periods


def _for_stage(transitions: Iterable[AlarmTransition], api: str, stage: str) -> list[AlarmTransition]:
    return [t for t in transitions if (t.api is None or t.api == api) and (t.stage is None or t.stage == stage)]


# ---------------------------------------------------------------------------------------------------
# The dashboard PNG
# ---------------------------------------------------------------------------------------------------

_DPI = 100
_FIG_WIDTH_IN = 16.0
_MARGIN_IN = 0.18
_GAP_IN = 0.16
_TITLE_BAND_IN = 0.58


@dataclass(frozen=True)
class _Panel:
    """Where one widget sits, in inches from the top-left corner of the figure."""

    x: float
    y: float
    w: float
    h: float


class _Minutes:
    """The per-minute time axis of the dashboard and the metric reads over it."""

    def __init__(self, store: MetricStore, namespace: str, api: str, stage: str, start_ms: int, end_ms: int) -> None:
        self.store, self.namespace = store, namespace
        self.dims = {DIM_API: api, DIM_STAGE: stage}
        self.starts = list(range(start_ms, end_ms, MINUTE_MS))

    def series(self, metric: str, statistic: str, **extra: str) -> list[float | None]:
        dims = {**self.dims, **extra}
        stat = self.store.stat
        return [stat(self.namespace, metric, dims, m, 60, statistic) for m in self.starts]

    def counts(self, metric: str, **extra: str) -> list[float]:
        """A Sum series with missing minutes as 0 (FILL(m, 0): no request is no error)."""
        return [v or 0.0 for v in self.series(metric, "Sum", **extra)]

    def total(self, metric: str, **extra: str) -> float:
        return sum(self.counts(metric, **extra))


def render_dashboard_png(
    store: MetricStore,
    path: Path,
    *,
    namespace: str,
    api: str,
    stage: str,
    transitions: Sequence[AlarmTransition],
    top_routes: Sequence[RouteLine],
    alarm_names: Sequence[str],
    integration_timeout_ms: int = DEFAULT_INTEGRATION_TIMEOUT_MS,
) -> Path:
    """Draw the stack's dashboard for one API stage over `store.time_range()`, minute by minute, as a PNG.

    Same input, same bytes: no timestamp in the metadata, no randomness, sorted inputs.
    """
    import matplotlib
    from matplotlib import dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    path = Path(path)
    transitions = _for_stage(transitions, api, stage)
    span = store.time_range()
    if span is None:
        times = [t.time_ms for t in transitions]
        start_ms = (min(times) if times else 0) // MINUTE_MS * MINUTE_MS
        span = (start_ms, (max(times) if times else start_ms) + MINUTE_MS)
    start_ms, end_ms = span
    view_end_ms = max([end_ms] + [t.time_ms for t in transitions])  # a recovery after the last data point
    mins = _Minutes(store, namespace, api, stage, start_ms, end_ms)
    x = [mdates.date2num(datetime.fromtimestamp(m / 1000, tz=UTC)) for m in mins.starts]
    x_lo = mdates.date2num(datetime.fromtimestamp(start_ms / 1000, tz=UTC))
    x_hi = mdates.date2num(datetime.fromtimestamp(view_end_ms / 1000, tz=UTC))

    def xnum(ms: int) -> float:
        return x_lo + (ms - start_ms) / 86_400_000

    names = list(dict.fromkeys(alarm_names)) or sorted({t.alarm_name for t in transitions})
    periods = {name: alarm_periods(transitions, name, start_ms) for name in names}
    for t in transitions:  # transitions of alarms not listed still shade their panels
        periods.setdefault(t.alarm_name, alarm_periods(transitions, t.alarm_name, start_ms))
    keys = {
        name: next((t.key for t in transitions if t.alarm_name == name), None) or _alarm_key(name, api, stage)
        for name in periods
    }
    labels = {
        name: f"health · {name[len(_HEALTH_PREFIX) :]}" if name.startswith(_HEALTH_PREFIX) else keys[name]
        for name in periods
    }

    # ---- layout (inches from the top) ------------------------------------------------------------
    inner = _FIG_WIDTH_IN - 2 * _MARGIN_IN
    half = (inner - _GAP_IN) / 2
    third = (inner - 2 * _GAP_IN) / 3
    header_h = 0.95
    row_h = (3.9, 3.4, 3.6)
    alarm_h = 1.15 + 0.32 * max(1, len(names))
    table_h = 1.0 + 0.3 * max(1, min(MAX_TABLE_ROUTES, len(top_routes)))
    y = _MARGIN_IN + header_h
    rows: list[_Panel] = []
    requests_p, by_cat_p = _Panel(_MARGIN_IN, y, half, row_h[0]), _Panel(_MARGIN_IN + half + _GAP_IN, y, half, row_h[0])
    y += row_h[0] + _GAP_IN
    causes_p, quota_p, near_p = (_Panel(_MARGIN_IN + i * (third + _GAP_IN), y, third, row_h[1]) for i in range(3))
    y += row_h[1] + _GAP_IN
    latency_p, split_p = _Panel(_MARGIN_IN, y, half, row_h[2]), _Panel(_MARGIN_IN + half + _GAP_IN, y, half, row_h[2])
    y += row_h[2] + _GAP_IN
    bottom_h = max(alarm_h, table_h, 3.6)
    routes_p, alarms_p = _Panel(_MARGIN_IN, y, half, bottom_h), _Panel(_MARGIN_IN + half + _GAP_IN, y, half, bottom_h)
    fig_h = y + bottom_h + _MARGIN_IN
    rows += [requests_p, by_cat_p, causes_p, quota_p, near_p, latency_p, split_p, routes_p, alarms_p]

    with warnings.catch_warnings(), matplotlib.rc_context(_RC):
        warnings.simplefilter("ignore")  # missing glyphs in a caller's route name must not spam the demo
        fig = Figure(figsize=(_FIG_WIDTH_IN, fig_h), dpi=_DPI, facecolor="#eef0f1")
        FigureCanvasAgg(fig)

        def to_fig(px: float, py: float) -> tuple[float, float]:
            return px / _FIG_WIDTH_IN, 1 - py / fig_h

        def card(p: _Panel, title: str, note: str = "", key: Sequence[tuple[str, str]] = ()) -> None:
            x0, y0 = to_fig(p.x, p.y + p.h)
            fig.patches.append(
                FancyBboxPatch(
                    (x0, y0),
                    p.w / _FIG_WIDTH_IN,
                    p.h / fig_h,
                    boxstyle="round,pad=0,rounding_size=0.004",
                    transform=fig.transFigure,
                    facecolor="white",
                    edgecolor="#d5dbdb",
                    linewidth=0.8,
                    zorder=-10,
                )
            )
            tx, ty = to_fig(p.x + 0.14, p.y + 0.24)
            fig.text(tx, ty, title, fontsize=11.5, fontweight="bold", color="#16191f", parse_math=False)
            if note:
                nx, ny = to_fig(p.x + 0.14, p.y + 0.45)
                fig.text(nx, ny, note, fontsize=8, color=_ALARM_SHADE, parse_math=False)
            kx = p.x + p.w - 0.14
            for label, colour in reversed(key):
                fx, fy = to_fig(kx, p.y + 0.24)
                fig.text(fx, fy, label, fontsize=8.5, color="#545b64", ha="right")
                sx, sy = to_fig(kx - 0.075 * len(label) - 0.06, p.y + 0.24)
                fig.text(sx, sy, "■", fontsize=10, color=colour, ha="right")
                kx -= 0.075 * len(label) + 0.38

        def axes_in(
            p: _Panel,
            *,
            left: float = 0.62,
            right: float = 0.22,
            top: float = _TITLE_BAND_IN + 0.08,
            bottom: float = 0.38,
        ):
            x0, y0 = to_fig(p.x + left, p.y + p.h - bottom)
            ax = fig.add_axes((x0, y0, (p.w - left - right) / _FIG_WIDTH_IN, (p.h - top - bottom) / fig_h))
            return ax

        hhmm = mdates.DateFormatter("%H:%M", tz=UTC)
        span_min = (view_end_ms - start_ms) / MINUTE_MS

        def time_axis(ax) -> None:
            ax.set_xlim(x_lo, x_hi)
            max_ticks = max(3, int(ax.get_position().width * _FIG_WIDTH_IN / 0.8))  # ~0.8 in per HH:MM label
            step = next((s for s in (1, 2, 5, 10, 15, 30) if span_min / s <= max_ticks), None)
            if step is None:
                ax.xaxis.set_major_locator(mdates.AutoDateLocator(tz=UTC, maxticks=max_ticks))
            else:
                ax.xaxis.set_major_locator(mdates.MinuteLocator(byminute=range(0, 60, step), tz=UTC))
            ax.xaxis.set_major_formatter(hhmm)
            ax.grid(True, axis="y", color="#e9ebed", linewidth=0.8)
            ax.grid(True, axis="x", color="#f4f5f6", linewidth=0.6)
            ax.set_axisbelow(True)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
            for side in ("left", "bottom"):
                ax.spines[side].set_color("#aab7b8")

        def shade(ax, wanted: Iterable[str]) -> str:
            """Shade the ALARM periods of the alarms whose key is in `wanted`; returns the card's note."""
            wanted = set(wanted)
            shown: list[str] = []
            for name, ps in periods.items():
                if keys[name] not in wanted:
                    continue
                for p in ps:
                    if p.state == "ALARM":
                        ax.axvspan(
                            xnum(p.start_ms),
                            xnum(p.end_ms if p.end_ms is not None else view_end_ms),
                            color=_ALARM_SHADE,
                            alpha=0.09,
                            linewidth=0,
                            zorder=0,
                        )
                        if keys[name] not in shown:
                            shown.append(keys[name])
            return ("shaded: ALARM of " + ", ".join(shown)) if shown else ""

        def legend(ax, handles, labels, **where: Any):
            """A legend whose labels are shown literally (a `$` in a name must not start mathtext)."""
            leg = ax.legend(handles, labels, **{"fontsize": 8, "frameon": False, "handlelength": 1.6, **where})
            for text in leg.get_texts():
                text.set_parse_math(False)
            return leg

        def legend_below(ax, ncol: int = 3):
            handles, labels = ax.get_legend_handles_labels()
            return legend(ax, handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=ncol)

        def empty(ax, what: str = "no data") -> None:
            ax.text(0.5, 0.5, what, transform=ax.transAxes, ha="center", va="center", color=_GREY, fontsize=10)

        def nan(values: list[float | None]) -> list[float]:
            return [math.nan if v is None else v for v in values]

        def ms_label(v: float, _pos: Any = None) -> str:
            if v >= 1000:
                return f"{v / 1000:g} s"
            return f"{v:g} ms"

        # ---- header --------------------------------------------------------------------------------
        requests = mins.counts(METRIC_REQUESTS)
        e4, e5 = mins.counts(METRIC_ERRORS_4XX), mins.counts(METRIC_ERRORS_5XX)
        total = sum(requests)
        fired = sum(1 for t in transitions if t.new_state == "ALARM")
        hx, hy = to_fig(_MARGIN_IN + 0.05, _MARGIN_IN + 0.42)
        fig.text(
            hx, hy, f"gatewatch · {api} / {stage}", fontsize=19, fontweight="bold", color="#16191f", parse_math=False
        )
        sx, sy = to_fig(_MARGIN_IN + 0.05, _MARGIN_IN + 0.78)
        fig.text(
            sx,
            sy,
            f"{_utc(start_ms, '%Y-%m-%d %H:%M')}–{_utc(view_end_ms, '%H:%M')} UTC · 1-minute periods · "
            f"namespace {namespace} · widgets as on the CloudWatch dashboard "
            f"{_dashboard_name(api)}",
            fontsize=9.5,
            color="#545b64",
            parse_math=False,
        )
        rate = (lambda n: f"{100 * n / total:.1f}%") if total else (lambda n: "—")
        kpis = [
            ("requests", f"{total:,.0f}", "#16191f"),
            ("4xx rate", rate(sum(e4)), FAMILY_COLOURS["client"]),
            ("5xx rate", rate(sum(e5)), FAMILY_COLOURS["config"]),
            ("alarms fired", f"{fired}", STATE_COLOURS["ALARM"] if fired else STATE_COLOURS["OK"]),
        ]
        kx = _FIG_WIDTH_IN - _MARGIN_IN - 0.05
        for label, value, colour in reversed(kpis):
            vx, vy = to_fig(kx, _MARGIN_IN + 0.45)
            fig.text(vx, vy, value, fontsize=17, fontweight="bold", color=colour, ha="right")
            lx, ly = to_fig(kx, _MARGIN_IN + 0.78)
            fig.text(lx, ly, label, fontsize=8.5, color="#545b64", ha="right")
            kx -= 1.45

        # ---- requests and error rate ------------------------------------------------------------
        ax = axes_in(requests_p, right=0.62, bottom=0.62)
        time_axis(ax)
        ax.plot(x, requests, color="#1f77b4", linewidth=1.7, label="Requests")
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_locator(MaxNLocator(5, integer=True))
        ax.set_ylabel("Count", fontsize=8, color="#545b64")
        rax = ax.twinx()
        rax.set_xlim(x_lo, x_hi)
        rates5 = [100 * b / r if r else 0.0 for b, r in zip(e5, requests, strict=False)]
        rates4 = [100 * b / r if r else 0.0 for b, r in zip(e4, requests, strict=False)]
        rax.plot(x, rates5, color=FAMILY_COLOURS["config"], linewidth=1.4, label="5xx rate (%)")
        rax.plot(x, rates4, color="#e6a100", linewidth=1.4, label="4xx rate (%)")
        rax.set_ylim(0, max([5.0] + rates5 + rates4) * 1.12)
        rax.set_ylabel("%", fontsize=8, color="#545b64")
        for side in ("top", "left"):
            rax.spines[side].set_visible(False)
        rax.spines["right"].set_color("#aab7b8")
        note = shade(ax, _RATE_KEYS | {"requests-anomaly", "5xx-anomaly"})
        handles = ax.get_lines() + rax.get_lines()
        legend(ax, handles, [h.get_label() for h in handles], loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3)
        card(requests_p, "Requests and error rate", note)

        # ---- errors by category (stacked) and causes --------------------------------------------
        cats = _stack_categories(mins, METRIC_ERRORS)
        causes = _stack_categories(mins, METRIC_CAUSES)
        colours = _category_colours(
            _categories(mins, METRIC_ERRORS) | _categories(mins, METRIC_CAUSES) | _QUOTA_KEYS, matplotlib
        )
        family_key = tuple((f, FAMILY_COLOURS[f]) for f in _FAMILY_ORDER)
        ax = axes_in(by_cat_p, right=2.25)
        time_axis(ax)
        _stacked(ax, x, cats, colours, legend, empty)
        card(by_cat_p, "Errors by category", shade(ax, _RATE_KEYS | _CATEGORY_KEYS), family_key)

        ax = axes_in(causes_p, right=1.85)
        time_axis(ax)
        _stacked(ax, x, causes, colours, legend, empty, what="no execution-log causes")
        card(causes_p, "Causes (execution logs)")

        # ---- 429: quota vs throttle ---------------------------------------------------------------
        ax = axes_in(quota_p, right=1.65)
        time_axis(ax)
        quota = [
            (c, mins.counts(METRIC_ERRORS, **{DIM_CATEGORY: c}))
            for c in (
                ErrorCategory.QUOTA_EXCEEDED.value,
                ErrorCategory.THROTTLED.value,
                ErrorCategory.BACKEND_THROTTLED.value,
            )
        ]
        _stacked(ax, x, quota, colours, legend, empty, keep_empty=True)
        card(quota_p, "429: quota vs throttle", shade(ax, _QUOTA_KEYS))

        # ---- near-timeouts ------------------------------------------------------------------------
        ax = axes_in(near_p, right=0.25)
        time_axis(ax)
        near = mins.counts(METRIC_NEAR_TIMEOUT)
        ax.bar(x, near, width=0.8 / 1440, align="edge", color=FAMILY_COLOURS["backend"], label="Near-timeouts")
        ax.set_ylim(0, max([1.0] + near) * 1.15)
        ax.yaxis.set_major_locator(MaxNLocator(4, integer=True))
        if not any(near):
            empty(ax, "no request near the integration timeout")
        card(near_p, "Near-timeouts (≥ 90% of the integration timeout)", shade(ax, {"near-timeout"}))

        # ---- latency ------------------------------------------------------------------------------
        def latency_panel(
            p: _Panel, lines: list[tuple[str, str, str, str, str]], title: str, keys_: set[str], timeout: bool
        ) -> None:
            ax = axes_in(p, left=0.72, bottom=0.62)
            time_axis(ax)
            plotted = []
            for metric, statistic, label, colour, style in lines:
                values = [max(v, 1.0) if v is not None else None for v in mins.series(metric, statistic)]
                if any(v is not None for v in values):
                    ax.plot(x, nan(values), color=colour, linewidth=1.5, linestyle=style, label=label)
                    plotted.extend(v for v in values if v is not None)
            if not plotted:
                empty(ax, "latency not logged")
                card(p, title)
                return
            ax.set_yscale("log")
            top = max(plotted)
            if timeout:
                ax.axhline(
                    integration_timeout_ms,
                    color="#545b64",
                    linewidth=1,
                    linestyle=(0, (4, 3)),
                    label=f"integration timeout ({integration_timeout_ms / 1000:g} s)",
                )
                top = max(top, integration_timeout_ms)
            ax.set_ylim(max(1.0, min(plotted) / 1.6), top * 1.8)
            ax.yaxis.set_major_formatter(FuncFormatter(ms_label))
            legend_below(ax, ncol=5)
            card(p, title, shade(ax, keys_))

        latency_panel(
            latency_p,
            [
                (METRIC_LATENCY, "p50", "Latency p50", "#2ca02c", "-"),
                (METRIC_LATENCY, "p90", "Latency p90", "#1f77b4", "-"),
                (METRIC_LATENCY, "p99", "Latency p99", "#9467bd", "-"),
            ],
            "Latency p50 / p90 / p99",
            {"p90-latency"},
            True,
        )
        latency_panel(
            split_p,
            [
                (METRIC_INTEGRATION_LATENCY, "p50", "Integration p50", FAMILY_COLOURS["backend"], "-"),
                (METRIC_INTEGRATION_LATENCY, "p90", "Integration p90", "#a84300", "-"),
                (METRIC_GATEWAY_OVERHEAD, "p50", "Gateway overhead p50", "#17becf", "-"),
                (METRIC_GATEWAY_OVERHEAD, "p90", "Gateway overhead p90", "#0b7285", "--"),
            ],
            "Integration latency vs gateway overhead",
            {"p90-integration-latency"},
            False,
        )

        # ---- top failing routes (table) -----------------------------------------------------------
        ax = axes_in(routes_p, left=0.14, right=0.14, bottom=0.12)
        ax.set_axis_off()
        _route_table(ax, top_routes[:MAX_TABLE_ROUTES], colours)
        card(routes_p, "Top failing routes")

        # ---- alarm status ------------------------------------------------------------------------
        ax = axes_in(alarms_p, left=2.8, right=0.95, bottom=0.42)
        time_axis(ax)
        ax.grid(False, axis="y")
        ax.spines["left"].set_visible(False)
        ax.tick_params(axis="y", length=0)
        order = list(periods)
        for row, name in enumerate(order):
            yrow = len(order) - 1 - row
            for p in periods[name]:
                x0 = xnum(p.start_ms)
                x1 = xnum(p.end_ms if p.end_ms is not None else view_end_ms)
                ax.broken_barh(
                    [(x0, max(x1 - x0, 1e-9))],
                    (yrow - 0.34, 0.68),
                    facecolors=STATE_COLOURS.get(p.state, _GREY),
                    linewidth=0,
                )
            last = periods[name][-1].state
            ax.text(
                1.02,
                (yrow + 0.5) / max(1, len(order)),
                last,
                transform=ax.transAxes,
                va="center",
                ha="left",
                fontsize=8.5,
                fontweight="bold",
                color=STATE_COLOURS.get(last, _GREY),
            )
        ax.set_ylim(-0.6, max(1, len(order)) - 0.4)
        ax.set_yticks(range(len(order)))
        ax.set_yticklabels([_shorten(labels[n], 40) for n in reversed(order)], fontsize=8.5)
        for label in ax.get_yticklabels():
            label.set_parse_math(False)
        if not order:
            empty(ax, "no alarms")
        card(
            alarms_p, f"Alarms of {api} / {stage}", key=(("OK", STATE_COLOURS["OK"]), ("ALARM", STATE_COLOURS["ALARM"]))
        )

        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png", dpi=_DPI, facecolor=fig.get_facecolor(), metadata={"Software": None})
    return path


_RC = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 11,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "xtick.color": "#545b64",
    "ytick.color": "#545b64",
    "axes.edgecolor": "#aab7b8",
}


_HEALTH_PREFIX = alarm_name("health", "x", "x")[: -len("x-x")]  # gatewatch's own alarms: "gatewatch-health-"


def _alarm_key(name: str, api: str, stage: str) -> str:
    """What an alarm watches ("5xx-rate"), from its name `gatewatch-{api}-{stage}-{key}` (the name otherwise)."""
    prefix = alarm_name(api, stage, "x")[:-1]
    return name[len(prefix) :] if name.startswith(prefix) else name


def _dashboard_name(api: str) -> str:
    from gatewatch.naming import dashboard_name

    return dashboard_name(api)


def _stack_categories(mins: _Minutes, metric: str) -> list[tuple[str, list[float]]]:
    """Every Category of `metric` (the SEARCH of the dashboard), ordered by family then volume; folded if many."""
    series = [(c, mins.counts(metric, **{DIM_CATEGORY: c})) for c in sorted(_categories(mins, metric))]
    series = [(c, s) for c, s in series if any(s)]
    family_rank = {f: i for i, f in enumerate(_FAMILY_ORDER)}

    def order(item: tuple[str, list[float]]) -> tuple[int, float, str]:
        return family_rank.get(family_of(item[0]), len(family_rank)), -sum(item[1]), item[0]

    series.sort(key=order)
    if len(series) <= MAX_STACKED_SERIES:
        return series
    keep = {c for c, _ in sorted(series, key=lambda it: (-sum(it[1]), it[0]))[: MAX_STACKED_SERIES - 4]}
    out: list[tuple[str, list[float]]] = []
    folded: dict[str, tuple[int, list[float]]] = {}
    for c, s in series:
        if c in keep:
            out.append((c, s))
            continue
        fam = family_of(c)
        n, acc = folded.get(fam, (0, [0.0] * len(s)))
        folded[fam] = (n + 1, [a + b for a, b in zip(acc, s, strict=False)])
    for fam, (n, acc) in folded.items():
        out.append((f"other {fam} ({n})", acc))
    out.sort(
        key=lambda it: (
            family_rank.get(_family_of_label(it[0]), len(family_rank)),
            it[0].startswith("other "),
            -sum(it[1]),
            it[0],
        )
    )
    return out


def _categories(mins: _Minutes, metric: str) -> set[str]:
    return mins.store.dimension_values(mins.namespace, metric, DIM_CATEGORY, **mins.dims)


def _family_of_label(label: str) -> str:
    if label.startswith("other "):
        return label.split(" ")[1]
    return family_of(label)


def _category_colours(categories: set[str], matplotlib: Any) -> dict[str, str]:
    """A shade of the family's colour per category; categories of one family spread over its colour map."""
    from matplotlib.colors import to_hex

    by_family: dict[str, list[str]] = {}
    for c in sorted(categories):
        by_family.setdefault(family_of(c), []).append(c)
    out: dict[str, str] = {}
    for fam, members in by_family.items():
        cmap_name = _FAMILY_CMAPS.get(fam)
        if cmap_name is None:
            out.update(dict.fromkeys(members, _GREY))
            continue
        cmap = matplotlib.colormaps[cmap_name]
        n = len(members)
        for i, c in enumerate(members):
            out[c] = to_hex(cmap(0.92 - 0.42 * (i / (n - 1)) if n > 1 else 0.75))
        out[f"other {fam}"] = to_hex(cmap(0.3))
    return out


def _stacked(ax, x, series, colours, legend, empty, *, what: str = "no errors", keep_empty: bool = False) -> None:
    from matplotlib.ticker import MaxNLocator

    shown = [(c, s) for c, s in series if keep_empty or any(s)]
    if not any(any(s) for _, s in shown):
        empty(ax, what)
        ax.set_ylim(0, 1)
        ax.yaxis.set_major_locator(MaxNLocator(2, integer=True))
        if not keep_empty:
            return

    def colour(label: str) -> str:
        return colours.get(label) or colours.get(" ".join(label.split(" ")[:2]), _GREY)

    labels = [f"{c}  ({sum(s):,.0f})" for c, s in shown]
    ax.stackplot(
        x, *[s for _, s in shown], labels=labels, colors=[colour(c) for c, _ in shown], edgecolor="white", linewidth=0.4
    )
    tops = [sum(vals) for vals in zip(*[s for _, s in shown], strict=False)] if shown else [0]
    ax.set_ylim(0, max([1.0] + tops) * 1.1)
    ax.yaxis.set_major_locator(MaxNLocator(5, integer=True))
    handles, labs = ax.get_legend_handles_labels()
    legend(
        ax,
        handles[::-1],
        labs[::-1],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=7.5,  # top first
        handlelength=1.2,
        borderaxespad=0.0,
        labelspacing=0.35,
    )


def _route_table(ax, routes: Sequence[RouteLine], colours: Mapping[str, str]) -> None:
    """The Logs Insights table widget, drawn as text rows: route, requests, errors, error rate, top category."""
    if not routes:
        ax.text(0.5, 0.5, "no failing route", transform=ax.transAxes, ha="center", va="center", color=_GREY)
        return
    columns = (
        ("route", 0.0, "left"),
        ("requests", 0.55, "right"),
        ("errors", 0.64, "right"),
        ("error rate", 0.75, "right"),
        ("top category", 0.775, "left"),
    )
    row_h = 1.0 / (MAX_TABLE_ROUTES + 1)
    y = 1.0 - row_h / 2
    for name, cx, align in columns:
        ax.text(
            cx, y, name, transform=ax.transAxes, ha=align, va="center", fontsize=8.5, fontweight="bold", color="#545b64"
        )
    ax.plot([0, 1], [1.0 - row_h, 1.0 - row_h], transform=ax.transAxes, color="#aab7b8", linewidth=0.8)
    for i, r in enumerate(routes):
        y = 1.0 - row_h * (i + 1.5)
        if i % 2:
            ax.axhspan(y - row_h / 2, y + row_h / 2, color="#f4f6f7", zorder=0)
        rate = f"{100 * r.errors / r.requests:.1f}%" if r.requests else "—"
        cat = r.top_category or "—"
        cells = (_shorten(r.route, MAX_ROUTE_CHARS), f"{r.requests:,}", f"{r.errors:,}", rate, cat)
        for (name, cx, align), value in zip(columns, cells, strict=False):
            ax.text(
                cx + (0.018 if name == "top category" else 0),
                y,
                value,
                transform=ax.transAxes,
                ha=align,
                va="center",
                fontsize=8.5,
                color="#16191f",
                parse_math=False,
                family="DejaVu Sans Mono" if name == "route" else None,
            )
        ax.scatter(
            [0.78],
            [y],
            s=22,
            marker="s",
            transform=ax.transAxes,
            color=colours.get(cat) or FAMILY_COLOURS.get(family_of(cat), _GREY),
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)


# ---------------------------------------------------------------------------------------------------
# Slack mrkdwn -> HTML (safe)
# ---------------------------------------------------------------------------------------------------

_PLACEHOLDER = re.compile("\x00(\\d+)\x00")
_PRE = re.compile(r"```(.+?)```", re.S)
_CODE = re.compile(r"`([^`\n]+)`")
_CONTROL = re.compile(r"<([^<>\n]{0,3000})>")
_BOLD = re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?!\s)([^_\n]+?)(?<!\s)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?!\s)([^~\n]+?)(?<!\s)~(?![\w~])")
_SLACK_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))
_COLOUR = re.compile(r"#?[0-9A-Fa-f]{6}")
_LEGACY_COLOURS = {"good": "#2eb67d", "warning": "#ecb22e", "danger": "#e01e5a"}
_SPECIAL_MENTIONS = frozenset({"here", "channel", "everyone"})


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _unslack(text: str) -> str:
    """Slack's own escaping undone (&lt; &gt; &amp;): the text as a reader sees it, still to be HTML-escaped."""
    for entity, char in _SLACK_ENTITIES:
        text = text.replace(entity, char)
    return text


def safe_url(url: Any) -> str | None:
    """The URL when it is an absolute http(s) URL without spaces or control characters; otherwise None."""
    if not isinstance(url, str) or not url or len(url) > 3000:
        return None
    if any(ch.isspace() or ord(ch) < 32 or ch in "<>\"'`" for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def _link(url: str, label_html: str) -> str:
    return f'<a href="{_e(url)}" rel="noopener noreferrer nofollow">{label_html}</a>'


def _control(inner: str) -> str:
    """One Slack control sequence (<...>): a link, a mention or a date; anything else shown literally."""
    target, _, label = inner.partition("|")
    label_html = _e(_unslack(label)) if label else ""
    if target.startswith("!"):
        name = target[1:].split("^", 1)[0]
        if name in _SPECIAL_MENTIONS:
            return f'<span class="mention">@{_e(name)}</span>'
        if name in ("date", "subteam") and label:
            return f'<span class="mention">{label_html}</span>' if name == "subteam" else label_html
    elif target[:1] in ("@", "#") and len(target) > 1 and re.fullmatch(r"[@#][A-Z0-9]{2,30}", target):
        return f'<span class="mention">{target[0]}{label_html or _e(target[1:])}</span>'
    else:
        url = safe_url(_unslack(target))
        if url is not None:
            return _link(url, label_html or _e(url))
        if label and target.startswith("mailto:"):
            return label_html
    return _e("<" + _unslack(inner) + ">")


def mrkdwn_to_html(text: Any) -> str:
    """Slack mrkdwn as safe HTML: *bold*, _italic_, ~strike~, `code`, ```pre```, <url|text>, mentions, newlines.

    Untrusted parts are HTML-escaped after Slack's own entities are undone; markup is only ever added
    around escaped text, so no input can open a tag or an attribute.
    """
    raw = str(text or "").replace("\x00", "")
    pieces: list[str] = []

    def keep(fragment_html: str) -> str:
        pieces.append(fragment_html)
        return f"\x00{len(pieces) - 1}\x00"

    raw = _PRE.sub(lambda m: keep(f"<pre>{_e(_unslack(m.group(1).strip(chr(10))))}</pre>"), raw)
    raw = _CODE.sub(lambda m: keep(f"<code>{_e(_unslack(m.group(1)))}</code>"), raw)
    raw = _CONTROL.sub(lambda m: keep(_control(m.group(1))), raw)
    out = _e(_unslack(raw))
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    out = _ITALIC.sub(r"<em>\1</em>", out)
    out = _STRIKE.sub(r"<del>\1</del>", out)
    out = out.replace("\n", "<br>\n")
    return _PLACEHOLDER.sub(lambda m: pieces[int(m.group(1))], out)


def _text_object(obj: Any) -> str:
    """A Block Kit text object (mrkdwn or plain_text) as HTML."""
    if isinstance(obj, str):
        return mrkdwn_to_html(obj)
    if not isinstance(obj, Mapping):
        return ""
    if obj.get("type") == "plain_text":
        return _e(_unslack(str(obj.get("text", "")))).replace("\n", "<br>\n")
    return mrkdwn_to_html(obj.get("text", ""))


def _button(element: Mapping[str, Any]) -> str:
    label = _text_object(element.get("text")) or "link"
    url = safe_url(element.get("url"))
    if url is None:
        return f'<span class="button disabled">{label}</span>'
    return f'<a class="button" href="{_e(url)}" rel="noopener noreferrer nofollow">{label}</a>'


def _element(element: Any) -> str:
    if not isinstance(element, Mapping):
        return ""
    kind = element.get("type")
    if kind == "button":
        return _button(element)
    if kind == "image":
        return f'<span class="image">[image: {_e(element.get("alt_text", ""))}]</span>'
    return _text_object(element)


def _block(block: Any) -> str:
    if not isinstance(block, Mapping):
        return ""
    kind = block.get("type")
    if kind == "header":
        return f'<div class="s-header">{_text_object(block.get("text"))}</div>'
    if kind == "section":
        parts = []
        if block.get("text"):
            parts.append(f'<div class="s-text">{_text_object(block.get("text"))}</div>')
        fields = [f for f in block.get("fields") or [] if f]
        if fields:
            parts.append('<div class="s-fields">' + "".join(f"<div>{_text_object(f)}</div>" for f in fields) + "</div>")
        if isinstance(block.get("accessory"), Mapping):
            parts.append(f'<div class="s-accessory">{_element(block["accessory"])}</div>')
        return '<div class="s-section">' + "".join(parts) + "</div>"
    if kind == "context":
        items = [_element(e) for e in block.get("elements") or []]
        return '<div class="s-context">' + " · ".join(i for i in items if i) + "</div>"
    if kind == "actions":
        items = [_element(e) for e in block.get("elements") or []]
        return '<div class="s-actions">' + " ".join(i for i in items if i) + "</div>"
    if kind == "divider":
        return "<hr>"
    if kind == "image":
        alt = _e(block.get("alt_text", ""))
        url = safe_url(block.get("image_url"))
        return f'<div class="s-context">[image: {_link(url, alt) if url else alt}]</div>'
    return f'<div class="s-context">[{_e(kind or "unknown")} block not shown]</div>'


def _attachment_colour(value: Any) -> str:
    text = str(value or "")
    if text in _LEGACY_COLOURS:
        return _LEGACY_COLOURS[text]
    if _COLOUR.fullmatch(text):
        return "#" + text.lstrip("#").lower()
    return "#d5dbdb"


def _legacy_attachment(att: Mapping[str, Any]) -> str:
    parts = []
    for key, cls in (("pretext", "s-text"), ("title", "s-title"), ("text", "s-text")):
        if att.get(key):
            parts.append(f'<div class="{cls}">{mrkdwn_to_html(att[key])}</div>')
    fields = [f for f in att.get("fields") or [] if isinstance(f, Mapping)]
    if fields:
        parts.append(
            '<div class="s-fields">'
            + "".join(
                f"<div><strong>{_e(_unslack(str(f.get('title', ''))))}</strong><br>{mrkdwn_to_html(f.get('value', ''))}</div>"
                for f in fields
            )
            + "</div>"
        )
    if att.get("footer"):
        parts.append(f'<div class="s-context">{mrkdwn_to_html(att["footer"])}</div>')
    return "".join(parts)


def render_slack_html(payload: Mapping[str, Any]) -> str:
    """One Slack payload (webhook / chat.postMessage body) as an HTML card, as Slack would show it."""
    out = ['<div class="slack">']
    blocks = payload.get("blocks") or []
    out += [_block(b) for b in blocks]
    for att in payload.get("attachments") or []:
        if not isinstance(att, Mapping):
            continue
        inner = "".join(_block(b) for b in att.get("blocks") or []) or _legacy_attachment(att)
        out.append(
            f'<div class="s-attachment" style="border-left-color:{_attachment_colour(att.get("color"))}">{inner}</div>'
        )
    if not blocks and not payload.get("attachments"):
        out.append(f'<div class="s-text">{mrkdwn_to_html(payload.get("text", ""))}</div>')
    elif payload.get("text"):
        out.append(f'<div class="s-fallback">notification text: {_e(_unslack(str(payload["text"])))}</div>')
    out.append("</div>")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------------
# The HTML report
# ---------------------------------------------------------------------------------------------------

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


def _num(n: float | int) -> str:
    return f"{n:,}"


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:,.0f} ms"


def _category_cell(category: str | None) -> str:
    if not category:
        return "—"
    colour = FAMILY_COLOURS.get(family_of(category), _GREY)
    return f'<span class="cat"><span class="swatch" style="background:{colour}"></span>{_e(category)}</span>'


def _stage_title(api: ApiStageReport) -> str:
    if api.api_id is None and api.api == "unknown API":
        return "unknown API / stage (the access-log format has no $context.apiId / $context.stage)"
    ident = api.api if api.api_id in (None, api.api) else f"{api.api} ({api.api_id})"
    return f"{ident} / {api.stage or 'unknown stage'}"


def _stage_html(api: ApiStageReport) -> str:
    out = [
        f"<h2>{_e(_stage_title(api))}</h2>",
        '<div class="card">',
        f"<p><b>{_num(api.requests)}</b> requests · 4xx <b>{_num(api.errors_4xx)}</b> · 5xx "
        f"<b>{_num(api.errors_5xx)}</b> · error rate <b>{api.error_rate:.1%}</b></p>",
        '<p class="muted">By status: ' + _e(", ".join(f"{k}: {v:,}" for k, v in api.by_status.items())) + "</p>",
    ]
    if api.by_category:
        out += [
            "<h3>Failures by cause</h3>",
            "<table><thead><tr><th>category</th><th>what it is</th>"
            '<th class="num">count</th><th>status</th><th>retry?</th><th>who acts</th><th>what to do</th>'
            "<th>sample request ids</th></tr></thead><tbody>",
        ]
        for c in api.by_category:
            statuses = ", ".join(f"{k}×{v}" for k, v in c.statuses.items())
            retry = _e(c.retry or "—")
            samples = " ".join(f"<code>{_e(s)}</code>" for s in c.samples[:3]) or "—"
            note = (
                f'<br><span class="muted">{_num(c.status_only)} decided by the status code alone</span>'
                if c.status_only
                else ""
            )
            out.append(
                f"<tr><td>{_category_cell(c.category)}</td><td>{_e(c.title)}</td>"
                f'<td class="num">{_num(c.count)}</td><td>{_e(statuses)}</td>'
                f'<td class="retry-{_e(c.retry or "none")}">{retry}</td><td>{_e(c.blame or "—")}</td>'
                f'<td class="fix">{_e(c.fix)}{note}</td><td class="samples">{samples}</td></tr>'
            )
        out.append("</tbody></table>")
    if api.top_failing_routes:
        out += [
            "<h3>Top failing routes</h3>",
            '<table><thead><tr><th>route</th><th class="num">requests</th>'
            '<th class="num">errors</th><th class="num">error rate</th><th>top category</th></tr></thead><tbody>',
        ]
        for r in api.top_failing_routes:
            rate = f"{r.errors / r.requests:.1%}" if r.requests else "—"
            out.append(
                f"<tr><td><code>{_e(r.route)}</code></td><td class='num'>{_num(r.requests)}</td>"
                f"<td class='num'>{_num(r.errors)}</td><td class='num'>{rate}</td>"
                f"<td>{_category_cell(r.top_category)}</td></tr>"
            )
        out.append("</tbody></table>")
    timeout = api.integration_timeout_ms or DEFAULT_INTEGRATION_TIMEOUT_MS
    out += [f"<h3>Latency <span class='muted'>(integration timeout {timeout:,} ms)</span></h3>"]
    if api.latency.count or api.integration_latency.count:
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
        out.append(
            f"<p>Near timeouts: <b>{_num(api.near_timeouts)}</b> · at the timeout: <b>{_num(api.timeouts)}</b></p>"
        )
    else:
        out.append(
            '<p class="muted">Latency not logged: add $context.responseLatency and '
            "$context.integrationLatency to the access-log format.</p>"
        )
    out.append("</div>")
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


def _alarms_html(transitions: Sequence[AlarmTransition]) -> str:
    ordered = sorted(transitions, key=lambda t: (t.time_ms, t.alarm_name))
    out = ["<h2>Alarms</h2>", '<div class="card">']
    if not ordered:
        out.append('<p class="muted">No alarm changed state.</p></div>')
        return "\n".join(out)
    # fired -> recovered pairs, one row per ALARM episode
    episodes: list[tuple[AlarmTransition, AlarmTransition | None]] = []
    open_: dict[str, int] = {}
    for t in ordered:
        if t.new_state == "ALARM":
            open_[t.alarm_name] = len(episodes)
            episodes.append((t, None))
        elif t.old_state == "ALARM" and t.alarm_name in open_:
            idx = open_.pop(t.alarm_name)
            episodes[idx] = (episodes[idx][0], t)
    fired = len(episodes)
    recovered = sum(1 for _, r in episodes if r is not None)
    out.append(
        f"<p><b>{fired}</b> alarm period(s), <b>{recovered}</b> recovered"
        + (f", <b>{fired - recovered}</b> still in ALARM at the end" if fired > recovered else "")
        + ".</p>"
    )
    if episodes:
        out.append(
            '<table><thead><tr><th>alarm</th><th>fired</th><th>recovered</th><th class="num">in ALARM</th>'
            '<th class="num">value when fired</th></tr></thead><tbody>'
        )
        for f, r in episodes:
            took = f"{(r.time_ms - f.time_ms) // MINUTE_MS} min" if r else "—"
            value = "—" if f.value is None else f"{f.value:,.4g}"
            out.append(
                f"<tr><td><code>{_e(f.alarm_name)}</code></td>"
                f'<td><span class="badge fired">fired</span> {_e(_utc(f.time_ms))}</td>'
                + (
                    f'<td><span class="badge recovered">recovered</span> {_e(_utc(r.time_ms))}</td>'
                    if r
                    else '<td><span class="badge fired">still in ALARM</span></td>'
                )
                + f"<td class='num'>{took}</td><td class='num'>{_e(value)}</td></tr>"
            )
        out.append("</tbody></table>")
    out.append(
        f"<details><summary>Every state change ({len(ordered)}), with CloudWatch's reason</summary>"
        "<table><thead><tr><th>time</th><th>alarm</th><th>change</th><th>reason</th></tr></thead><tbody>"
    )
    for t in ordered:
        kind = (
            "fired"
            if t.new_state == "ALARM"
            else "recovered"
            if t.old_state == "ALARM" and t.new_state == "OK"
            else "other"
        )
        out.append(
            f"<tr><td style='white-space:nowrap'>{_e(_utc(t.time_ms, '%Y-%m-%d %H:%M:%S UTC'))}</td>"
            f"<td><code>{_e(t.alarm_name)}</code></td>"
            f'<td><span class="badge {kind}">{_e(t.old_state)} → {_e(t.new_state)}</span></td>'
            f"<td class='muted'>{_e(t.reason)}</td></tr>"
        )
    out.append("</tbody></table></details></div>")
    return "\n".join(out)


def _image_src(name: str | None) -> str | None:
    """A relative file name or an http(s) URL; anything with another scheme (javascript:, data:) is dropped."""
    if not name:
        return None
    if safe_url(name):
        return name
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", name) or name.startswith("//"):
        return None
    return name


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
    rate = report.total_errors / report.total_requests if report.total_requests else 0.0
    fired = sum(1 for t in transitions if t.new_state == "ALARM")
    recovered = sum(1 for t in transitions if t.old_state == "ALARM" and t.new_state == "OK")
    parts = [
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
        f'<div class="kpi"><b>{len(slack_messages)}</b><span>Slack messages</span></div>',
        "</div>",
    ]
    src = _image_src(dashboard_png)
    if src:
        parts += [
            "<h2>Dashboard</h2>",
            f'<a href="{_e(src)}"><img class="dashboard" src="{_e(src)}" '
            'alt="gatewatch dashboard: requests, errors by category, latency, alarms"></a>',
        ]
    for api in report.apis:
        parts.append(_stage_html(api))
    parts.append(_alarms_html(transitions))
    parts.append(f"<h2>Slack messages ({len(slack_messages)})</h2>")
    if not slack_messages:
        parts.append('<p class="muted">No Slack message was sent.</p>')
    for i, payload in enumerate(slack_messages, 1):
        parts.append(f'<h3 class="muted">#{i}</h3>')
        parts.append(render_slack_html(payload) if isinstance(payload, Mapping) else f"<pre>{_e(payload)}</pre>")
    parts.append(_inputs_html(report))
    parts.append("</main></body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path


__all__ = [
    "FAMILY_COLOURS",
    "STATE_COLOURS",
    "AlarmPeriod",
    "alarm_periods",
    "family_of",
    "mrkdwn_to_html",
    "render_dashboard_png",
    "render_html_report",
    "render_slack_html",
    "safe_url",
]

"""The demo's dashboard PNG: the CloudWatch dashboard's widgets, drawn from the metrics the demo extracted.

Why a PNG at all: moto stores metrics but has no dashboards, so a newcomer running `make demo` would
never see what the stack's dashboard shows during an incident. `render_dashboard_png` draws the same
widgets as `stacks/constructs/dashboard.py` (requests and error rate, errors by category, causes,
429 quota vs throttle, near-timeouts, latency percentiles, integration vs gateway overhead, top
failing routes, alarm status) from the metrics the demo extracted from the analyzer's EMF output.

matplotlib is imported only while a dashboard is drawn, so the engine and the Lambda bundle never
load it. It draws on a `Figure` with the Agg canvas directly — no pyplot, hence no GUI backend, no
global figure registry and nothing left behind between renders. Names chosen by a caller (routes,
alarms, categories) are drawn with mathtext off, so a `$` in them is shown, not parsed.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gatewatch.classify.taxonomy import ErrorCategory, Family
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
from gatewatch.naming import alarm_name, dashboard_name
from gatewatch_demo.alarms import AlarmTransition
from gatewatch_demo.metrics import MINUTE_MS, MetricStore
from gatewatch_demo.palette import FAMILY_COLOURS, GREY, STATE_COLOURS, family_of

if TYPE_CHECKING:  # matplotlib is imported only while drawing; the report module only for its types
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.dates import DateFormatter
    from matplotlib.figure import Figure
    from matplotlib.legend import Legend
    from matplotlib.typing import RcKeyType

    from gatewatch_cli.report import RouteLine

_FAMILY_CMAPS = {
    Family.CONFIG.value: "Reds",
    Family.BACKEND.value: "Oranges",
    Family.CAPACITY.value: "Purples",
    Family.CLIENT.value: "Blues",
}
#: Bottom to top in the stacked charts: what the API's owner must fix first sits at the bottom.
_FAMILY_ORDER = (Family.CONFIG.value, Family.BACKEND.value, Family.CAPACITY.value, Family.CLIENT.value)
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

_DPI = 100
_FIG_WIDTH_IN = 16.0
_MARGIN_IN = 0.18
_GAP_IN = 0.16
_TITLE_BAND_IN = 0.58
_HEADER_IN = 0.95
_ROW_IN = (3.9, 3.4, 3.6)  # the three rows of charts
_MIN_BOTTOM_IN = 3.6  # the bottom row: routes table and alarm status

_RC: dict[RcKeyType, Any] = {
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

#: One line of a latency chart: metric, statistic, label, colour, line style.
_LatencyLine = tuple[str, str, str, str, str]
_LATENCY_LINES: tuple[_LatencyLine, ...] = (
    (METRIC_LATENCY, "p50", "Latency p50", "#2ca02c", "-"),
    (METRIC_LATENCY, "p90", "Latency p90", "#1f77b4", "-"),
    (METRIC_LATENCY, "p99", "Latency p99", "#9467bd", "-"),
)
_SPLIT_LINES: tuple[_LatencyLine, ...] = (
    (METRIC_INTEGRATION_LATENCY, "p50", "Integration p50", FAMILY_COLOURS["backend"], "-"),
    (METRIC_INTEGRATION_LATENCY, "p90", "Integration p90", "#a84300", "-"),
    (METRIC_GATEWAY_OVERHEAD, "p50", "Gateway overhead p50", "#17becf", "-"),
    (METRIC_GATEWAY_OVERHEAD, "p90", "Gateway overhead p90", "#0b7285", "--"),
)


def _utc(ms: int, fmt: str) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime(fmt)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------------------
# Alarm periods
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


def _alarm_key(name: str, api: str, stage: str) -> str:
    """What an alarm watches ("5xx-rate"), from its name `gatewatch-{api}-{stage}-{key}` (the name otherwise)."""
    prefix = alarm_name(api, stage, "x")[:-1]
    return name[len(prefix) :] if name.startswith(prefix) else name


@dataclass(frozen=True)
class _AlarmBoard:
    """The alarms on the dashboard: each one's periods, what it watches (its key) and its row label."""

    listed: int  # how many alarms the caller named (or, naming none, that changed state)
    periods: dict[str, list[AlarmPeriod]]
    keys: dict[str, str]
    labels: dict[str, str]


def _alarm_board(
    transitions: Sequence[AlarmTransition], alarm_names: Sequence[str], api: str, stage: str, start_ms: int
) -> _AlarmBoard:
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
    return _AlarmBoard(len(names), periods, keys, labels)


# ---------------------------------------------------------------------------------------------------
# Time axis and metric reads
# ---------------------------------------------------------------------------------------------------


def _time_span(store: MetricStore, transitions: Sequence[AlarmTransition]) -> tuple[int, int, int]:
    """First minute, end of the data and end of the view (a recovery may come after the last data point)."""
    span = store.time_range()
    if span is None:
        times = [t.time_ms for t in transitions]
        start_ms = (min(times) if times else 0) // MINUTE_MS * MINUTE_MS
        span = (start_ms, (max(times) if times else start_ms) + MINUTE_MS)
    start_ms, end_ms = span
    return start_ms, end_ms, max([end_ms] + [t.time_ms for t in transitions])


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

    def categories(self, metric: str) -> set[str]:
        return self.store.dimension_values(self.namespace, metric, DIM_CATEGORY, **self.dims)


# ---------------------------------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Panel:
    """Where one widget sits, in inches from the top-left corner of the figure."""

    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class _Layout:
    """The cards of the dashboard and the figure's height, in inches."""

    height: float
    requests: _Panel
    by_category: _Panel
    causes: _Panel
    quota: _Panel
    near_timeout: _Panel
    latency: _Panel
    split: _Panel
    routes: _Panel
    alarms: _Panel


def _layout(alarm_rows: int, route_rows: int) -> _Layout:
    """Four rows of cards below the header: 2 charts, 3 charts, 2 charts, then the routes table and alarm status."""
    inner = _FIG_WIDTH_IN - 2 * _MARGIN_IN
    half = (inner - _GAP_IN) / 2
    third = (inner - 2 * _GAP_IN) / 3
    alarm_h = 1.15 + 0.32 * max(1, alarm_rows)
    table_h = 1.0 + 0.3 * max(1, min(MAX_TABLE_ROUTES, route_rows))
    bottom_h = max(alarm_h, table_h, _MIN_BOTTOM_IN)
    tops = [_MARGIN_IN + _HEADER_IN]
    for h in _ROW_IN:
        tops.append(tops[-1] + (h + _GAP_IN))

    def halves(row: int, h: float) -> tuple[_Panel, _Panel]:
        return _Panel(_MARGIN_IN, tops[row], half, h), _Panel(_MARGIN_IN + half + _GAP_IN, tops[row], half, h)

    requests, by_category = halves(0, _ROW_IN[0])
    causes, quota, near = (_Panel(_MARGIN_IN + i * (third + _GAP_IN), tops[1], third, _ROW_IN[1]) for i in range(3))
    latency, split = halves(2, _ROW_IN[2])
    routes, alarms = halves(3, bottom_h)
    height = tops[3] + bottom_h + _MARGIN_IN
    return _Layout(height, requests, by_category, causes, quota, near, latency, split, routes, alarms)


# ---------------------------------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------------------------------


def _nan(values: list[float | None]) -> list[float]:
    return [math.nan if v is None else v for v in values]


def _ms_label(v: float, _pos: Any = None) -> str:
    if v >= 1000:
        return f"{v / 1000:g} s"
    return f"{v:g} ms"


def _empty(ax: Axes, what: str = "no data") -> None:
    ax.text(0.5, 0.5, what, transform=ax.transAxes, ha="center", va="center", color=GREY, fontsize=10)


def _legend(ax: Axes, handles: Sequence[Artist], labels: Sequence[str], **where: Any) -> Legend:
    """A legend whose labels are shown literally (a `$` in a name must not start mathtext)."""
    leg = ax.legend(handles, labels, **{"fontsize": 8, "frameon": False, "handlelength": 1.6, **where})
    for text in leg.get_texts():
        text.set_parse_math(False)
    return leg


def _legend_below(ax: Axes, ncol: int = 3) -> Legend:
    handles, labels = ax.get_legend_handles_labels()
    return _legend(ax, handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=ncol)


class _Dashboard:
    """One figure being drawn: its cards, the shared minute axis and the alarms that shade the charts."""

    def __init__(
        self, fig: Figure, layout: _Layout, mins: _Minutes, board: _AlarmBoard, start_ms: int, view_end_ms: int
    ) -> None:
        from matplotlib import dates as mdates

        self.fig, self.layout, self.mins, self.board = fig, layout, mins, board
        self.start_ms, self.view_end_ms = start_ms, view_end_ms
        self.x = [mdates.date2num(datetime.fromtimestamp(m / 1000, tz=UTC)) for m in mins.starts]
        self.x_lo = mdates.date2num(datetime.fromtimestamp(start_ms / 1000, tz=UTC))
        self.x_hi = mdates.date2num(datetime.fromtimestamp(view_end_ms / 1000, tz=UTC))
        self.hhmm: DateFormatter = mdates.DateFormatter("%H:%M", tz=UTC)

    # ---- geometry ---------------------------------------------------------------------------------

    def xnum(self, ms: int) -> float:
        return float(self.x_lo + (ms - self.start_ms) / 86_400_000)

    def to_fig(self, px: float, py: float) -> tuple[float, float]:
        return px / _FIG_WIDTH_IN, 1 - py / self.layout.height

    def axes_in(
        self,
        p: _Panel,
        *,
        left: float = 0.62,
        right: float = 0.22,
        top: float = _TITLE_BAND_IN + 0.08,
        bottom: float = 0.38,
    ) -> Axes:
        x0, y0 = self.to_fig(p.x + left, p.y + p.h - bottom)
        return self.fig.add_axes(
            (x0, y0, (p.w - left - right) / _FIG_WIDTH_IN, (p.h - top - bottom) / self.layout.height)
        )

    # ---- furniture --------------------------------------------------------------------------------

    def card(self, p: _Panel, title: str, note: str = "", key: Sequence[tuple[str, str]] = ()) -> None:
        """The white card behind a widget, its title, an optional red note and a colour key on the right."""
        from matplotlib.patches import FancyBboxPatch

        fig = self.fig
        x0, y0 = self.to_fig(p.x, p.y + p.h)
        fig.patches.append(
            FancyBboxPatch(
                (x0, y0),
                p.w / _FIG_WIDTH_IN,
                p.h / self.layout.height,
                boxstyle="round,pad=0,rounding_size=0.004",
                transform=fig.transFigure,
                facecolor="white",
                edgecolor="#d5dbdb",
                linewidth=0.8,
                zorder=-10,
            )
        )
        tx, ty = self.to_fig(p.x + 0.14, p.y + 0.24)
        fig.text(tx, ty, title, fontsize=11.5, fontweight="bold", color="#16191f", parse_math=False)
        if note:
            nx, ny = self.to_fig(p.x + 0.14, p.y + 0.45)
            fig.text(nx, ny, note, fontsize=8, color=_ALARM_SHADE, parse_math=False)
        kx = p.x + p.w - 0.14
        for label, colour in reversed(key):
            fx, fy = self.to_fig(kx, p.y + 0.24)
            fig.text(fx, fy, label, fontsize=8.5, color="#545b64", ha="right")
            sx, sy = self.to_fig(kx - 0.075 * len(label) - 0.06, p.y + 0.24)
            fig.text(sx, sy, "■", fontsize=10, color=colour, ha="right")
            kx -= 0.075 * len(label) + 0.38

    def time_axis(self, ax: Axes) -> None:
        """The minute axis every chart shares: HH:MM ticks at a step that fits the chart's width."""
        from matplotlib import dates as mdates

        ax.set_xlim(self.x_lo, self.x_hi)
        span_min = (self.view_end_ms - self.start_ms) / MINUTE_MS
        max_ticks = max(3, int(ax.get_position().width * _FIG_WIDTH_IN / 0.8))  # ~0.8 in per HH:MM label
        step = next((s for s in (1, 2, 5, 10, 15, 30) if span_min / s <= max_ticks), None)
        if step is None:
            ax.xaxis.set_major_locator(mdates.AutoDateLocator(tz=UTC, maxticks=max_ticks))
        else:
            ax.xaxis.set_major_locator(mdates.MinuteLocator(byminute=range(0, 60, step), tz=UTC))
        ax.xaxis.set_major_formatter(self.hhmm)
        ax.grid(True, axis="y", color="#e9ebed", linewidth=0.8)
        ax.grid(True, axis="x", color="#f4f5f6", linewidth=0.6)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        for side in ("left", "bottom"):
            ax.spines[side].set_color("#aab7b8")

    def chart(self, p: _Panel, **margins: float) -> Axes:
        """Axes for a time chart in panel `p`."""
        ax = self.axes_in(p, **margins)
        self.time_axis(ax)
        return ax

    def period_end(self, period: AlarmPeriod) -> int:
        return period.end_ms if period.end_ms is not None else self.view_end_ms

    def shade(self, ax: Axes, wanted: Iterable[str]) -> str:
        """Shade the ALARM periods of the alarms whose key is in `wanted`; returns the card's note."""
        wanted = set(wanted)
        keys = self.board.keys
        shown: list[str] = []
        for name, periods in self.board.periods.items():
            if keys[name] not in wanted:
                continue
            for p in periods:
                if p.state != "ALARM":
                    continue
                ax.axvspan(
                    self.xnum(p.start_ms),
                    self.xnum(self.period_end(p)),
                    color=_ALARM_SHADE,
                    alpha=0.09,
                    linewidth=0,
                    zorder=0,
                )
                if keys[name] not in shown:
                    shown.append(keys[name])
        return ("shaded: ALARM of " + ", ".join(shown)) if shown else ""

    def stacked(
        self,
        ax: Axes,
        series: Sequence[tuple[str, list[float]]],
        colours: Mapping[str, str],
        *,
        what: str = "no errors",
        keep_empty: bool = False,
    ) -> None:
        """A stacked area per category, the largest family at the bottom, with a legend (top first) beside it."""
        from matplotlib.ticker import MaxNLocator

        shown = [(c, s) for c, s in series if keep_empty or any(s)]
        if not any(any(s) for _, s in shown):
            _empty(ax, what)
            ax.set_ylim(0, 1)
            ax.yaxis.set_major_locator(MaxNLocator(2, integer=True))
            if not keep_empty:
                return
        labels = [f"{c}  ({sum(s):,.0f})" for c, s in shown]
        ax.stackplot(
            self.x,
            *[s for _, s in shown],
            labels=labels,
            colors=[_series_colour(colours, c) for c, _ in shown],
            edgecolor="white",
            linewidth=0.4,
        )
        tops = [sum(vals) for vals in zip(*[s for _, s in shown], strict=False)] if shown else [0]
        ax.set_ylim(0, max([1.0] + tops) * 1.1)
        ax.yaxis.set_major_locator(MaxNLocator(5, integer=True))
        handles, labs = ax.get_legend_handles_labels()
        _legend(
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

    # ---- the widgets, top to bottom ---------------------------------------------------------------

    def header(self, api: str, stage: str, namespace: str, totals: Mapping[str, float], fired: int) -> None:
        """Title, time range and the four headline numbers: requests, 4xx rate, 5xx rate, alarms fired."""
        fig = self.fig
        hx, hy = self.to_fig(_MARGIN_IN + 0.05, _MARGIN_IN + 0.42)
        fig.text(
            hx, hy, f"gatewatch · {api} / {stage}", fontsize=19, fontweight="bold", color="#16191f", parse_math=False
        )
        sx, sy = self.to_fig(_MARGIN_IN + 0.05, _MARGIN_IN + 0.78)
        fig.text(
            sx,
            sy,
            f"{_utc(self.start_ms, '%Y-%m-%d %H:%M')}–{_utc(self.view_end_ms, '%H:%M')} UTC · 1-minute periods · "
            f"namespace {namespace} · widgets as on the CloudWatch dashboard "
            f"{dashboard_name(api)}",
            fontsize=9.5,
            color="#545b64",
            parse_math=False,
        )
        total = totals[METRIC_REQUESTS]
        rate = (lambda n: f"{100 * n / total:.1f}%") if total else (lambda n: "—")
        kpis = [
            ("requests", f"{total:,.0f}", "#16191f"),
            ("4xx rate", rate(totals[METRIC_ERRORS_4XX]), FAMILY_COLOURS["client"]),
            ("5xx rate", rate(totals[METRIC_ERRORS_5XX]), FAMILY_COLOURS["config"]),
            ("alarms fired", f"{fired}", STATE_COLOURS["ALARM"] if fired else STATE_COLOURS["OK"]),
        ]
        kx = _FIG_WIDTH_IN - _MARGIN_IN - 0.05
        for label, value, colour in reversed(kpis):
            vx, vy = self.to_fig(kx, _MARGIN_IN + 0.45)
            fig.text(vx, vy, value, fontsize=17, fontweight="bold", color=colour, ha="right")
            lx, ly = self.to_fig(kx, _MARGIN_IN + 0.78)
            fig.text(lx, ly, label, fontsize=8.5, color="#545b64", ha="right")
            kx -= 1.45

    def requests_panel(self, requests: list[float], e4: list[float], e5: list[float]) -> None:
        """Requests per minute (left axis) with the 4xx and 5xx rates in percent (right axis)."""
        from matplotlib.ticker import MaxNLocator

        p = self.layout.requests
        ax = self.chart(p, right=0.62, bottom=0.62)
        ax.plot(self.x, requests, color="#1f77b4", linewidth=1.7, label="Requests")
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_locator(MaxNLocator(5, integer=True))
        ax.set_ylabel("Count", fontsize=8, color="#545b64")
        rax = ax.twinx()
        rax.set_xlim(self.x_lo, self.x_hi)
        rates5 = [100 * b / r if r else 0.0 for b, r in zip(e5, requests, strict=False)]
        rates4 = [100 * b / r if r else 0.0 for b, r in zip(e4, requests, strict=False)]
        rax.plot(self.x, rates5, color=FAMILY_COLOURS["config"], linewidth=1.4, label="5xx rate (%)")
        rax.plot(self.x, rates4, color="#e6a100", linewidth=1.4, label="4xx rate (%)")
        rax.set_ylim(0, max([5.0] + rates5 + rates4) * 1.12)
        rax.set_ylabel("%", fontsize=8, color="#545b64")
        for side in ("top", "left"):
            rax.spines[side].set_visible(False)
        rax.spines["right"].set_color("#aab7b8")
        note = self.shade(ax, _RATE_KEYS | {"requests-anomaly", "5xx-anomaly"})
        handles = [*ax.get_lines(), *rax.get_lines()]
        _legend(
            ax, handles, [str(h.get_label()) for h in handles], loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3
        )
        self.card(p, "Requests and error rate", note)

    def category_panels(self) -> dict[str, str]:
        """Errors by category and causes (execution logs), stacked; returns the category colours for later widgets."""
        mins = self.mins
        cats = _stack_categories(mins, METRIC_ERRORS)
        causes = _stack_categories(mins, METRIC_CAUSES)
        colours = _category_colours(mins.categories(METRIC_ERRORS) | mins.categories(METRIC_CAUSES) | _QUOTA_KEYS)
        family_key = tuple((f, FAMILY_COLOURS[f]) for f in _FAMILY_ORDER)
        ax = self.chart(self.layout.by_category, right=2.25)
        self.stacked(ax, cats, colours)
        self.card(
            self.layout.by_category, "Errors by category", self.shade(ax, _RATE_KEYS | _CATEGORY_KEYS), family_key
        )
        ax = self.chart(self.layout.causes, right=1.85)
        self.stacked(ax, causes, colours, what="no execution-log causes")
        self.card(self.layout.causes, "Causes (execution logs)")
        return colours

    def quota_panel(self, colours: Mapping[str, str]) -> None:
        """The three kinds of 429 (and the backend's throttles), always all three in the legend."""
        ax = self.chart(self.layout.quota, right=1.65)
        quota = [
            (c, self.mins.counts(METRIC_ERRORS, **{DIM_CATEGORY: c}))
            for c in (
                ErrorCategory.QUOTA_EXCEEDED.value,
                ErrorCategory.THROTTLED.value,
                ErrorCategory.BACKEND_THROTTLED.value,
            )
        ]
        self.stacked(ax, quota, colours, keep_empty=True)
        self.card(self.layout.quota, "429: quota vs throttle", self.shade(ax, _QUOTA_KEYS))

    def near_timeout_panel(self) -> None:
        from matplotlib.ticker import MaxNLocator

        p = self.layout.near_timeout
        ax = self.chart(p, right=0.25)
        near = self.mins.counts(METRIC_NEAR_TIMEOUT)
        ax.bar(self.x, near, width=0.8 / 1440, align="edge", color=FAMILY_COLOURS["backend"], label="Near-timeouts")
        ax.set_ylim(0, max([1.0] + near) * 1.15)
        ax.yaxis.set_major_locator(MaxNLocator(4, integer=True))
        if not any(near):
            _empty(ax, "no request near the integration timeout")
        self.card(p, "Near-timeouts (≥ 90% of the integration timeout)", self.shade(ax, {"near-timeout"}))

    def latency_panel(
        self, p: _Panel, lines: Sequence[_LatencyLine], title: str, keys: set[str], timeout_ms: int | None
    ) -> None:
        """Percentile lines on a log scale (1 ms floor), with the integration timeout as a dashed line if given."""
        from matplotlib.ticker import FuncFormatter

        ax = self.chart(p, left=0.72, bottom=0.62)
        plotted: list[float] = []
        for metric, statistic, label, colour, style in lines:
            values = [max(v, 1.0) if v is not None else None for v in self.mins.series(metric, statistic)]
            if any(v is not None for v in values):
                ax.plot(self.x, _nan(values), color=colour, linewidth=1.5, linestyle=style, label=label)
                plotted.extend(v for v in values if v is not None)
        if not plotted:
            _empty(ax, "latency not logged")
            self.card(p, title)
            return
        ax.set_yscale("log")
        top = max(plotted)
        if timeout_ms is not None:
            ax.axhline(
                timeout_ms,
                color="#545b64",
                linewidth=1,
                linestyle=(0, (4, 3)),
                label=f"integration timeout ({timeout_ms / 1000:g} s)",
            )
            top = max(top, timeout_ms)
        ax.set_ylim(max(1.0, min(plotted) / 1.6), top * 1.8)
        ax.yaxis.set_major_formatter(FuncFormatter(_ms_label))
        _legend_below(ax, ncol=5)
        self.card(p, title, self.shade(ax, keys))

    def routes_panel(self, routes: Sequence[RouteLine], colours: Mapping[str, str]) -> None:
        p = self.layout.routes
        ax = self.axes_in(p, left=0.14, right=0.14, bottom=0.12)
        ax.set_axis_off()
        _route_table(ax, routes[:MAX_TABLE_ROUTES], colours)
        self.card(p, "Top failing routes")

    def alarms_panel(self, api: str, stage: str) -> None:
        """One row per alarm: its OK / ALARM periods as coloured bars and its last state at the right."""
        p = self.layout.alarms
        ax = self.chart(p, left=2.8, right=0.95, bottom=0.42)
        ax.grid(False, axis="y")
        ax.spines["left"].set_visible(False)
        ax.tick_params(axis="y", length=0)
        order = list(self.board.periods)
        for row, name in enumerate(order):
            self.alarm_row(ax, name, len(order) - 1 - row, len(order))
        ax.set_ylim(-0.6, max(1, len(order)) - 0.4)
        ax.set_yticks(range(len(order)))
        ax.set_yticklabels([_shorten(self.board.labels[n], 40) for n in reversed(order)], fontsize=8.5)
        for label in ax.get_yticklabels():
            label.set_parse_math(False)
        if not order:
            _empty(ax, "no alarms")
        self.card(p, f"Alarms of {api} / {stage}", key=(("OK", STATE_COLOURS["OK"]), ("ALARM", STATE_COLOURS["ALARM"])))

    def alarm_row(self, ax: Axes, name: str, yrow: int, rows: int) -> None:
        periods = self.board.periods[name]
        for period in periods:
            x0 = self.xnum(period.start_ms)
            x1 = self.xnum(self.period_end(period))
            ax.broken_barh(
                [(x0, max(x1 - x0, 1e-9))],
                (yrow - 0.34, 0.68),
                facecolors=STATE_COLOURS.get(period.state, GREY),
                linewidth=0,
            )
        last = periods[-1].state
        ax.text(
            1.02,
            (yrow + 0.5) / max(1, rows),
            last,
            transform=ax.transAxes,
            va="center",
            ha="left",
            fontsize=8.5,
            fontweight="bold",
            color=STATE_COLOURS.get(last, GREY),
        )


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
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    transitions = _for_stage(transitions, api, stage)
    start_ms, end_ms, view_end_ms = _time_span(store, transitions)
    mins = _Minutes(store, namespace, api, stage, start_ms, end_ms)
    board = _alarm_board(transitions, alarm_names, api, stage, start_ms)
    layout = _layout(board.listed, len(top_routes))

    with warnings.catch_warnings(), matplotlib.rc_context(_RC):
        warnings.simplefilter("ignore")  # missing glyphs in a caller's route name must not spam the demo
        fig = Figure(figsize=(_FIG_WIDTH_IN, layout.height), dpi=_DPI, facecolor="#eef0f1")
        FigureCanvasAgg(fig)
        dash = _Dashboard(fig, layout, mins, board, start_ms, view_end_ms)
        requests = mins.counts(METRIC_REQUESTS)
        e4, e5 = mins.counts(METRIC_ERRORS_4XX), mins.counts(METRIC_ERRORS_5XX)
        totals = {METRIC_REQUESTS: sum(requests), METRIC_ERRORS_4XX: sum(e4), METRIC_ERRORS_5XX: sum(e5)}
        dash.header(api, stage, namespace, totals, sum(1 for t in transitions if t.new_state == "ALARM"))
        dash.requests_panel(requests, e4, e5)
        colours = dash.category_panels()
        dash.quota_panel(colours)
        dash.near_timeout_panel()
        dash.latency_panel(
            layout.latency, _LATENCY_LINES, "Latency p50 / p90 / p99", {"p90-latency"}, integration_timeout_ms
        )
        dash.latency_panel(
            layout.split, _SPLIT_LINES, "Integration latency vs gateway overhead", {"p90-integration-latency"}, None
        )
        dash.routes_panel(top_routes, colours)
        dash.alarms_panel(api, stage)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png", dpi=_DPI, facecolor=fig.get_facecolor(), metadata={"Software": None})
    return path


# ---------------------------------------------------------------------------------------------------
# Categories, colours and the routes table
# ---------------------------------------------------------------------------------------------------


def _stack_categories(mins: _Minutes, metric: str) -> list[tuple[str, list[float]]]:
    """Every Category of `metric` (the SEARCH of the dashboard), ordered by family then volume; folded if many."""
    series = [(c, mins.counts(metric, **{DIM_CATEGORY: c})) for c in sorted(mins.categories(metric))]
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


def _family_of_label(label: str) -> str:
    if label.startswith("other "):
        return label.split(" ")[1]
    return family_of(label)


def _category_colours(categories: set[str]) -> dict[str, str]:
    """A shade of the family's colour per category; categories of one family spread over its colour map."""
    import matplotlib
    from matplotlib.colors import to_hex

    by_family: dict[str, list[str]] = {}
    for c in sorted(categories):
        by_family.setdefault(family_of(c), []).append(c)
    out: dict[str, str] = {}
    for fam, members in by_family.items():
        cmap_name = _FAMILY_CMAPS.get(fam)
        if cmap_name is None:
            out.update(dict.fromkeys(members, GREY))
            continue
        cmap = matplotlib.colormaps[cmap_name]
        n = len(members)
        for i, c in enumerate(members):
            out[c] = to_hex(cmap(0.92 - 0.42 * (i / (n - 1)) if n > 1 else 0.75))
        out[f"other {fam}"] = to_hex(cmap(0.3))
    return out


def _series_colour(colours: Mapping[str, str], label: str) -> str:
    """A category's colour; a folded "other <family> (n)" series takes its family's "other" shade."""
    return colours.get(label) or colours.get(" ".join(label.split(" ")[:2]), GREY)


def _route_table(ax: Axes, routes: Sequence[RouteLine], colours: Mapping[str, str]) -> None:
    """The Logs Insights table widget, drawn as text rows: route, requests, errors, error rate, top category."""
    if not routes:
        ax.text(0.5, 0.5, "no failing route", transform=ax.transAxes, ha="center", va="center", color=GREY)
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
            color=colours.get(cat) or FAMILY_COLOURS.get(family_of(cat), GREY),
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)


__all__ = [
    "MAX_ROUTE_CHARS",
    "MAX_STACKED_SERIES",
    "MAX_TABLE_ROUTES",
    "AlarmPeriod",
    "alarm_periods",
    "render_dashboard_png",
]

"""The demo's dashboard PNG and HTML report: what a newcomer opens after `make demo`.

The inputs are real: simulated access and execution lines go through `LogAnalyzer`, the analyzer's
metric aggregation and the EMF writer into a `MetricStore` (as the demo does), and the report comes
from `build_report` over the same analysis. One request on a route named by an attacker rides along.
"""

from __future__ import annotations

import copy
import dataclasses
import html
import json
import re
import struct
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gatewatch.classify.taxonomy import CATEGORY_TABLE, ErrorCategory
from gatewatch.config import EngineConfig
from gatewatch.constants import DIM_API, DIM_CATEGORY, DIM_STAGE, METRIC_ERRORS
from gatewatch.metrics.aggregate import aggregate
from gatewatch.metrics.emf import EmfWriter
from gatewatch.models import LogBatch, LogEvent, LogKind
from gatewatch.naming import alarm_name
from gatewatch.notify.slack_blocks import escape_slack
from gatewatch.pipeline import LogAnalyzer
from gatewatch_cli.report import RouteLine, build_report
from gatewatch_demo import simulate as sim
from gatewatch_demo.alarms import AlarmTransition
from gatewatch_demo.dashboard_png import alarm_periods, render_dashboard_png
from gatewatch_demo.html_report import render_html_report
from gatewatch_demo.metrics import MINUTE_MS, MetricStore
from gatewatch_demo.palette import STATE_COLOURS
from gatewatch_demo.slack_html import mrkdwn_to_html
from tests.helpers import ROOT

C = ErrorCategory
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
START = sim.DEFAULT_START_MS
MINUTES = 30
API_ID, STAGE = "k7x2m9qp4a", "prod"
HOSTILE = "<script>alert(1)</script>"
HOSTILE_ROUTE_PATH = f"/{HOSTILE}/<!channel>"

EPISODES = (
    sim.Episode("throttling-burst", C.THROTTLED, 4, 2, 30, "POST /v1/quotes"),
    sim.Episode("bad-deploy", C.MALFORMED_RESPONSE, 10, 4, 6, "POST /orders", takeover=True),
    sim.Episode("quota-hit", C.QUOTA_EXCEEDED, 16, 2, 8, "POST /v1/quotes"),
)
DRIFTS = (sim.LatencyDrift("POST /payments", 18, 6, 27_500.0),)


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


@dataclasses.dataclass
class Demo:
    store: MetricStore
    report: object
    transitions: list[AlarmTransition]
    alarm_names: list[str]
    slack: list[dict]


def _transition(key: str, old: str, new: str, minute: int, value: float | None) -> AlarmTransition:
    return AlarmTransition(
        alarm_name(API_ID, STAGE, key),
        key,
        API_ID,
        STAGE,
        old,
        new,
        START + minute * MINUTE_MS,
        f"Threshold Crossed: test ({old} -> {new})",
        value,
    )


@pytest.fixture(scope="module")
def demo() -> Demo:
    # GIVEN half an hour of simulated traffic: a throttling burst, a bad deploy, a quota hit and a
    # backend drifting towards the integration timeout — plus one failing request on a hostile route
    traffic = sim.TrafficSimulator(11, api_id=API_ID, stage=STAGE)
    requests = traffic.hour(start_ms=START, rate_per_minute=30, minutes=MINUTES, episodes=EPISODES, drifts=DRIFTS)
    hostile = next(r for r in requests if r.category is C.MALFORMED_RESPONSE)
    requests.append(dataclasses.replace(hostile, resource=HOSTILE_ROUTE_PATH, request_id="hostile-1"))
    by_minute: dict[int, list] = defaultdict(list)
    for r in requests:
        by_minute[r.timestamp_ms // MINUTE_MS].append(r)
    store, writer, whole = MetricStore(), EmfWriter(), LogAnalyzer(EngineConfig())
    for minute in sorted(by_minute):
        access = tuple(LogEvent(sim.render_access(r, "json-camel"), r.timestamp_ms) for r in by_minute[minute])
        execution = tuple(LogEvent(m, ts) for r in by_minute[minute] for ts, m in sim.execution_events(r))
        one = LogAnalyzer(EngineConfig())
        for analyzer in (one, whole):
            analyzer.add_batch(LogBatch(access, log_group="/shop/access", origin="subscription", kind=LogKind.ACCESS))
            analyzer.add_batch(
                LogBatch(
                    execution,
                    log_group=sim.execution_log_group(API_ID, STAGE),
                    origin="subscription",
                    kind=LogKind.EXECUTION,
                )
            )
        # the analyzer's EMF output, extracted as CloudWatch would
        for doc in writer.documents(aggregate(one.finish(drain_incomplete=True)), now_ms=(minute + 1) * MINUTE_MS):
            store.add_emf(doc)
    # and a category only the PNG sees, straight from add_value, with a name no taxonomy knows
    store.add_value(
        "Gatewatch",
        METRIC_ERRORS,
        {DIM_API: API_ID, DIM_STAGE: STAGE, DIM_CATEGORY: "$\\frac{1}{0$"},
        START + 20 * MINUTE_MS,
        3,
    )
    report = build_report(whole.finish(drain_incomplete=True))
    transitions = [
        _transition("THROTTLED", "OK", "ALARM", 5, 31.0),
        _transition("THROTTLED", "ALARM", "OK", 7, 0.0),
        _transition("5xx-rate", "OK", "ALARM", 13, 21.5),
        _transition("5xx-rate", "ALARM", "OK", 15, 0.0),
        _transition("near-timeout", "OK", "ALARM", 22, 4.0),  # never recovers: still in ALARM at the end
    ]
    names = [alarm_name(API_ID, STAGE, k) for k in ("5xx-rate", "4xx-rate", "near-timeout", "THROTTLED")]
    slack = [json.loads((ROOT / "tests" / "snapshots" / "slack" / "analyzer_backend.json").read_text())]
    return Demo(store, report, transitions, names, slack)


def _render_png(demo: Demo, path: Path, **overrides) -> bytes:
    args = dict(
        namespace="Gatewatch",
        api=API_ID,
        stage=STAGE,
        transitions=demo.transitions,
        top_routes=demo.report.apis[0].top_failing_routes,
        alarm_names=demo.alarm_names,
    )
    args.update(overrides)
    out = render_dashboard_png(demo.store, path, **args)
    assert out == path
    return path.read_bytes()


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


# ---------------------------------------------------------------------------------------------------
# The dashboard PNG
# ---------------------------------------------------------------------------------------------------


def test_dashboard_png_is_a_full_size_png_and_the_same_bytes_every_time(demo, tmp_path):
    # WHEN the dashboard is rendered twice from the same metrics
    first = _render_png(demo, tmp_path / "a" / "dashboard.png")
    second = _render_png(demo, tmp_path / "b" / "dashboard.png")
    # THEN it is a PNG of about 1600 x 1800 pixels with real content, and byte-identical both times
    assert first.startswith(PNG_SIGNATURE)
    width, height = _png_size(first)
    assert width == 1600 and 1400 <= height <= 2000
    assert 100_000 < len(first) < 3_000_000
    assert first == second
    assert b"Matplotlib" not in first  # no software/version stamp that would change the bytes on upgrade


@pytest.fixture
def drawn(monkeypatch) -> list[list[tuple[str, bool]]]:
    """The text each dashboard drawn in the test put on the picture: (text, parsed as mathtext?) per text artist.

    It watches the real Figure.savefig and reads the figure after the PNG is written; nothing is drawn differently.
    """
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    figures: list[list[tuple[str, bool]]] = []
    real_savefig = Figure.savefig

    def savefig(self, *args, **kwargs):
        real_savefig(self, *args, **kwargs)
        figures.append(
            [(t.get_text(), t.get_parse_math()) for t in self.findobj(Text) if t.get_visible() and t.get_text()]
        )

    monkeypatch.setattr(Figure, "savefig", savefig)
    return figures


def _rgb(path: Path):
    """The PNG decoded by matplotlib, as 8-bit RGB rows (top first), and checked to be opaque."""
    from matplotlib.image import imread

    pixels = imread(path)
    assert pixels.shape[2] == 4 and pixels[..., 3].min() == 1.0
    return (pixels[..., :3] * 255).round().astype("uint8")


def _count(rgb, colour: str) -> int:
    """How many pixels are exactly `colour` ("#rrggbb")."""
    wanted = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    return int((rgb == wanted).all(axis=-1).sum())


def _alarm_status_area(rgb):
    """The lower part of the bottom-right card: the alarm status bars, below the card's title and colour key."""
    height, width = rgb.shape[:2]
    return rgb[int(0.8 * height) :, width // 2 :]


def test_dashboard_png_shows_hostile_names_literally_and_alarms_without_transitions_as_ok(demo, tmp_path, drawn):
    # GIVEN routes and alarm names a caller controls, with mathtext and markup in them
    route = f"GET /$\\frac{{1}}{{0$/{HOSTILE}"
    alarm = f"{HOSTILE}-$x_"
    routes = [
        RouteLine(route, 10, 9, "NOT_A_CATEGORY"),
        RouteLine("POST /orders", 50, 20, C.MALFORMED_RESPONSE.value),
    ]
    _render_png(demo, tmp_path / "plain.png")
    # WHEN the dashboard is drawn with them, and without any alarm transition
    _render_png(demo, tmp_path / "hostile.png", top_routes=routes, transitions=[], alarm_names=[alarm])
    texts = dict(drawn[-1])
    # THEN the route, its category and the alarm's name are drawn as given, never parsed as mathtext
    assert texts[route] is False and texts[alarm] is False
    assert "NOT_A_CATEGORY" in texts and C.MALFORMED_RESPONSE.value in texts
    # the category only the store knows, in the legend of errors by category
    assert [t for t, _ in drawn[-1] if t.startswith("$\\frac{1}{0$")] == ["$\\frac{1}{0$  (3)"]
    assert not [t for t, math in drawn[-1] if "$" in t and math]
    # AND the one alarm is OK for the whole time: a green bar and no red in the alarm status, where the normal
    # dashboard (with the fixture's transitions) shows its ALARM periods in red
    hostile, plain = _rgb(tmp_path / "hostile.png"), _rgb(tmp_path / "plain.png")
    assert hostile.shape == (_png_size((tmp_path / "hostile.png").read_bytes())[1], 1600, 3)
    assert _count(_alarm_status_area(hostile), STATE_COLOURS["OK"]) > 40_000
    assert _count(_alarm_status_area(hostile), STATE_COLOURS["ALARM"]) == 0
    assert _count(_alarm_status_area(plain), STATE_COLOURS["ALARM"]) > 3_000
    # and its state at the right of its row reads OK (besides the card's OK / ALARM colour key)
    shown = [t for t, _ in drawn[-1]]
    assert (shown.count("OK"), shown.count("ALARM")) == (2, 1)


def test_dashboard_png_without_any_metric_shows_every_widget_empty(tmp_path, drawn):
    # GIVEN an empty store (the demo produced no traffic) WHEN the dashboard is drawn
    path = render_dashboard_png(
        MetricStore(),
        tmp_path / "empty.png",
        namespace="Gatewatch",
        api="a",
        stage="s",
        transitions=[],
        top_routes=[],
        alarm_names=[],
    )
    # THEN it is a full-width picture whose every widget says it has nothing to show, not a blank page
    width, height = _png_size(path.read_bytes())
    assert width == 1600 and 1400 <= height <= 2000
    texts = [t for t, _ in drawn[-1]]
    for placeholder in (
        "no errors",
        "no execution-log causes",
        "no request near the integration timeout",
        "no failing route",
        "no alarms",
    ):
        assert placeholder in texts, placeholder
    assert texts.count("latency not logged") == 2
    # AND the headline reads 0 requests, no rates and 0 alarms fired
    assert {"gatewatch · a / s", "0", "—", "requests", "alarms fired"} <= set(texts)
    # AND the picture is the grey page with white cards, with no alarm bar in the alarm status
    rgb = _rgb(path)
    assert rgb.shape == (height, width, 3)
    assert _count(rgb, "#ffffff") > 0.5 * width * height and _count(rgb, "#eef0f1") > 0.1 * width * height
    status = _alarm_status_area(rgb)
    assert _count(status, STATE_COLOURS["OK"]) == 0 and _count(status, STATE_COLOURS["ALARM"]) == 0


def test_the_engine_never_imports_matplotlib():
    # WHEN the handler-side modules and the demo's picture modules are imported in a fresh interpreter
    code = (
        "import sys; import gatewatch.pipeline, gatewatch_cli.report; "
        "import gatewatch_demo.dashboard_png, gatewatch_demo.html_report, gatewatch_demo.slack_html; "
        "print('matplotlib' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": f"{ROOT / 'functions'}:{ROOT}", "PATH": "/usr/bin:/bin"},
    )
    # THEN matplotlib is not loaded: only render_dashboard_png imports it
    assert out.stdout.strip() == "False"


def test_alarm_periods_follow_the_transitions_and_stay_open_at_the_end():
    # GIVEN an alarm that fired, recovered and fired again
    ts = [
        _transition("5xx-rate", "OK", "ALARM", 3, 9.0),
        _transition("5xx-rate", "ALARM", "OK", 6, 0.0),
        _transition("5xx-rate", "OK", "ALARM", 9, 8.0),
        _transition("THROTTLED", "OK", "ALARM", 1, 40.0),
    ]
    # WHEN its periods are computed from the start of the data
    periods = alarm_periods(ts, alarm_name(API_ID, STAGE, "5xx-rate"), START)
    # THEN it was OK, then ALARM, OK again and is still in ALARM at the end (other alarms ignored)
    assert [(p.state, p.start_ms, p.end_ms) for p in periods] == [
        ("OK", START, ts[0].time_ms),
        ("ALARM", ts[0].time_ms, ts[1].time_ms),
        ("OK", ts[1].time_ms, ts[2].time_ms),
        ("ALARM", ts[2].time_ms, None),
    ]
    # and an alarm that never changed state is OK throughout
    assert [(p.state, p.end_ms) for p in alarm_periods(ts, "never-fired", START)] == [("OK", None)]


# ---------------------------------------------------------------------------------------------------
# The HTML report
# ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report_html(demo, tmp_path_factory) -> str:
    hostile_slack = copy.deepcopy(demo.slack[0])
    hostile_slack["attachments"][0]["blocks"].insert(
        0,
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": (
                    f"raw {HOSTILE} and <!channel>; as the notifier escapes them: {escape_slack(HOSTILE + ' <!channel>')}"
                    " <javascript:alert(1)|click me> <https://example.com/a?b=1&amp;c=2|the docs> _em_ ~gone~"
                ),
            },
        },
    )
    hostile_slack["blocks"][0]["text"]["text"] = f"header {HOSTILE}"
    path = tmp_path_factory.mktemp("html") / "report.html"
    out = render_html_report(
        demo.report,
        path,
        dashboard_png="dashboard.png",
        transitions=demo.transitions,
        slack_messages=[demo.slack[0], hostile_slack],
        title="gatewatch demo",
    )
    assert out == path
    return path.read_text(encoding="utf-8")


def test_html_report_carries_the_categories_their_fixes_and_the_dashboard(demo, report_html):
    # GIVEN the report of the half hour WHEN it is rendered as HTML
    stage = demo.report.apis[0]
    found = {c.category for c in stage.by_category}
    # THEN every category found is listed with its title, retry advice and the fix text from the taxonomy
    assert {C.THROTTLED.value, C.MALFORMED_RESPONSE.value, C.QUOTA_EXCEEDED.value} <= found
    for category in found:
        info = CATEGORY_TABLE[ErrorCategory(category)]
        assert html.escape(category) in report_html
        assert html.escape(info.fix) in report_html
        assert html.escape(info.title) in report_html
    # sample request ids to look up, and the top failing routes
    assert stage.by_category[0].samples[0] in report_html
    assert html.escape(stage.top_failing_routes[0].route) in report_html
    # headline numbers and the dashboard image, linked by its relative file name
    assert f"{demo.report.total_requests:,}" in report_html
    assert re.search(r'<img [^>]*src="dashboard.png"', report_html)
    assert "p90" in report_html and "Near timeouts" in report_html


def test_html_report_shows_when_each_alarm_fired_and_recovered(demo, report_html):
    # THEN each alarm appears with its fired and recovered times in UTC
    fired = {t.alarm_name: t for t in demo.transitions if t.new_state == "ALARM"}
    for t in demo.transitions:
        assert f"{_utc(t.time_ms)}" in report_html
    assert html.escape(fired[alarm_name(API_ID, STAGE, "THROTTLED")].alarm_name) in report_html
    # and the alarm that never recovered is called out
    assert "still in ALARM" in report_html


def test_html_report_renders_slack_block_kit_readably(demo, report_html):
    # THEN the Slack message's header, its mrkdwn (bold, code) and its buttons are readable HTML
    header = demo.slack[0]["blocks"][0]["text"]["text"]
    assert html.escape(header) in report_html
    assert "<strong>What it means</strong>" in report_html
    assert "<code>MALFORMED_RESPONSE</code>" in report_html
    assert re.search(
        r'<a class="button" href="https://[^"]+dashboard/gatewatch-orders"[^>]*>Dashboard</a>', report_html
    )
    # colour bar taken from the attachment
    assert demo.slack[0]["attachments"][0]["color"].lower() in report_html.lower()


def test_html_report_escapes_everything_a_caller_controls(demo, report_html):
    # GIVEN the hostile route made it through the engine into the report, unchanged
    route = next(r.route for r in demo.report.apis[0].top_failing_routes if HOSTILE_ROUTE_PATH in r.route)
    # THEN it and the hostile Slack texts appear only escaped: no tag, no mention, no link
    assert "<script" not in report_html.lower()
    assert "<!channel>" not in report_html
    assert html.escape(HOSTILE) in report_html  # &lt;script&gt;alert(1)&lt;/script&gt;
    assert f"<code>{html.escape(route)}</code>" in report_html  # the route, in the routes table
    assert "&lt;!channel&gt;" in report_html  # what the notifier sent as literal text stays literal
    # links only for http(s): the javascript: one is shown as text, the https one is a link
    assert 'href="javascript' not in report_html.lower()
    assert '<a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer nofollow">the docs</a>' in report_html
    # and no external asset is loaded: every src is the relative dashboard file
    assert set(re.findall(r'src="([^"]*)"', report_html)) == {"dashboard.png"}
    assert "<link" not in report_html and "@import" not in report_html


@pytest.mark.parametrize(
    ("mrkdwn", "expected"),
    [
        ("*bold* and `x < y`", "<strong>bold</strong> and <code>x &lt; y</code>"),
        (
            "*7 failed with `MALFORMED_RESPONSE`* now",
            "<strong>7 failed with <code>MALFORMED_RESPONSE</code></strong> now",
        ),
        (
            "<https://a.example/x|docs &amp; more>",
            '<a href="https://a.example/x" rel="noopener noreferrer nofollow">docs &amp; more</a>',
        ),
        ("<ftp://a.example/x|files>", "&lt;ftp://a.example/x|files&gt;"),
        ("snake_case_name stays", "snake_case_name stays"),
        ("a &lt;b&gt; &amp;&amp; c", "a &lt;b&gt; &amp;&amp; c"),
        ("line one\nline two", "line one<br>\nline two"),
        ("<!here> look", '<span class="mention">@here</span> look'),
        ("\x00" + "1\x00 placeholder", "1 placeholder"),
    ],
)
def test_mrkdwn_to_html_converts_markup_and_escapes_the_rest(mrkdwn, expected):
    assert mrkdwn_to_html(mrkdwn) == expected

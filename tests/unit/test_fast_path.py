"""The analyzer's metrics-only fast path (keep_successes=False) must give exactly the metrics of the full path."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatewatch.config import load_engine_config
from gatewatch.metrics.aggregate import aggregate
from gatewatch.models import AccessSummary, LogBatch, LogEvent, LogKind
from gatewatch.parse.access import parse_access_line, parse_access_line_or_summary
from gatewatch.parse.layouts import forget_layouts, layouts_for
from gatewatch.pipeline import LogAnalyzer
from gatewatch_demo import simulate as sim
from tests.helpers import access_corpus_lines

GROUP = "/aws/apigateway/shop"
CONFIG = load_engine_config(
    '{"k7x2m9qp4a": {"name": "shop", "integrationTimeoutMs": 20000, "accessLogGroup": "/aws/apigateway/shop"}}'
)


def _odd_values(line: str) -> str:
    """The same layout with values the fast path's inline conversions refuse or must treat with care."""
    obj = json.loads(line)
    for key in obj:
        low = key.lower()
        if "latency" in low:
            obj[key] = {"responseLatency": "\u00b2", "integrationLatency": "NaN"}.get(key, "9" * 400)
        elif low.endswith("status") and "integration" not in low:
            obj[key] = "\uff12\uff10\uff10"  # fullwidth "200": a digit string int() reads
    return json.dumps(obj)


def _lines(style: str) -> list[str]:
    reqs = list(sim.demo_hour(seed=11, rate_per_minute=25))
    rendered = [sim.render_access_json(r, style) for r in reqs]
    return rendered + [_odd_values(line) for line in rendered[-5:]] + access_corpus_lines() + ["{broken", "\x00\x01"]


def _metrics(lines: list[str], keep_successes: bool):
    forget_layouts()  # both ways start from a new environment's state (layouts are learned, see layouts.py)
    analyzer = LogAnalyzer(CONFIG, keep_successes=keep_successes)
    events = tuple(LogEvent(m, 1764075600000 + i, str(i)) for i, m in enumerate(lines))
    for start in range(0, len(events), 500):  # several deliveries, as the Lambda sees them
        analyzer.add_batch(LogBatch(events[start : start + 500], log_group=GROUP, kind=LogKind.UNKNOWN))
    analysis = analyzer.finish(drain_incomplete=False)
    docs = {
        doc.dimensions: (doc.counts, {k: sorted(v) for k, v in doc.distributions.items()})
        for doc in aggregate(analysis, CONFIG).documents
    }
    return analysis, docs


@pytest.mark.parametrize("style", ["camel", "dotted", "snake"])
def test_fast_path_metrics_equal_the_full_path(style):
    # GIVEN realistic traffic (every category) plus the real corpus and garbage, in each JSON naming style
    lines = _lines(style)
    # WHEN analysed with and without the fast path
    full, full_docs = _metrics(lines, keep_successes=True)
    fast, fast_docs = _metrics(lines, keep_successes=False)
    # THEN every EMF document carries the same counts and the same latency values
    assert fast_docs == full_docs
    assert fast.lines_parsed == full.lines_parsed and fast.lines_unparsed == full.lines_unparsed
    # AND the failed requests are classified in full either way (alerts, Causes and evidence need them)
    assert [(r.request_id, r.category, r.evidence) for r in fast.access if r.category.value != "OK"] == [
        (r.request_id, r.category, r.evidence) for r in full.access if r.category.value != "OK"
    ]
    # AND every success is counted once: tallied, or (an odd value the tables do not cover) read in full
    tallied = sum(t.requests for t in fast.successes.values())
    read_in_full = sum(1 for r in fast.access if r.category.value == "OK")
    assert tallied + read_in_full == sum(1 for r in full.access if r.category.value == "OK")
    assert read_in_full <= 5  # only the lines with odd values (_odd_values) leave the fast path


def test_only_successful_json_lines_take_the_fast_path():
    ok = '{"requestId":"r1","httpMethod":"GET","resourcePath":"/a","status":"200","responseLatency":"12"}'
    assert isinstance(parse_access_line_or_summary(ok), AccessSummary)
    for line in (
        '{"requestId":"r1","status":"502"}',
        '{"requestId":"r1","status":"-"}',
        '{"requestId":"r1","status":"2OO"}',
        '1.2.3.4 - - [24/Jan/2023:17:52:06 +0000] "GET /a HTTP/1.1" 200 35 x',
        '{"requestId":"r1","status":"200"',
        '{"error": {"message": "x"}, "status": "200"}',
    ):
        assert parse_access_line_or_summary(line) == parse_access_line(line)


def test_a_delivery_that_mixes_formats_gives_the_full_path_metrics():
    # GIVEN one delivery whose lines switch between naming styles, and a format with a key renamed
    # (same key count, so the layout's compiled loop meets a line that lacks one of its keys)
    reqs = list(sim.demo_hour(seed=5, rate_per_minute=10))[:300]
    styles = ("camel", "snake", "dotted")
    lines = [sim.render_access_json(r, styles[(i // 40) % 3]) for i, r in enumerate(reqs)]
    renamed = [line.replace('"resourcePath"', '"resourcePathX"', 1) for line in lines[:40]]
    lines = lines[:120] + renamed + lines[120:]
    # WHEN analysed with and without the fast path  THEN the metrics are identical
    assert _metrics(lines, keep_successes=False)[1] == _metrics(lines, keep_successes=True)[1]


def _reads_typed(line: str) -> bool:
    """Does this line's layout read its lines with the typed decoder (a clean quote count learned)?"""
    layout = layouts_for(CONFIG.field_map or None, GROUP).layout_for(json.loads(line))
    return layout.summary_decoder is not None and layout.quotes == line.count('"')


def _line(request_id: str, status: str, user_agent: str) -> str:
    """An access line as API Gateway writes it: values pasted into the format text, nothing escaped."""
    return (
        '{"requestId":"'
        + request_id
        + '","status":"'
        + status
        + '","userAgent":"'
        + user_agent
        + '","httpMethod":"GET","resourcePath":"/orders","responseLatency":"12","integrationLatency":"9"}'
    )


def test_crafted_user_agents_cannot_swallow_another_request_line():
    # GIVEN a 502 between lines whose user agents open an array around it and close it one line later,
    # plus a line that splits in two: joined into one JSON array, the four lines still parse as four
    # values, the 502 hidden inside the first (the delivery was once parsed that way)
    lines = [
        _line("attacker-1", "200", 'x","userAgent":[{"b":"'),
        _line("victim", "502", "okhttp/4.12.0"),
        _line("attacker-2", "200", 'y"}]},{"z":"'),
        _line("attacker-3", "200", 'w"},{"q":"'),
    ]
    assert len(json.loads("[" + ",".join(lines) + "]")) == len(lines)
    # WHEN the delivery goes through the metrics-only fast path
    analysis, docs = _metrics(lines, keep_successes=False)
    # THEN the victim's request is read from its own line and counted as the 5xx it was
    assert [(r.request_id, r.status) for r in analysis.access if r.status == 502] == [("victim", 502)]
    counts, _latencies = next(v for dims, v in docs.items() if [name for name, _ in dims] == ["Api", "Stage"])
    assert counts["Requests"] == 4 and counts["Errors5xx"] == 1
    assert docs == _metrics(lines, keep_successes=True)[1]


@pytest.mark.parametrize(
    "value",
    [
        "0",
        "1",
        "true",
        "false",
        "-5",
        "1.5",
        "1e3",
        "12",
        "null",
        '"12"',
        '"-"',
        '""',
        '" 12"',
        '"0012"',
        "1e400",
        "123456789012345678901234567890",
        '"１２"',
    ],
)
def test_unquoted_and_odd_latency_values_give_the_full_path_metrics(value):
    # GIVEN a format that writes latencies unquoted ($context.responseLatency without quotes), where a
    # JSON true equals 1 as a dict key, and odd values next to ordinary lines of the same layout
    template = (
        '{{"requestId":"r{i}","status":"200","httpMethod":"GET","resourcePath":"/a",'
        '"responseLatency":{rl},"integrationLatency":{il}}}'
    )
    lines = [
        template.format(i=i, rl=v, il=w)
        for i, (v, w) in enumerate(
            [("1", "1"), ("12", "0"), (value, "3")] * 10
            + [("20", value), (value, value), ("true", "1"), ("1", "true")] * 5
        )
    ]
    # WHEN analysed with and without the fast path  THEN the metrics are identical
    assert _metrics(lines, keep_successes=False)[1] == _metrics(lines, keep_successes=True)[1]


@pytest.mark.parametrize(
    "status",
    ["200", "399", "400", "100", "099", '" 200"', "200.0", "true", "1", "2e2", '"２００"', "null", '"-"', '"600"'],
)
def test_odd_status_values_give_the_full_path_metrics(status):
    other = '"200"'
    lines = [
        f'{{"requestId":"r{i}","status":{status if i % 3 == 0 else other},"httpMethod":"GET",'
        '"resourcePath":"/a","responseLatency":"5"}'
        for i in range(40)
    ]
    assert _metrics(lines, keep_successes=False)[1] == _metrics(lines, keep_successes=True)[1]


@pytest.mark.parametrize(
    "route_fields",
    [
        "",
        '"routeKey":"GET /pets",',
        '"resourcePath":"/pets","httpMethod":"GET",',
        '"apiId":"k7x2m9qp4a","stage":"prod","routeKey":"$default","httpMethod":"POST",',
    ],
)
def test_layouts_with_few_or_many_route_fields_give_the_full_path_metrics(route_fields):
    # GIVEN formats that carry no route field, one, or several (HTTP APIs log a route key only)
    lines = [
        f'{{"requestId":"r{i}",{route_fields}"status":"{"200" if i % 4 else "502"}","responseLatency":"{i}"}}'
        for i in range(60)
    ]
    # WHEN analysed with and without the fast path
    fast_docs = _metrics(lines, keep_successes=False)[1]
    # THEN the fast path's typed decoder took the lines (it learned the layout's clean quote count)
    assert _reads_typed(lines[1])
    # AND the metrics are identical
    assert fast_docs == _metrics(lines, keep_successes=True)[1]


def test_a_line_the_typed_decoder_cannot_read_is_counted_once():
    # GIVEN a layout whose eighth success carries a method the generic rules read as absent but the
    # typed decoder refuses (a list)
    template = (
        '{"requestId":"r%d","status":"200","httpMethod":%s,"resourcePath":"/a","responseLatency":"7","checkedOn":1}'
    )
    lines = (
        [template % (i, '"GET"') for i in range(7)]
        + [template % (7, "[1]")]
        + [template % (i, '"GET"') for i in range(8, 20)]
    )
    # WHEN analysed with and without the fast path  THEN the metrics are identical (the line is counted
    # once, by the full path), and the typed decoder reads the other lines
    fast_docs = _metrics(lines, keep_successes=False)[1]
    assert _reads_typed(lines[0])
    assert fast_docs == _metrics(lines, keep_successes=True)[1]
    assert sum(counts["Requests"] for dims, (counts, _) in fast_docs.items() if len(dims) == 2) == 20


# -- property: any values, any layouts, the same metrics ---------------------------------------------

_KEYS = [
    "requestId",
    "status",
    "httpMethod",
    "resourcePath",
    "routeKey",
    "apiId",
    "stage",
    "responseLatency",
    "integrationLatency",
    "integration.latency",
    "integration_latency",
    "authorizer.latency",
    "latency",
    "error.responseType",
    "errorMessage",
    "integrationStatus",
    "integration.status",
    "Status",
    "userAgent",
    "x",
    "integration",
    "$context",
    "error",
    "user",
]  # the last four may hold objects that flatten into aliases
_PLAIN = st.sampled_from(["200", "204", "302", "12", "350", "GET", "/pets", "prod"])  # what most lines carry
_VALUES = st.one_of(
    _PLAIN,
    _PLAIN,
    _PLAIN,
    _PLAIN,
    st.sampled_from(
        [
            "200",
            "204",
            "302",
            "404",
            "502",
            "-",
            "",
            "0",
            "1",
            "12",
            "0012",
            "29000",
            " 200",
            "2e2",
            "GET",
            "/pets",
            "$default",
            "prod",
            "NaN",
            "-5",
            "1.5",
            "\uff12\uff10\uff10",
            "9" * 40,
        ]
    ),
    st.integers(min_value=-5, max_value=30_000),
    st.sampled_from([True, False, None, 1.0, 0.0, -0.0, 200.0, 1e300]),
    st.sampled_from(
        [
            {"nested": "1"},
            {"latency": "50"},
            {"status": "502"},
            {"responseLatency": "9", "stage": "b"},
            {"message": "x"},
            {"agent": "curl"},
        ]
    ),
    st.just([1]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    layouts=st.lists(st.lists(st.sampled_from(_KEYS), min_size=1, max_size=8, unique=True), min_size=1, max_size=3),
    data=st.data(),
)
def test_any_values_in_any_layouts_give_the_full_path_metrics(layouts, data):
    # GIVEN runs of lines in one to three key layouts (long enough for their generated loops), any values
    lines = []
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        keys = data.draw(st.sampled_from(layouts))
        for _ in range(data.draw(st.integers(min_value=1, max_value=24))):
            lines.append(json.dumps({k: data.draw(_VALUES) for k in keys}))
    # WHEN analysed with and without the fast path  THEN the metrics are identical
    assert _metrics(lines, keep_successes=False)[1] == _metrics(lines, keep_successes=True)[1]

"""The traffic simulator: deterministic, well-formed lines, every category, and a round trip through the engine.

The round trip is the point: for every category, a simulated request rendered in every format that
can carry its evidence must come back from `LogAnalyzer` as that category.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import itertools
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter

import pytest

from gatewatch.classify.taxonomy import ErrorCategory, fallback_category
from gatewatch.config import EngineConfig
from gatewatch.ingest.lambda_events import decode_subscription_data
from gatewatch.models import LatencyClass, LogBatch, LogEvent, LogKind
from gatewatch.pipeline import LogAnalyzer, analyze
from gatewatch_cli.inputs import iter_input_batches
from gatewatch_demo import simulate as sim
from tests.helpers import ROOT

C = ErrorCategory
ALL = frozenset(ErrorCategory)

# The reference's CLF regex for the HTTP API format ending in integrationErrorMessage (§6).
CLF_HTTP = re.compile(
    r'^(?P<ip>\S+) - - \[(?P<time>[^\]]+)\] "(?P<method>\S+) (?P<route>.*?) (?P<proto>HTTP/[\d.]+)" '
    r"(?P<status>\d{3}) (?P<len>\d+|-) (?P<rid>\S+)(?: (?P<integration_error>.*))?$"
)
REQUEST_TIME = re.compile(r"^\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000$")
PREFIX = re.compile(r"^\(([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})\) ")

# Every execution-log message shape the renderer may use: the reference §3.3 catalogue, verbatim starts.
DOCUMENTED_STARTS = (
    "Extended Request Id: ",
    "Verifying Usage Plan for request: ",
    "API Key authorized because method '",
    "Usage Plan check succeeded for API Key",
    "Key throttle limit exceeded for RestApi ",
    "Starting authorizer: ",
    "Successfully completed authorizer execution",
    "Unauthorized request: ",
    "Authorizer result body before parsing: ",
    "AuthorizerConfigurationException",
    "Starting execution for request: ",
    "HTTP Method: ",
    "Endpoint request URI: ",
    "Sending request to ",
    "Received response. Status: ",
    "Successfully completed execution",
    "Method completed with status: ",
    "AWS Integration Endpoint RequestId : ",
    "Lambda execution failed with status 200 due to customer function error: ",
    "Lambda invocation failed with status: 429. Lambda request id: ",
    "Execution failed due to configuration error: Rate Exceeded.",
    "Execution failed due to configuration error: Malformed Lambda proxy response",
    "Execution failed due to configuration error: Invalid permissions on Lambda function",
    "Execution failed due to configuration error: Could not parse policy",
    "Execution failed due to configuration error: Output mapping refers to an invalid method response: ",
    "Execution failed due to configuration error: Host name '",
    "Execution failed due to a timeout error",
)
API_KEY_DENIED = re.compile(
    r"^API Key \*{34}\w{6} not authorized because method '[A-Z]+ \S+' requires API Key and "
    r"API Key is not associated with a Usage Plan for API Stage \w+/\w+: API Stage is not in a Usage Plan$"
)


def _load_generator():
    spec = importlib.util.spec_from_file_location("generate_samples", ROOT / "tools" / "generate_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _every_rendering(requests) -> bytes:
    out = io.StringIO()
    for req in requests:
        for fmt in ("json-camel", "json-dotted", "json-snake", "clf", "csv", "xml"):
            out.write(sim.render_access(req, fmt) + "\n")
        for ts, line in sim.execution_events(req):
            out.write(f"{ts} {line}\n")
    return out.getvalue().encode()


def _classify(req: sim.SimulatedRequest, fmt: str):
    """What the engine says about one simulated request rendered in `fmt`."""
    analyzer = LogAnalyzer(EngineConfig())
    if fmt == "execution":
        events = tuple(LogEvent(message, ts) for ts, message in sim.execution_events(req))
        analyzer.add_batch(
            LogBatch(
                events,
                log_group=sim.execution_log_group(req.api_id, req.stage),
                origin="subscription",
                kind=LogKind.EXECUTION,
            )
        )
        return analyzer.finish(drain_incomplete=True).execution
    line = sim.render_access(req, fmt)
    analyzer.add_batch(
        LogBatch(
            (LogEvent(line, req.timestamp_ms),), log_group="/shop/access", origin="subscription", kind=LogKind.ACCESS
        )
    )
    return analyzer.finish(drain_incomplete=True).access


# ---------------------------------------------------------------------------------------------------
# Determinism
# ---------------------------------------------------------------------------------------------------


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not():
    # GIVEN two simulators with the same seed and one with another
    first = _every_rendering(sim.demo_hour(seed=3, rate_per_minute=10))
    again = _every_rendering(sim.demo_hour(seed=3, rate_per_minute=10))
    other = _every_rendering(sim.demo_hour(seed=4, rate_per_minute=10))
    # THEN the same seed renders byte-identical logs, and a new seed renders different ones
    assert first == again
    assert first != other


def test_payload_envelopes_are_deterministic_and_decode_back_to_the_same_messages():
    # GIVEN the execution events of some simulated requests, packed as CloudWatch delivers them
    events = [e for r in sim.demo_hour(seed=5, rate_per_minute=5) for e in sim.execution_events(r)][:500]
    payload = sim.subscription_payload(sim.execution_log_group("k7x2m9qp4a", "prod"), events)
    envelope = sim.subscription_event(payload)
    # WHEN it is encoded twice and decoded by the engine
    assert sim.subscription_event(payload) == envelope
    batches = list(decode_subscription_data(envelope["awslogs"]["data"]))
    # THEN the messages and timestamps come back unchanged, and the group marks them as execution logs
    assert len(batches) == 1 and isinstance(batches[0], LogBatch)
    assert [(e.timestamp, e.message) for e in batches[0].events] == events
    assert batches[0].kind is LogKind.EXECUTION


def test_build_payloads_respects_the_putlogevents_byte_and_count_limits():
    events = [(sim.DEFAULT_START_MS + i, "x" * 1000) for i in range(3000)]
    payloads = sim.build_payloads("g", events, max_bytes=100_000, max_events=80)
    assert sum(len(p["logEvents"]) for p in payloads) == 3000
    for p in payloads:
        assert len(p["logEvents"]) <= 80
        assert sum(len(e["message"]) + 26 for e in p["logEvents"]) <= 100_000
    ids = [e["id"] for p in payloads for e in p["logEvents"]]
    assert len(set(ids)) == len(ids) and all(len(i) == 56 and i.isdigit() for i in ids)


# ---------------------------------------------------------------------------------------------------
# Coverage and realism
# ---------------------------------------------------------------------------------------------------


def test_the_samples_generator_covers_every_category_with_mostly_successful_traffic():
    # GIVEN the request sets the samples are rendered from
    sets = _load_generator()._sample_sets()
    requests = [r for _, _, reqs in sets for r in reqs]
    # THEN every category of the taxonomy is among the true causes, at realistic volumes
    assert {r.category for r in requests} == ALL
    assert 2_000 <= len(requests) <= 6_000
    ok = sum(1 for r in requests if r.category is C.OK)
    assert ok / len(requests) > 0.8
    for name, _, reqs in sets:
        assert [r.timestamp_ms for r in reqs] == sorted(r.timestamp_ms for r in reqs), name


def test_the_committed_samples_show_every_category_to_a_new_user():
    # GIVEN the committed samples read the way `gatewatch analyze samples/` reads them
    seen: Counter = Counter()
    for path in sorted((ROOT / "samples").iterdir()):
        if path.suffix in (".jsonl", ".log", ".json"):
            analysis = analyze(iter_input_batches(path.read_bytes(), name=path.name))
            # THEN nothing is unreadable
            assert not analysis.rejections, (path.name, analysis.rejections[:3])
            seen.update(c.category for c in analysis.access + analysis.execution)
    # AND every category is reported at least once
    assert set(seen) == ALL, sorted(c.value for c in ALL - set(seen))


def test_demo_hour_times_each_incident_at_its_own_minutes():
    requests = list(sim.demo_hour(seed=11))
    start = sim.DEFAULT_START_MS
    assert [r.timestamp_ms for r in requests] == sorted(r.timestamp_ms for r in requests)
    assert all(start <= r.timestamp_ms < start + 3_600_000 for r in requests)
    noise = {C.OK, C.NOT_FOUND, C.BAD_REQUEST, C.UNAUTHORIZED, C.CLIENT_ERROR_OTHER, C.CONFLICT, C.INTERNAL_ERROR}
    for episode in sim.DEMO_EPISODES:
        if episode.category in noise:
            continue
        minutes = {(r.timestamp_ms - start) // 60_000 for r in requests if r.category is episode.category}
        windows = {
            m for e in sim.DEMO_EPISODES if e.category is episode.category for m in range(e.start_minute, e.end_minute)
        }
        assert minutes and minutes <= windows, (episode.name, sorted(minutes))
    # the big incidents do not overlap each other
    big = [e for e in sim.DEMO_EPISODES if e.name in ("throttling-burst", "bad-deploy", "slow-backend-timeouts")]
    spans = sorted((e.start_minute, e.end_minute) for e in big)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))


def test_the_slow_backend_drifts_through_slow_and_near_timeout_before_it_times_out():
    requests = [r for r in sim.demo_hour(seed=11) if r.route == "POST /payments" and r.integration_latency_ms]
    first_timeout = min(r.timestamp_ms for r in requests if r.category is C.INTEGRATION_TIMEOUT)
    before = [r.integration_latency_ms for r in requests if r.timestamp_ms < first_timeout and r.category is C.OK]
    assert any(2_000 < ms < 26_100 for ms in before)  # SLOW
    assert any(26_100 <= ms < 29_000 for ms in before)  # NEAR_TIMEOUT, still answered
    early = [
        ms
        for r, ms in ((r, r.integration_latency_ms) for r in requests)
        if r.timestamp_ms < sim.DEFAULT_START_MS + 30 * 60_000
    ]
    assert sorted(early)[len(early) // 2] < 1_000  # before the drift the median is normal


def test_normal_traffic_has_a_latency_tail():
    ok = [r.integration_latency_ms for r in sim.demo_hour(seed=11) if r.category is C.OK and r.route == "GET /products"]
    ok.sort()
    p50, p99 = ok[len(ok) // 2], ok[int(len(ok) * 0.99)]
    assert p50 < 100 and p99 > 4 * p50


def test_http_api_traffic_has_no_rest_only_categories():
    requests = list(sim.demo_hour(seed=2, api_kind="HTTP", rate_per_minute=20))
    categories = {r.category for r in requests}
    assert not categories & sim.HTTP_API_UNSUPPORTED
    assert {C.THROTTLED, C.INTEGRATION_PERMISSION, C.NOT_FOUND} <= categories
    assert all(sim.render_execution_lines(r) == [] for r in requests)  # HTTP APIs write no execution logs


# ---------------------------------------------------------------------------------------------------
# Well-formed lines
# ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hour():
    return list(sim.demo_hour(seed=9, rate_per_minute=8)) + list(
        sim.demo_hour(seed=9, rate_per_minute=8, api_kind="HTTP", stage="$default")
    )


@pytest.mark.parametrize(
    "style,keys",
    [
        (
            "camel",
            (
                "errorResponseType",
                "errorMessage",
                "integrationErrorMessage",
                "integrationStatus",
                "integrationLatency",
                "responseLatency",
            ),
        ),
        (
            "dotted",
            (
                "error.responseType",
                "error.message",
                "integration.error",
                "integration.status",
                "integration.latency",
                "responseLatency",
            ),
        ),
        (
            "snake",
            (
                "error_responseType",
                "error_message",
                "integration_error",
                "integration_status",
                "integration_latency",
                "responseLatency",
            ),
        ),
    ],
)
def test_json_lines_are_valid_json_with_the_style_names(hour, style, keys):
    for req in hour:
        obj = json.loads(sim.render_access_json(req, style))
        assert all(k in obj for k in keys)
        assert all(isinstance(v, str) and v != "" for v in obj.values())  # unset is "-", never empty
        assert obj["status"] == str(req.status) and REQUEST_TIME.match(obj["requestTime"])
        assert obj.get("resourcePath", obj.get("routeKey")) == (
            (req.resource if req.api_kind == "REST" else req.route_key) or "-"
        )
        if req.category is C.OK:
            assert obj[keys[0]] == "-" and obj[keys[2]] == "-"


def test_clf_lines_match_the_http_api_format(hour):
    for req in hour:
        m = CLF_HTTP.match(sim.render_access_clf(req))
        assert m, sim.render_access_clf(req)
        assert int(m["status"]) == req.status and m["rid"] == req.request_id
        assert m["integration_error"] == (req.integration_error or "-")
        if req.resource:
            assert m["route"] == f"{req.method} {req.resource}"  # routeKey repeats the method (corpus A18)


def test_csv_and_xml_lines_follow_the_console_defaults(hour):
    for req in hour:
        row = next(csv.reader([sim.render_access_csv(req)]))
        assert len(row) == (11 if req.api_kind == "REST" else 8)
        assert row[7 if req.api_kind == "REST" else 5] == str(req.status)
        element = ET.fromstring(sim.render_access_xml(req))
        assert element.tag == "request" and element.get("id") == req.request_id
        assert element.findtext("status") == str(req.status)


def test_execution_lines_use_only_documented_shapes_in_order(hour):
    for req in hour:
        lines = sim.render_execution_lines(req)
        if req.api_kind == "HTTP" or req.category in (C.WAF_BLOCKED, C.MISSING_AUTH_TOKEN):
            assert lines == []
            continue
        assert lines, req.category
        texts = []
        for line in lines:
            m = PREFIX.match(line)
            assert m and m.group(1) == req.request_id, line
            texts.append(line[m.end() :])
        for text in texts:
            assert text.startswith(DOCUMENTED_STARTS) or API_KEY_DENIED.match(text), text
        assert texts[0] == f"Extended Request Id: {req.extended_request_id}"
        completed = [t for t in texts if t.startswith("Method completed with status: ")]
        if req.category in (C.UNAUTHORIZED, C.AUTHORIZER_ERROR):
            assert completed == []  # as in the corpus: the authorizer's failure ends the log
        else:
            assert completed == [f"Method completed with status: {req.status}"]
        if "Sending request to" in "".join(texts):
            assert texts.index(next(t for t in texts if t.startswith("Endpoint request URI"))) < texts.index(
                next(t for t in texts if t.startswith("Sending request to"))
            )


def test_execution_timestamps_span_the_integration_latency():
    req = sim.example_request(C.LAMBDA_TIMEOUT)
    events = sim.execution_events(req)
    assert [ts for ts, _ in events] == sorted(ts for ts, _ in events)
    assert events[-1][0] - events[0][0] == req.response_latency_ms >= 10_000


# ---------------------------------------------------------------------------------------------------
# Round trip: simulate -> render -> engine -> the same category
# ---------------------------------------------------------------------------------------------------

ROUND_TRIP_CASES = [
    pytest.param(kind, category, fmt, id=f"{kind}-{category.value}-{fmt}")
    for kind in ("REST", "HTTP")
    for category in ErrorCategory
    for fmt in sorted(sim.evidence_formats(category, kind))
]


def test_every_category_has_at_least_one_format_that_carries_it():
    carried = {c for c in ErrorCategory if sim.evidence_formats(c, "REST")}
    assert carried == ALL
    # and the hard cases need more than a status: the status-only formats must not claim them
    for category in (C.QUOTA_EXCEEDED, C.MISSING_AUTH_TOKEN, C.BACKEND_THROTTLED, C.TLS_ERROR, C.LAMBDA_TIMEOUT):
        assert not {"csv", "xml"} & sim.evidence_formats(category, "REST")


@pytest.mark.parametrize("kind,category,fmt", ROUND_TRIP_CASES)
def test_the_engine_classifies_a_simulated_request_back_to_its_true_cause(kind, category, fmt):
    # GIVEN a request that failed for `category`, rendered as API Gateway would log it in `fmt`
    req = sim.example_request(category, kind)
    # WHEN the engine reads it
    classified = _classify(req, fmt)
    # THEN it names the same cause, for the same request, status and route
    assert len(classified) == 1
    got = classified[0]
    assert got.category is category, got.evidence
    assert got.request_id == req.request_id
    if got.status is not None:
        assert got.status == req.status
    if fmt != "execution" and req.resource:
        assert got.route == req.route


def test_status_only_formats_fall_back_to_the_status_category_for_the_rest():
    # GIVEN a request whose cause the console CSV format cannot carry
    for category in ErrorCategory:
        if "csv" in sim.evidence_formats(category, "REST"):
            continue
        req = sim.example_request(category, "REST")
        got = _classify(req, "csv")
        # THEN the engine says what the status alone says, not something invented
        assert [c.category for c in got] == [fallback_category(req.status)], category


def test_latency_classes_of_the_drift_reach_the_engine():
    requests = [r for r in sim.demo_hour(seed=11) if r.route == "POST /payments"]
    lines = [LogEvent(sim.render_access_json(r), r.timestamp_ms) for r in requests]
    analysis = analyze([LogBatch(tuple(lines), log_group="/shop/access", origin="text", kind=LogKind.ACCESS)])
    classes = Counter(c.latency_class for c in analysis.access)
    assert classes[LatencyClass.SLOW] and classes[LatencyClass.NEAR_TIMEOUT] and classes[LatencyClass.TIMEOUT]


def test_filter_log_events_output_is_read_back_as_the_same_execution_requests():
    # GIVEN execution events written the way `aws logs filter-log-events` prints them
    requests = [sim.example_request(c, seed=i) for i, c in enumerate((C.MALFORMED_RESPONSE, C.TLS_ERROR, C.OK))]
    events = sorted((e for r in requests for e in sim.execution_events(r)), key=lambda e: e[0])
    document = sim.filter_log_events_output(events, log_stream="0" * 32)
    # WHEN the CLI's input decoder reads it
    analysis = analyze(iter_input_batches(json.dumps(document, indent=4).encode(), name="events.json"))
    # THEN each request comes back once, with its cause
    got = {c.request_id: c.category for c in analysis.execution}
    assert got == {r.request_id: r.category for r in requests}

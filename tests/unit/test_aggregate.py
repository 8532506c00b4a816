"""Per-invocation metric aggregation (DESIGN §5): what a dashboard or an alarm would show."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace

import pytest

from gatewatch.classify.taxonomy import CATEGORY_TABLE, ErrorCategory
from gatewatch.config import EngineConfig, load_engine_config
from gatewatch.metrics.aggregate import MetricAggregator, aggregate, sanitize_dimension_value
from gatewatch.models import ClassifiedRequest, LatencyClass
from gatewatch.pipeline import Analysis

T0 = 1764075600000


def access_request(i: int = 0, **overrides) -> ClassifiedRequest:
    """A realistic classified access-log entry (REST API, Lambda proxy, 200 in ~120 ms)."""
    values = dict(
        request_id=f"0b1c2d3e-4f50-4a6b-8c7d-{i:012x}",
        api_id="a1b2c3d4e5",
        stage="prod",
        route="GET /pets/{petId}",
        status=200,
        category=ErrorCategory.OK,
        retry=None,
        blame=None,
        latency_ms=120.0,
        integration_latency_ms=104.0,
        latency_class=LatencyClass.OK,
        evidence="status 200",
        gateway_overhead_ms=16.0,
        timestamp=T0 + i,
        source="access",
        log_group="/aws/apigateway/orders-access",
        integration_timeout_ms=29000,
    )
    values.update(overrides)
    return ClassifiedRequest(**values)


def failed(i: int, category: ErrorCategory, status: int | None, **overrides) -> ClassifiedRequest:
    info = CATEGORY_TABLE[category]
    overrides.setdefault("evidence", f"error.responseType {category.value}")
    return access_request(i, status=status, category=category, retry=info.retry, blame=info.blame, **overrides)


def execution_request(i: int, category: ErrorCategory, status: int = 500, **overrides) -> ClassifiedRequest:
    info = CATEGORY_TABLE[category]
    return access_request(
        i,
        status=status,
        category=category,
        retry=info.retry,
        blame=info.blame,
        latency_ms=None,
        gateway_overhead_ms=None,
        latency_class=None,
        evidence="Execution failed due to configuration error: Invalid permissions on Lambda function",
        source="execution",
        log_group="API-Gateway-Execution-Logs_a1b2c3d4e5/prod",
        **overrides,
    )


def counts_by_dims(metrics, names: tuple[str, ...]) -> dict[tuple, dict]:
    return {tuple(v for _, v in d.dimensions): dict(d.counts) for d in metrics.documents if d.dimension_names == names}


def test_a_large_batch_becomes_a_handful_of_documents_with_exact_totals():
    # GIVEN 10,000 requests of one API on 5 routes with a realistic mix of outcomes
    rng = random.Random(7)
    routes = ["GET /pets", "GET /pets/{petId}", "POST /pets", "DELETE /pets/{petId}", "GET /health"]
    mix = (
        [(200, ErrorCategory.OK)] * 90
        + [(404, ErrorCategory.NOT_FOUND)] * 5
        + [(429, ErrorCategory.THROTTLED)] * 2
        + [(502, ErrorCategory.LAMBDA_ERROR)] * 2
        + [(504, ErrorCategory.INTEGRATION_TIMEOUT)]
    )
    reqs = []
    for i in range(10_000):
        status, cat = rng.choice(mix)
        reqs.append(
            failed(i, cat, status, route=rng.choice(routes))
            if cat is not ErrorCategory.OK
            else access_request(i, route=rng.choice(routes))
        )
    # WHEN aggregated
    agg = MetricAggregator(EngineConfig())
    agg.add_access(reqs)
    metrics = agg.result()
    # THEN one [Api,Stage] document, one per route, one per category — not one per request
    assert len(metrics.documents) == 1 + len(routes) + 4
    stage = counts_by_dims(metrics, ("Api", "Stage"))[("a1b2c3d4e5", "prod")]
    statuses = Counter(r.status for r in reqs)
    assert stage["Requests"] == 10_000
    assert stage["Errors4xx"] == statuses[404] + statuses[429]
    assert stage["Errors5xx"] == statuses[502] + statuses[504]
    by_route = counts_by_dims(metrics, ("Api", "Stage", "Route"))
    assert sum(c["Requests"] for c in by_route.values()) == 10_000
    assert {k[2] for k in by_route} == set(routes)
    errors = counts_by_dims(metrics, ("Api", "Stage", "Category"))
    assert {k[2]: v["Errors"] for k, v in errors.items()} == {
        c.value: n for c, n in Counter(r.category for r in reqs).items() if c is not ErrorCategory.OK
    }


def test_execution_logs_add_causes_only_so_a_request_in_both_logs_is_counted_once():
    # GIVEN the same failed request seen in the access log and in the execution log
    acc = failed(1, ErrorCategory.INTERNAL_ERROR, 500)
    exe = execution_request(1, ErrorCategory.INTEGRATION_PERMISSION)
    analysis = Analysis(access=[acc], execution=[exe], lines_parsed=Counter(access=1, execution=14))
    # WHEN aggregated
    metrics = aggregate(analysis, EngineConfig())
    # THEN Requests/Errors5xx come from the access entry only, Causes from the execution entry only
    assert metrics.total("Requests", Api="a1b2c3d4e5", Stage="prod") == 1
    assert metrics.total("Errors5xx", Api="a1b2c3d4e5", Stage="prod") == 1
    cats = counts_by_dims(metrics, ("Api", "Stage", "Category"))
    assert cats[("a1b2c3d4e5", "prod", "INTERNAL_ERROR")] == {"Errors": 1}
    assert cats[("a1b2c3d4e5", "prod", "INTEGRATION_PERMISSION")] == {"Causes": 1}


def test_errors_and_causes_of_the_same_category_share_one_document():
    analysis = Analysis(
        access=[failed(1, ErrorCategory.MALFORMED_RESPONSE, 502)],
        execution=[
            execution_request(1, ErrorCategory.MALFORMED_RESPONSE, 502),
            execution_request(2, ErrorCategory.MALFORMED_RESPONSE, 502),
        ],
    )
    docs = [d for d in aggregate(analysis).documents if d.dimension("Category") == "MALFORMED_RESPONSE"]
    assert len(docs) == 1 and dict(docs[0].counts) == {"Errors": 1, "Causes": 2}


def test_ok_execution_requests_add_nothing_but_line_counts():
    exe = replace(execution_request(1, ErrorCategory.OK, 200), category=ErrorCategory.OK)
    metrics = aggregate(Analysis(execution=[exe], lines_parsed=Counter(execution=9)))
    assert [d.dimension_names for d in metrics.documents] == [("Source",)]


def test_the_api_dimension_is_the_configured_name_else_the_id_else_unknown():
    reqs = [access_request(1), access_request(2, api_id="zz99yy88xx"), access_request(3, api_id=None, stage=None)]
    # GIVEN configured APIs: only they get an Api of their own; any other api id joins the one bucket
    config = load_engine_config('{"a1b2c3d4e5": {"name": "orders"}}')
    stages = counts_by_dims(aggregate(Analysis(access=reqs), config), ("Api", "Stage"))
    assert set(stages) == {("orders", "prod"), ("unknown", "unknown")}
    assert stages[("unknown", "unknown")]["Requests"] == 2
    # AND without configuration the api id names the Api (the CLI, a stack that watches nothing yet)
    stages = counts_by_dims(aggregate(Analysis(access=reqs)), ("Api", "Stage"))
    assert set(stages) == {("a1b2c3d4e5", "prod"), ("zz99yy88xx", "prod"), ("unknown", "unknown")}


def test_forged_or_odd_api_ids_and_stages_never_become_dimensions():
    # GIVEN no configured API, and lines whose api ids and stages do not look like API Gateway's, plus
    # more distinct (valid-looking) api ids and stages than an invocation admits
    reqs = [access_request(1, api_id="evil1"), access_request(2, api_id="a1b2c3d4e5", stage="pr od")]
    reqs += [access_request(10 + i, api_id=f"{i:010d}") for i in range(40)]
    reqs += [access_request(100 + i, stage=f"s{i}") for i in range(30)]
    stages = counts_by_dims(aggregate(Analysis(access=reqs)), ("Api", "Stage"))
    # THEN none of the odd values is a dimension, and the distinct values are bounded
    assert "evil1" not in {api for api, _ in stages} and "pr od" not in {stage for _, stage in stages}
    assert len({api for api, _ in stages}) <= 20 + 1
    assert len({stage for api, stage in stages if api == "a1b2c3d4e5"}) <= 10 + 1
    # AND no request is lost: the bucket holds the rest
    assert sum(counts["Requests"] for counts in stages.values()) == len(reqs)


def test_classified_api_name_wins_and_ids_mapping_to_one_name_merge():
    # two raw spellings of the same API (name set by the classifier on one of them) end in one document
    config = load_engine_config('{"a1b2c3d4e5": {"name": "orders"}}')
    reqs = [access_request(1, api_name="orders"), access_request(2)]
    stages = counts_by_dims(aggregate(Analysis(access=reqs), config), ("Api", "Stage"))
    assert stages == {("orders", "prod"): {"Requests": 2, "Errors4xx": 0, "Errors5xx": 0, "NearTimeout": 0}}


def test_routes_beyond_the_cap_fold_into_other_and_no_request_is_lost():
    # GIVEN 130 distinct routes (e.g. a client hammering unmatched paths that still got templated): the
    # first 100 with two requests each, the 30 others with one
    routes = [f"GET /items/v{i}" for i in range(130)]
    reqs = [access_request(i, route=r) for i, r in enumerate(routes[:100] * 2 + routes[100:])]
    reqs.append(access_request(999, route="UNMATCHED"))
    # WHEN the cap is 100 (default)
    metrics = aggregate(Analysis(access=reqs), EngineConfig())
    by_route = counts_by_dims(metrics, ("Api", "Stage", "Route"))
    names = {k[2] for k in by_route}
    # THEN the 100 busiest keep their names, the 30 others are OTHER, UNMATCHED does not use the cap
    assert len(names) == 102 and "OTHER" in names and "UNMATCHED" in names
    assert "GET /items/v99" in names and "GET /items/v100" not in names
    assert by_route[("a1b2c3d4e5", "prod", "OTHER")]["Requests"] == 30
    assert sum(c["Requests"] for c in by_route.values()) == 231
    assert metrics.routes_folded == {"a1b2c3d4e5": 30}


def test_which_stages_and_routes_keep_a_name_does_not_depend_on_the_order_of_the_lines():
    # GIVEN more stages and routes than the caps allow, busiest last
    reqs = [access_request(i, stage=f"s{i % 14}", route=f"GET /r{i % 9}") for i in range(14 * 9)]
    reqs += [access_request(1000 + i, stage="zbusy", route="GET /zbusy") for i in range(50)]
    config = load_engine_config('{"a1b2c3d4e5": {"routeCap": 4}}')
    # WHEN aggregated in two different orders
    shuffled = list(reqs)
    random.Random(5).shuffle(shuffled)
    first, second = aggregate(Analysis(access=reqs), config), aggregate(Analysis(access=shuffled), config)

    # THEN the documents are the same, and the busiest stage and route are among the kept ones
    def by_dims(metrics):
        return {d.dimensions: (dict(d.counts), sorted(d.distributions.get("Latency", ()))) for d in metrics.documents}

    assert by_dims(first) == by_dims(second)
    stages = {d.dimension("Stage") for d in first.documents if d.dimension("Stage")}
    assert len(stages - {"unknown"}) == 10 and "zbusy" in stages
    routes = {d.dimension("Route") for d in first.documents if d.dimension("Route")}
    assert len(routes - {"OTHER"}) == 4 and "GET /zbusy" in routes


def test_route_cap_from_the_environment_default_and_per_api_override():
    reqs = [access_request(i, route=f"GET /r{i}") for i in range(10)] + [
        access_request(100 + i, api_id="other0api1", route=f"GET /r{i}") for i in range(10)
    ]
    config = load_engine_config('{"other0api1": {"routeCap": 5}, "a1b2c3d4e5": {}}')
    by_route = counts_by_dims(aggregate(Analysis(access=reqs), config, route_cap=3), ("Api", "Stage", "Route"))
    named = Counter(api for api, _, route in by_route if route != "OTHER")
    assert named == {"a1b2c3d4e5": 3, "other0api1": 5}


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("GET /pets/{petId}", "GET /pets/{petId}"),
        ("GET /a\x00b\x1b[31m\n", "GET /ab[31m"),
        ("   ", "unknown"),
        ("", "unknown"),
        (None, "unknown"),
        ("x" * 400, "x" * 250),
    ],
)
def test_dimension_values_are_sanitised(raw, expected):
    assert sanitize_dimension_value(raw) == expected


def test_near_timeout_counts_requests_at_or_over_the_timeout_threshold():
    reqs = [
        access_request(1, latency_class=LatencyClass.NEAR_TIMEOUT, latency_ms=27000.0),
        failed(2, ErrorCategory.INTEGRATION_TIMEOUT, 504, latency_class=LatencyClass.TIMEOUT, latency_ms=29010.0),
        access_request(3, latency_class=LatencyClass.SLOW, latency_ms=2500.0),
        access_request(4),
    ]
    assert aggregate(Analysis(access=reqs)).total("NearTimeout", Api="a1b2c3d4e5", Stage="prod") == 2


def test_latency_distributions_skip_missing_and_impossible_values():
    reqs = [
        access_request(1, latency_ms=80.0, integration_latency_ms=70.0, gateway_overhead_ms=10.0),
        access_request(2, latency_ms=None, integration_latency_ms=None, gateway_overhead_ms=None),
        access_request(3, latency_ms=float("nan"), integration_latency_ms=float("inf"), gateway_overhead_ms=-1.0),
        access_request(4, latency_ms=-5.0, integration_latency_ms=12.0, gateway_overhead_ms=0.0),
        access_request(5, latency_ms=12.0, integration_latency_ms=12.4, gateway_overhead_ms=-0.4),
    ]
    stage = next(d for d in aggregate(Analysis(access=reqs)).documents if d.dimension_names == ("Api", "Stage"))
    assert stage.distributions["Latency"] == (80.0, 12.0)
    assert stage.distributions["IntegrationLatency"] == (70.0, 12.0, 12.4)
    # an overhead only from two valid latencies (not from request 3 or 4), and a negative one is "none", never < 0
    assert stage.distributions["GatewayOverhead"] == (10.0, 0.0)
    assert stage.counts["Requests"] == 5


def test_line_counts_by_source_and_input_has_no_parsed_count():
    analysis = Analysis(lines_parsed=Counter(access=50, execution=200), lines_unparsed=Counter(access=2, input=1))
    sources = counts_by_dims(aggregate(analysis), ("Source",))
    assert sources == {
        ("access",): {"LinesParsed": 50, "LinesUnparsed": 2},
        ("execution",): {"LinesParsed": 200, "LinesUnparsed": 0},
        ("input",): {"LinesUnparsed": 1},
    }


def test_status_less_errors_use_the_category_to_split_4xx_and_5xx():
    reqs = [failed(1, ErrorCategory.THROTTLED, None), failed(2, ErrorCategory.BAD_GATEWAY, None)]
    stage = counts_by_dims(aggregate(Analysis(access=reqs)), ("Api", "Stage"))[("a1b2c3d4e5", "prod")]
    assert (stage["Errors4xx"], stage["Errors5xx"]) == (1, 1)


def _requests_per_minute(metrics) -> dict:
    return {
        doc.timestamp_ms: doc.counts["Requests"]
        for doc in metrics.documents
        if doc.dimension_names == ("Api", "Stage") and "Requests" in doc.counts
    }


def test_every_request_counts_in_the_minute_of_its_own_event():
    # GIVEN one delivery whose events span three minutes (a backlog), execution causes in two of them
    reqs = [access_request(i, timestamp=T0 + i * 20_000) for i in range(9)]  # 3 per minute
    exe = [
        execution_request(1, ErrorCategory.MALFORMED_RESPONSE, 502, timestamp=T0 + 5),
        execution_request(2, ErrorCategory.MALFORMED_RESPONSE, 502, timestamp=T0 + 130_000),
    ]
    metrics = aggregate(Analysis(access=reqs, execution=exe), now_ms=T0 + 300_000)
    # THEN one set of documents per minute, each with that minute's requests
    assert metrics.minutes == (T0, T0 + 60_000, T0 + 120_000)
    assert _requests_per_minute(metrics) == {T0: 3, T0 + 60_000: 3, T0 + 120_000: 3}
    causes = {d.timestamp_ms: d.counts["Causes"] for d in metrics.documents if "Causes" in d.counts}
    assert causes == {T0: 1, T0 + 120_000: 1}
    # AND a route keeps one name across the minutes
    assert {d.dimension("Route") for d in metrics.documents if d.dimension("Route")} == {"GET /pets/{petId}"}


def test_minutes_cloudwatch_would_not_accept_are_counted_not_published():
    # GIVEN requests from 15 days ago, from now, and from 3 hours ahead (a skewed clock)
    now = T0 + 15 * 86_400_000
    reqs = [
        access_request(1, timestamp=T0),
        access_request(2, timestamp=now - 1000),
        access_request(3, timestamp=now + 3 * 3_600_000),
    ]
    exe = [execution_request(4, ErrorCategory.MALFORMED_RESPONSE, 502, timestamp=T0)]
    metrics = aggregate(Analysis(access=reqs, execution=exe), now_ms=now)
    # THEN only the acceptable minute is published
    assert _requests_per_minute(metrics) == {now - 1000 - (now - 1000) % 60_000: 1}
    # AND the others are counted, per source, and published as LinesUnparsed under Source=out-of-window
    assert metrics.out_of_window == {"access": 2, "execution": 1}
    assert metrics.total("LinesUnparsed", Source="out-of-window") == 3
    # AND without a clock (the CLI's view of old logs) every minute is its own
    assert len(aggregate(Analysis(access=reqs)).minutes) == 3


def test_an_api_with_a_route_list_names_only_those_routes():
    # GIVEN an API configured with its routes, and lines naming others (or any method of an ANY route)
    config = load_engine_config('{"a1b2c3d4e5": {"routes": ["get /pets/{petId}", "ANY /{proxy+}"]}}')
    routes = ["GET /pets/{petId}", "POST /{proxy+}", "GET /admin", "DELETE /x/{y}", "UNMATCHED"]
    reqs = [access_request(i, route=r) for i, r in enumerate(routes * 3)]
    metrics = aggregate(Analysis(access=reqs), config)
    # THEN the listed ones keep their name, the rest are OTHER, UNMATCHED stays
    by_route = counts_by_dims(metrics, ("Api", "Stage", "Route"))
    assert {key[2]: c["Requests"] for key, c in by_route.items()} == {
        "GET /pets/{petId}": 3,
        "POST /{proxy+}": 3,
        "OTHER": 6,
        "UNMATCHED": 3,
    }
    assert metrics.routes_folded == {"a1b2c3d4e5": 2}

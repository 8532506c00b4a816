"""EMF documents: valid per the specification, aggregated per minute, and every latency value published."""

from __future__ import annotations

import copy
import random
from collections import Counter

import orjson
import pytest

from gatewatch.classify.taxonomy import ErrorCategory
from gatewatch.metrics.aggregate import InvocationMetrics, MetricDocument, aggregate
from gatewatch.metrics.emf import EmfWriter, emf_timestamp_ms, metric_sets, value_chunks
from gatewatch.models import LatencyClass
from gatewatch.pipeline import Analysis
from tests.emf_spec import assert_valid_emf, emf_documents, emf_problems, metric_total, metric_values
from tests.unit.test_aggregate import T0, access_request, execution_request, failed

NOW_MS = 1764075660000  # a minute after the requests below


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def realistic_analysis(n: int = 10_000, seed: int = 3) -> Analysis:
    """Lognormal latencies around 120 ms with a slow tail; 3 routes; a few errors; execution causes."""
    rng = random.Random(seed)
    reqs = []
    for i in range(n):
        integ = rng.lognormvariate(4.6, 0.6)
        overhead = rng.uniform(3, 25)
        route = rng.choice(["GET /pets", "GET /pets/{petId}", "POST /orders"])
        if i % 50 == 0:
            reqs.append(
                failed(
                    i,
                    ErrorCategory.LAMBDA_ERROR,
                    502,
                    route=route,
                    latency_ms=integ + overhead,
                    integration_latency_ms=integ,
                    gateway_overhead_ms=overhead,
                )
            )
        else:
            reqs.append(
                access_request(
                    i,
                    route=route,
                    latency_ms=integ + overhead,
                    integration_latency_ms=integ,
                    gateway_overhead_ms=overhead,
                )
            )
    exe = [execution_request(i, ErrorCategory.INTEGRATION_PERMISSION) for i in range(3)]
    return Analysis(
        access=reqs, execution=exe, lines_parsed=Counter(access=n, execution=42), lines_unparsed=Counter(access=2)
    )


def test_a_10000_request_invocation_prints_one_document_per_100_values_not_per_request():
    # GIVEN a realistic invocation (one minute, 3 routes)
    analysis = realistic_analysis()
    # WHEN rendered as EMF
    text = EmfWriter("Gatewatch").render(aggregate(analysis), now_ms=NOW_MS)
    docs = assert_valid_emf(emf_documents(text))
    # THEN every line is one valid document, and there are as many as the values need: 100 for the
    # stage's distributions, one per 100 requests of each route, 2 categories and 2 sources
    routes = Counter(r.route for r in analysis.access)
    assert len(docs) == len(text.splitlines()) == 100 + sum(-(-n // 100) for n in routes.values()) + 2 + 2
    assert all(d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Gatewatch" for d in docs)
    # AND the counts add up to what was classified, each counted once (counts ride on one document only)
    assert metric_total(docs, "Requests", ("Api", "Stage")) == 10_000
    assert metric_total(docs, "Requests", ("Api", "Stage", "Route")) == 10_000
    assert metric_total(docs, "Errors5xx", ("Api", "Stage")) == 200
    assert metric_total(docs, "Errors", ("Api", "Stage", "Category"), Category="LAMBDA_ERROR") == 200
    assert metric_total(docs, "Causes", ("Api", "Stage", "Category"), Category="INTEGRATION_PERMISSION") == 3
    assert metric_total(docs, "LinesUnparsed", ("Source",), Source="access") == 2


def test_every_latency_value_is_published_in_whole_milliseconds():
    # GIVEN 10,000 latencies
    analysis = realistic_analysis()
    docs = emf_documents(EmfWriter().render(aggregate(analysis), now_ms=NOW_MS))
    for metric, attr in (
        ("Latency", "latency_ms"),
        ("IntegrationLatency", "integration_latency_ms"),
        ("GatewayOverhead", "gateway_overhead_ms"),
    ):
        exact = [getattr(r, attr) for r in analysis.access]
        emitted = metric_values(docs, metric, ("Api", "Stage"))
        # THEN CloudWatch receives every value (so its percentiles are the true ones, to the millisecond)
        assert sorted(emitted) == sorted(round(v) for v in exact), metric
        assert all(isinstance(v, int) for v in emitted)
        for q in (0.5, 0.9, 0.99):
            assert abs(percentile(emitted, q) - percentile(exact, q)) <= 0.5
    # AND per route as well
    for route in {r.route for r in analysis.access}:
        want = sorted(round(r.latency_ms) for r in analysis.access if r.route == route)
        assert sorted(metric_values(docs, "Latency", ("Api", "Stage", "Route"), Route=route)) == want


@pytest.mark.parametrize("n", [0, 1, 99, 100, 101, 250, 54321])
def test_values_are_split_into_arrays_of_at_most_100(n):
    values = [i + 0.4 for i in range(n)]
    chunks = list(value_chunks(values))
    assert [len(c) for c in chunks] == [min(100, n - start) for start in range(0, n, 100)]
    assert [v for c in chunks for v in c] == [round(v) for v in values]


def test_counts_ride_on_the_first_document_and_distributions_continue_until_all_values_are_out():
    # GIVEN one combination with counts, 250 latencies and 120 integration latencies
    doc = MetricDocument(
        (("Api", "shop"), ("Stage", "prod")),
        {"Requests": 250},
        {"Latency": tuple(range(250)), "IntegrationLatency": tuple(range(120))},
    )
    sets = list(metric_sets(doc))
    # THEN three documents: the counts once, each distribution as long as it has values left
    assert [sorted(s) for s in sets] == [
        ["IntegrationLatency", "Latency", "Requests"],
        ["IntegrationLatency", "Latency"],
        ["Latency"],
    ]
    assert [len(s["Latency"]["Value"]) for s in sets] == [100, 100, 50]
    assert [len(s["IntegrationLatency"]["Value"]) for s in sets[:2]] == [100, 20]


def test_a_document_carries_its_minute_and_line_counts_carry_the_time_of_publishing():
    assert emf_timestamp_ms(NOW_MS - 60_000, NOW_MS) == NOW_MS - 60_000
    assert emf_timestamp_ms(None, NOW_MS) == NOW_MS
    assert emf_timestamp_ms(NOW_MS - 15 * 86_400_000, NOW_MS) == NOW_MS  # never published: see aggregate
    docs = EmfWriter().documents(aggregate(realistic_analysis(10)), now_ms=NOW_MS)
    assert {d["_aws"]["Timestamp"] for d in docs if "Api" in d} == {T0}
    assert {d["_aws"]["Timestamp"] for d in docs if "Source" in d} == {NOW_MS}


def test_namespace_is_configurable_and_no_service_dimension_is_added(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "gatewatch")
    docs = EmfWriter("Acme/Gateway").documents(aggregate(realistic_analysis(20)), now_ms=NOW_MS)
    assert {d["_aws"]["CloudWatchMetrics"][0]["Namespace"] for d in docs} == {"Acme/Gateway"}
    assert all("service" not in d for d in docs)
    assert_valid_emf(docs)


def test_hostile_dimension_values_still_give_valid_documents():
    reqs = [
        access_request(
            1,
            route="GET /\x00\x1b" + "é" * 500,
            stage="\n\t",
            api_id="x" * 2000,
            latency_class=LatencyClass.NEAR_TIMEOUT,
        )
    ]
    docs = assert_valid_emf(EmfWriter().documents(aggregate(Analysis(access=reqs)), now_ms=NOW_MS))
    route_doc = next(d for d in docs if "Route" in d)
    assert len(route_doc["Route"]) <= 250 and route_doc["Stage"] == "unknown"


def test_more_than_100_metrics_in_a_combination_are_split_into_several_valid_documents():
    doc = MetricDocument((("Source", "access"),), {f"M{i}": i for i in range(150)})
    docs = EmfWriter().documents(InvocationMetrics((doc,)), now_ms=NOW_MS)
    assert [len(d["_aws"]["CloudWatchMetrics"][0]["Metrics"]) for d in docs] == [100, 50]
    assert all(not emf_problems(d) for d in docs)


def test_nothing_to_publish_prints_nothing():
    assert EmfWriter().render(aggregate(Analysis()), now_ms=NOW_MS) == ""


# -- the validator itself must catch what CloudWatch would drop -----------------------------------
def _valid_doc() -> dict:
    docs = EmfWriter().documents(aggregate(realistic_analysis(150)), now_ms=NOW_MS)
    return next(d for d in docs if "Latency" in d and d.get("Route") is None)


@pytest.mark.parametrize(
    "break_it, expected",
    [
        (lambda d: d["_aws"].__setitem__("Timestamp", 1764075600.5), "Timestamp"),
        (lambda d: d.pop("Stage"), "dimension Stage"),
        (lambda d: d.__setitem__("Stage", 7), "dimension Stage"),
        (lambda d: d.__setitem__("Latency", list(range(101))), "101 values"),
        (lambda d: d.__setitem__("Latency", []), "0 values"),
        (lambda d: d.__setitem__("Requests", "12"), "Requests"),
        (lambda d: d.__setitem__("Requests", True), "Requests"),
        (lambda d: d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0].__setitem__("Unit", "Millis"), "unit"),
        (
            lambda d: d["_aws"]["CloudWatchMetrics"][0].__setitem__("Dimensions", [[f"D{i}" for i in range(31)]]),
            "31 keys",
        ),
        (lambda d: d["_aws"]["CloudWatchMetrics"][0].__setitem__("Namespace", ""), "Namespace"),
        (
            lambda d: d["_aws"]["CloudWatchMetrics"][0]["Metrics"].extend({"Name": f"X{i}"} for i in range(100)),
            "max 100",
        ),
    ],
)
def test_the_emf_validator_rejects_what_cloudwatch_would_drop(break_it, expected):
    doc = _valid_doc()
    assert emf_problems(doc) == []
    broken = copy.deepcopy(doc)
    break_it(broken)
    problems = emf_problems(orjson.loads(orjson.dumps(broken)))
    assert any(expected in p for p in problems), problems

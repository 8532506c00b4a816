"""EMF documents: valid per the specification, aggregated, and percentiles that survive the 100-value limit."""

from __future__ import annotations

import copy
import random
from collections import Counter

import orjson
import pytest

from gatewatch.classify.taxonomy import ErrorCategory
from gatewatch.metrics.aggregate import InvocationMetrics, MetricDocument, aggregate
from gatewatch.metrics.emf import EmfWriter, bucket_ms, emf_timestamp_ms, representative_values
from gatewatch.models import LatencyClass
from gatewatch.pipeline import Analysis
from tests.emf_spec import assert_valid_emf, emf_documents, emf_problems, metric_total, metric_values
from tests.unit.test_aggregate import access_request, execution_request, failed

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


def test_a_10000_request_invocation_prints_a_handful_of_valid_documents():
    # GIVEN a realistic invocation
    analysis = realistic_analysis()
    # WHEN rendered as EMF
    text = EmfWriter("Gatewatch").render(aggregate(analysis), now_ms=NOW_MS)
    docs = assert_valid_emf(emf_documents(text))
    # THEN a handful of documents (not 10,000), every one valid, every line one document
    assert len(docs) == len(text.splitlines()) <= 12
    assert all(d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Gatewatch" for d in docs)
    # AND the counts add up to what was classified
    assert metric_total(docs, "Requests", ("Api", "Stage")) == 10_000
    assert metric_total(docs, "Requests", ("Api", "Stage", "Route")) == 10_000
    assert metric_total(docs, "Errors5xx", ("Api", "Stage")) == 200
    assert metric_total(docs, "Errors", ("Api", "Stage", "Category"), Category="LAMBDA_ERROR") == 200
    assert metric_total(docs, "Causes", ("Api", "Stage", "Category"), Category="INTEGRATION_PERMISSION") == 3
    assert metric_total(docs, "LinesUnparsed", ("Source",), Source="access") == 2


def test_distribution_percentiles_are_off_by_at_most_one_percentile_rank():
    # GIVEN 10,000 latencies, reduced to the 100 values EMF allows
    analysis = realistic_analysis()
    docs = emf_documents(EmfWriter().render(aggregate(analysis), now_ms=NOW_MS))
    for metric, attr in (
        ("Latency", "latency_ms"),
        ("IntegrationLatency", "integration_latency_ms"),
        ("GatewayOverhead", "gateway_overhead_ms"),
    ):
        exact = [getattr(r, attr) for r in analysis.access]
        emitted = metric_values(docs, metric, ("Api", "Stage"))
        assert len(emitted) == 100
        for q in (0.5, 0.9, 0.95, 0.99):
            # THEN the p-q CloudWatch computes lies between the true p(q-1) and p(q+1), give or take a bucket
            got = percentile(emitted, q)
            low, high = percentile(exact, q - 0.01), percentile(exact, min(q + 0.01, 0.9999))
            assert bucket_ms(low) * 0.99 - 0.5 <= got <= bucket_ms(high) * 1.01 + 0.5, (metric, q, low, got, high)
        # AND the median is within 2 % (1 ms below 100 ms)
        want = percentile(exact, 0.5)
        assert abs(percentile(emitted, 0.5) - want) <= max(0.02 * want, 1.0)


def test_small_distributions_are_emitted_exactly():
    values = [12.5, 130.0, 131.0, 29000.0]
    assert representative_values(values) == values


@pytest.mark.parametrize("n", [101, 1000, 54321])
def test_large_distributions_become_exactly_100_quantile_representatives(n):
    rng = random.Random(n)
    values = [rng.expovariate(1 / 300) for _ in range(n)]
    reps = representative_values(values)
    assert len(reps) == 100 and reps == sorted(reps)
    assert reps[0] >= bucket_ms(min(values)) and reps[-1] <= bucket_ms(max(values))


@pytest.mark.parametrize("limit", [1, 2, 7, 100])
def test_representatives_are_the_bucketed_values_at_their_ranks(limit):
    # GIVEN more values than the limit WHEN reduced THEN representative i is the bucketed value at
    # rank (i + 0.5) / limit · N of the sorted values (the memo of buckets changes nothing)
    rng = random.Random(limit)
    values = [rng.choice([3.0, 40.0, 120.0, 950.0, 29000.0]) + rng.random() for _ in range(500)]
    ordered = sorted(values)
    assert representative_values(values, limit) == [
        bucket_ms(ordered[(2 * i + 1) * 500 // (2 * limit)]) for i in range(limit)
    ]


@pytest.mark.parametrize("value", [0.4, 7.0, 99.4, 100.0, 250.3, 1234.5, 29000.0, 1e6])
def test_buckets_are_1ms_below_100ms_and_about_2_percent_above(value):
    b = bucket_ms(value)
    if value < 100:
        assert abs(b - value) <= 0.5
    else:
        assert abs(b - value) / value <= 0.011


def test_timestamp_is_the_newest_event_when_cloudwatch_accepts_it_else_now():
    assert emf_timestamp_ms(NOW_MS - 60_000, NOW_MS) == NOW_MS - 60_000
    assert emf_timestamp_ms(None, NOW_MS) == NOW_MS
    assert emf_timestamp_ms(NOW_MS - 15 * 86_400_000, NOW_MS) == NOW_MS  # older than 14 days: dropped by CloudWatch
    assert emf_timestamp_ms(NOW_MS + 3 * 3_600_000, NOW_MS) == NOW_MS  # more than 2 h ahead
    docs = EmfWriter().documents(aggregate(realistic_analysis(10)), now_ms=NOW_MS)
    assert {d["_aws"]["Timestamp"] for d in docs} == {1764075600000 + 9}


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

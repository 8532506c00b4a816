"""The alarm specs (pure data the stack and the local demo share)."""

from __future__ import annotations

import dataclasses

import pytest

from gatewatch.naming import alarm_name
from stacks.monitoring.alarm_specs import (
    AlarmSpec,
    Comparison,
    MetricRef,
    MissingData,
    Thresholds,
    api_alarm_specs,
    health_alarm_specs,
)


def _by_key(specs):
    return {s.key: s for s in specs}


def test_defaults_follow_design_section_6():
    specs = _by_key(api_alarm_specs("orders", "prod"))
    five, four = specs["5xx-rate"], specs["4xx-rate"]
    assert (five.threshold, five.evaluation_periods, five.datapoints_to_alarm, five.period_s) == (5.0, 3, 3, 60)
    assert (four.threshold, four.evaluation_periods, four.datapoints_to_alarm) == (5.0, 5, 5)
    assert five.comparison is Comparison.GREATER_THAN
    assert specs["p90-latency"].threshold == 2500 and specs["p90-latency"].metric.statistic == "p90"
    assert specs["p90-integration-latency"].threshold == 2000
    assert specs["p90-latency"].comparison is Comparison.GREATER_THAN_OR_EQUAL
    assert specs["near-timeout"].threshold == 1 and specs["near-timeout"].metric.metric_name == "NearTimeout"
    assert (
        specs["requests-anomaly"].comparison is Comparison.OUTSIDE_BAND
        and specs["requests-anomaly"].anomaly_band == 2.0
    )
    assert specs["5xx-anomaly"].comparison is Comparison.ABOVE_BAND


def test_throttle_and_quota_bursts_watch_the_category_dimension_and_are_named_by_category():
    specs = _by_key(api_alarm_specs("orders", "prod"))
    for category in ("THROTTLED", "QUOTA_EXCEEDED"):
        spec = specs[category]
        assert spec.name == alarm_name("orders", "prod", category)
        assert spec.metric.metric_name == "Errors"
        assert spec.metric.dimension_map == {"Api": "orders", "Stage": "prod", "Category": category}


def test_rates_are_metric_math_with_their_inputs():
    spec = _by_key(api_alarm_specs("orders", "prod"))["5xx-rate"]
    assert spec.metric is None
    assert {m.id: m.metric_name for m in spec.metrics} == {"requests": "Requests", "errors": "Errors5xx"}
    assert all(m.dimensions == (("Api", "orders"), ("Stage", "prod")) for m in spec.metrics)


def test_per_api_thresholds_change_only_what_they_set():
    custom = Thresholds().merged({"error5xx_rate_pct": 1.0, "error5xx_periods": 2})
    specs = _by_key(api_alarm_specs("orders", "prod", custom, namespace="Acme/Api"))
    assert (specs["5xx-rate"].threshold, specs["5xx-rate"].evaluation_periods) == (1.0, 2)
    assert specs["4xx-rate"].threshold == 5.0
    assert all(m.namespace == "Acme/Api" for s in specs.values() for m in s.metrics)


def test_missing_data_is_no_error_but_is_the_outage_the_silence_alarm_watches():
    expected = {"requests-anomaly": MissingData.IGNORE, "silence": MissingData.BREACHING}
    for spec in api_alarm_specs("orders", "prod"):
        assert spec.treat_missing_data is expected.get(spec.key, MissingData.NOT_BREACHING), spec.key


def test_health_specs_cover_errors_throttles_dlq_unparsed_and_suspicious_rates():
    specs = _by_key(
        health_alarm_specs("Gatewatch", analyzer_function="an", notifier_function="no", dead_letter_queue="q")
    )
    assert specs["analyzer-errors"].metric.dimension_map == {"FunctionName": "an"}
    assert specs["analyzer-throttles"].metric.metric_name == "Throttles"
    assert specs["dead-letters"].metric.namespace == "AWS/SQS"
    unparsed = specs["access-unparsed-rate"]
    assert {m.metric_name for m in unparsed.metrics} == {"LinesParsed", "LinesUnparsed"}
    assert all(m.dimension_map == {"Source": "access"} for m in unparsed.metrics)
    suspicious = specs["access-suspicious-rate"]
    assert {m.metric_name for m in suspicious.metrics} == {"LinesParsed", "LinesSuspicious"}
    assert all(m.dimension_map == {"Source": "access"} for m in suspicious.metrics)
    assert "userAgent" in suspicious.description  # says what to do after a format change
    assert all(s.name.startswith("Gatewatch-health-") for s in specs.values())


def test_a_spec_must_be_either_a_metric_or_an_expression():
    metric = MetricRef("m", "Gatewatch", "Requests", (), "Sum")
    base = dict(
        key="k",
        name="n",
        description="d",
        threshold=1,
        comparison=Comparison.GREATER_THAN,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        treat_missing_data=MissingData.MISSING,
        period_s=60,
    )
    with pytest.raises(ValueError, match="exactly one of metric and expression"):
        AlarmSpec(**base, metric=metric, expression="m * 2", inputs=(metric,))
    with pytest.raises(ValueError, match="needs its input metrics"):
        AlarmSpec(**base, expression="m * 2")
    with pytest.raises(ValueError, match="datapoints_to_alarm"):
        AlarmSpec(**{**base, "datapoints_to_alarm": 2}, metric=metric)


def test_specs_are_frozen():
    spec = api_alarm_specs("orders", "prod")[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.threshold = 99  # type: ignore[misc]

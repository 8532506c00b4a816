"""One definition per rule: the error-rate math the alarms watch is the one the dashboard draws."""

from __future__ import annotations

import json

import aws_cdk as cdk

from gatewatch import constants as C
from gatewatch.naming import alarm_name, dashboard_name
from stacks.monitoring.alarm_specs import MetricRef, api_alarm_specs, error_rate, unparsed_rate
from stacks.monitoring.factory import (
    RESULT_ID,
    anomaly_props,
    graph_math,
    graph_metric,
    math_props,
    single_metric_props,
)
from tests.infra.conftest import resources


def test_error_rate_names_its_inputs_by_the_ids_it_is_given():
    default = error_rate("orders", "prod", C.METRIC_ERRORS_5XX)
    assert default.expression == "IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)"
    assert [(m.id, m.metric_name, m.statistic) for m in default.inputs] == [
        ("requests", "Requests", "Sum"),
        ("errors", "Errors5xx", "Sum"),
    ]
    assert (default.label, default.period_s) == ("5xx rate (%)", 60)
    renamed = error_rate("orders", "prod", C.METRIC_ERRORS_4XX, ids=("r", "e"))
    assert renamed.expression == "IF(r > 0, 100 * FILL(e, 0) / r, 0)"
    assert [m.id for m in renamed.inputs] == ["r", "e"] and renamed.label == "4xx rate (%)"


def test_the_rate_alarm_spec_is_the_error_rate():
    spec = {s.key: s for s in api_alarm_specs("orders", "prod", namespace="Acme")}["5xx-rate"]
    assert spec.math == error_rate("orders", "prod", C.METRIC_ERRORS_5XX, namespace="Acme")


def test_graph_math_carries_the_expression_label_period_and_inputs_by_id():
    rate = error_rate("orders", "prod", C.METRIC_ERRORS_5XX, namespace="Acme")
    graph = graph_math(rate)
    assert (graph.expression, graph.label, graph.period.to_seconds()) == (rate.expression, "5xx rate (%)", 60)
    assert list(graph.using_metrics) == ["requests", "errors"]
    errors = graph.using_metrics["errors"]
    assert isinstance(errors, cdk.aws_cloudwatch.Metric)
    assert (errors.namespace, errors.metric_name, errors.statistic) == ("Acme", "Errors5xx", "Sum")
    assert errors.dimensions == {"Api": "orders", "Stage": "prod"}


def test_graph_metric_keeps_the_period_and_the_label():
    metric = graph_metric(MetricRef("x", "Gatewatch", "LinesParsed", (("Source", "access"),), "Sum", 300), label="L")
    assert (metric.period.to_seconds(), metric.label, metric.dimensions) == (300, "L", {"Source": "access"})


def test_alarm_props_for_a_statistic_a_percentile_an_expression_and_a_band():
    sum_ = single_metric_props(MetricRef("m", "Gatewatch", "NearTimeout", (), "Sum"))
    p90 = single_metric_props(MetricRef("m", "Gatewatch", "Latency", (), "p90"))
    assert (sum_.statistic, sum_.extended_statistic, sum_.metrics) == ("Sum", None, None)
    assert (p90.statistic, p90.extended_statistic) == (None, "p90")
    math = math_props(unparsed_rate("access"))
    assert math.metrics is not None and [q.id for q in math.metrics] == ["parsed", "unparsed", RESULT_ID]
    assert [q.return_data for q in math.metrics] == [False, False, True]
    assert math.metrics[-1].period == 300 and math.namespace is None
    band = anomaly_props(MetricRef("requests", "Gatewatch", "Requests", (), "Sum"), 2.0, band_id="band")
    assert band.threshold_metric_id == "band" and band.metrics is not None
    assert band.metrics[1].expression == "ANOMALY_DETECTION_BAND(requests, 2)"


def test_the_dashboard_draws_the_rates_the_alarms_watch(subscription_template):
    (alarm,) = subscription_template.find_resources(
        "AWS::CloudWatch::Alarm", {"Properties": {"AlarmName": alarm_name("orders", "prod", "5xx-rate", "Gatewatch")}}
    ).values()
    result = next(q for q in alarm["Properties"]["Metrics"] if q["Id"] == RESULT_ID)
    assert result["Expression"] == error_rate("orders", "prod", C.METRIC_ERRORS_5XX).expression
    board = next(
        b
        for b in resources(subscription_template, "AWS::CloudWatch::Dashboard").values()
        if b["Properties"]["DashboardName"] == dashboard_name("orders", "Gatewatch")
    )
    body = json.dumps(board["Properties"]["DashboardBody"])
    for errors_metric in (C.METRIC_ERRORS_5XX, C.METRIC_ERRORS_4XX):
        ids = (f"req{errors_metric.lower()}", f"err{errors_metric.lower()}")
        drawn = error_rate("orders", "prod", errors_metric, ids=ids)
        assert json.dumps(drawn.expression)[1:-1] in body
        assert json.dumps(drawn.label)[1:-1] in body

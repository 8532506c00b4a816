"""CloudWatch objects from the pure metric definitions of `alarm_specs`: the one place CDK meets them.

Why a factory (as cdk-monitoring-constructs has its MetricFactory): `alarm_specs` says which metric,
statistic, period and expression a rule reads, without importing CDK, so that the local demo can
evaluate the very same rules. The dashboard's graphs and the alarms both go through here, so a rate
drawn on the dashboard and the alarm on it cannot drift apart: they come from one `MetricMath`.

- graphs: `graph_metric` (a `MetricRef`) and `graph_math` (a `MetricMath`) for dashboard widgets;
- alarms: `AlarmMetricProps` — the `CfnAlarm` properties that say what an alarm reads — from one
  metric (`single_metric_props`), an expression (`math_props`) or an anomaly band (`anomaly_props`).
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch

from stacks.monitoring.alarm_specs import MetricMath, MetricRef

#: The id of the query that returns a metric-math alarm's value.
RESULT_ID = "result"

# --------------------------------------------------------------------------- graphs


def graph_metric(ref: MetricRef, *, label: str | None = None) -> cloudwatch.Metric:
    """A metric for a graph widget (or an expression's input). Its id comes from the expression, not from here."""
    return cloudwatch.Metric(
        namespace=ref.namespace,
        metric_name=ref.metric_name,
        dimensions_map=ref.dimension_map,
        statistic=ref.statistic,
        period=cdk.Duration.seconds(ref.period_s),
        label=label,
    )


def graph_math(math: MetricMath) -> cloudwatch.MathExpression:
    """An expression for a graph widget, its inputs under the ids the expression names."""
    return cloudwatch.MathExpression(
        expression=math.expression,
        label=math.label,
        period=cdk.Duration.seconds(math.period_s),
        using_metrics={ref.id: graph_metric(ref) for ref in math.inputs},
    )


# --------------------------------------------------------------------------- alarms


@dataclass(frozen=True)
class AlarmMetricProps:
    """The `CfnAlarm` properties that say what an alarm reads: one metric with its statistic (or
    percentile), or metric-data queries. What is not used stays None (absent from the template)."""

    namespace: str | None = None
    metric_name: str | None = None
    dimensions: list[cloudwatch.CfnAlarm.DimensionProperty] | None = None
    period: int | None = None
    statistic: str | None = None
    extended_statistic: str | None = None
    metrics: list[cloudwatch.CfnAlarm.MetricDataQueryProperty] | None = None
    threshold_metric_id: str | None = None


def alarm_dimensions(ref: MetricRef) -> list[cloudwatch.CfnAlarm.DimensionProperty]:
    return [cloudwatch.CfnAlarm.DimensionProperty(name=k, value=v) for k, v in ref.dimensions]


def alarm_metric_query(ref: MetricRef, *, return_data: bool) -> cloudwatch.CfnAlarm.MetricDataQueryProperty:
    """One metric of a metric-data query, under its id."""
    return cloudwatch.CfnAlarm.MetricDataQueryProperty(
        id=ref.id,
        return_data=return_data,
        metric_stat=cloudwatch.CfnAlarm.MetricStatProperty(
            metric=cloudwatch.CfnAlarm.MetricProperty(
                namespace=ref.namespace, metric_name=ref.metric_name, dimensions=alarm_dimensions(ref)
            ),
            period=ref.period_s,
            stat=ref.statistic,
        ),
    )


def single_metric_props(ref: MetricRef) -> AlarmMetricProps:
    """An alarm on one metric: a percentile ("p90") is an extended statistic, anything else a statistic."""
    percentile = ref.statistic.startswith("p")
    return AlarmMetricProps(
        namespace=ref.namespace,
        metric_name=ref.metric_name,
        dimensions=alarm_dimensions(ref),
        period=ref.period_s,
        statistic=None if percentile else ref.statistic,
        extended_statistic=ref.statistic if percentile else None,
    )


def math_props(math: MetricMath) -> AlarmMetricProps:
    """An alarm on an expression: its inputs (not returned) and the expression's value (`RESULT_ID`)."""
    queries = [alarm_metric_query(ref, return_data=False) for ref in math.inputs]
    queries.append(
        cloudwatch.CfnAlarm.MetricDataQueryProperty(
            id=RESULT_ID, expression=math.expression, label=math.label, return_data=True, period=math.period_s
        )
    )
    return AlarmMetricProps(metrics=queries)


def anomaly_props(ref: MetricRef, band: float, *, band_id: str) -> AlarmMetricProps:
    """An anomaly-detection alarm: the metric and its expected band (`band` standard deviations wide)."""
    return AlarmMetricProps(
        metrics=[
            alarm_metric_query(ref, return_data=True),
            cloudwatch.CfnAlarm.MetricDataQueryProperty(
                id=band_id,
                expression=f"ANOMALY_DETECTION_BAND({ref.id}, {band:g})",
                label=f"{ref.metric_name} (expected)",
                return_data=True,
            ),
        ],
        threshold_metric_id=band_id,
    )


__all__ = [
    "RESULT_ID",
    "AlarmMetricProps",
    "alarm_dimensions",
    "alarm_metric_query",
    "anomaly_props",
    "graph_math",
    "graph_metric",
    "math_props",
    "single_metric_props",
]

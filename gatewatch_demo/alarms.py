"""Evaluate the stack's alarm definitions (gatewatch.alarm_specs) minute by minute over local metrics.

Why: moto stores alarms but never evaluates them. The demo evaluates the very AlarmSpecs the CDK
stack deploys — same metrics, statistics, thresholds, periods and M-of-N rules — and publishes
CloudWatch-shaped ALARM/OK notifications, so the notifier sees what it would see in AWS.
Anomaly detection is approximated by a band of mean ± k·σ over the preceding 15 periods (CloudWatch
trains a model over two weeks; a one-hour demo cannot).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gatewatch_demo.metric_math import evaluate_expression
from gatewatch_demo.metrics import MINUTE_MS, MetricStore
from stacks.monitoring.alarm_specs import AlarmSpec, Comparison, MetricRef, MissingData

ANOMALY_TRAINING_PERIODS = 15


@dataclass(frozen=True)
class AlarmTransition:
    """One state change of one alarm, at the end of the evaluation period that caused it."""

    alarm_name: str
    key: str
    api: str | None
    stage: str | None
    old_state: str
    new_state: str
    time_ms: int
    reason: str
    value: float | None


@dataclass
class _AlarmState:
    state: str = "OK"
    history: list[bool | None] = field(default_factory=list)  # breach per period (None = missing)
    values: list[float | None] = field(default_factory=list)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


class AlarmEvaluator:
    """Holds each alarm's state; `evaluate(end_ms)` checks every alarm whose period ends at end_ms."""

    def __init__(self, specs: tuple[AlarmSpec, ...] | list[AlarmSpec], store: MetricStore) -> None:
        self.specs = list(specs)
        self.store = store
        self._state = {spec.name: _AlarmState() for spec in self.specs}
        self.transitions: list[AlarmTransition] = []

    def value(self, spec: AlarmSpec, start_ms: int) -> float | None:
        math = spec.math
        if math is None:
            (metric,) = spec.metrics
            return self._stat(metric, start_ms)
        inputs = {m.id: self._stat(m, start_ms) for m in math.inputs}
        if all(v is None for v in inputs.values()):
            return None
        return evaluate_expression(math.expression, inputs)

    def _stat(self, metric: MetricRef, start_ms: int) -> float | None:
        return self.store.stat(
            metric.namespace, metric.metric_name, metric.dimension_map, start_ms, metric.period_s, metric.statistic
        )

    def _breaches(self, spec: AlarmSpec, value: float | None, state: _AlarmState) -> bool | None:
        if value is None:
            return None
        if spec.anomaly_band is not None:
            return _outside_band(spec, spec.anomaly_band, value, state.values)
        t = spec.threshold
        return {
            Comparison.GREATER_THAN: value > t,
            Comparison.GREATER_THAN_OR_EQUAL: value >= t,
            Comparison.LESS_THAN: value < t,
        }[spec.comparison]

    def evaluate(self, end_ms: int) -> list[AlarmTransition]:
        """Evaluate every alarm whose period ends at end_ms; returns (and records) the state changes."""
        changes: list[AlarmTransition] = []
        for spec in self.specs:
            if end_ms % (spec.period_s * 1000) == 0:
                change = self._evaluate_one(spec, end_ms)
                if change is not None:
                    changes.append(change)
        self.transitions.extend(changes)
        return changes

    def _evaluate_one(self, spec: AlarmSpec, end_ms: int) -> AlarmTransition | None:
        """Add the period ending at end_ms to the alarm's history; the state change it causes, if any."""
        period_ms = spec.period_s * 1000
        state = self._state[spec.name]
        value = self.value(spec, end_ms - period_ms)
        breach = self._breaches(spec, value, state)
        state.values.append(value)
        state.history.append(breach)
        window = _window(spec, state.history)
        breaching = sum(1 for b in window if b)
        new = _next_state(spec, state.state, window, breaching)
        if new == state.state:
            return None
        shown = "no data" if value is None else f"{value:.4g}"
        reason = (
            f"Threshold Crossed: {breaching} out of the last {len(window)} datapoints "
            f"[{shown} ({_iso(end_ms - period_ms)})] "
            + ("was" if new == "ALARM" else "was not")
            + _condition_words(spec)
            + f" (minimum {spec.datapoints_to_alarm} datapoint(s) for {state.state} -> {new} transition)."
        )
        change = AlarmTransition(spec.name, spec.key, spec.api, spec.stage, state.state, new, end_ms, reason, value)
        state.state = new
        return change

    def state_of(self, alarm_name: str) -> str:
        return self._state[alarm_name].state


def _outside_band(spec: AlarmSpec, band: float, value: float, past_values: list[float | None]) -> bool:
    """The anomaly band: mean ± band·σ of the preceding periods (False while there are too few to train on)."""
    past = [v for v in past_values[-ANOMALY_TRAINING_PERIODS:] if v is not None]
    if len(past) < 5:
        return False  # still training, as CloudWatch's model does
    mean = statistics.fmean(past)
    spread = max(statistics.pstdev(past), 1.0, 0.05 * abs(mean))
    upper, lower = mean + band * spread, mean - band * spread
    if spec.comparison is Comparison.ABOVE_BAND:
        return value > upper
    return value > upper or value < lower


def _window(spec: AlarmSpec, history: list[bool | None]) -> list[bool | None]:
    """The last evaluation periods, with missing data treated as the alarm says."""
    window = history[-spec.evaluation_periods :]
    if spec.treat_missing_data is MissingData.BREACHING:
        return [True if b is None else b for b in window]
    if spec.treat_missing_data is MissingData.NOT_BREACHING:
        return [False if b is None else b for b in window]
    return window


def _next_state(spec: AlarmSpec, current: str, window: list[bool | None], breaching: int) -> str:
    if breaching >= spec.datapoints_to_alarm:
        return "ALARM"
    known = [b for b in window if b is not None]
    if not known and spec.treat_missing_data in (MissingData.MISSING, MissingData.IGNORE):
        return current  # ignore / missing: keep the state when nothing is known
    return "OK"


def _condition_words(spec: AlarmSpec) -> str:
    if spec.is_anomaly:
        return f" outside the band (anomaly detection, {spec.anomaly_band:g} standard deviations)"
    return f" {_comparison_words(spec.comparison)} the threshold ({spec.threshold:g})"


def _comparison_words(c: Comparison) -> str:
    return {
        Comparison.GREATER_THAN: "greater than",
        Comparison.GREATER_THAN_OR_EQUAL: "greater than or equal to",
        Comparison.LESS_THAN: "less than",
    }.get(c, "outside")


def alarm_notification(spec: AlarmSpec, transition: AlarmTransition, *, account: str, region: str) -> dict[str, Any]:
    """The JSON CloudWatch publishes to SNS for a state change (field names as AWS sends them)."""
    trigger: dict[str, Any] = {
        "Period": spec.period_s,
        "EvaluationPeriods": spec.evaluation_periods,
        "DatapointsToAlarm": spec.datapoints_to_alarm,
        "ComparisonOperator": spec.comparison.value,
        "TreatMissingData": spec.treat_missing_data.value,
        "EvaluateLowSampleCountPercentile": "",
    }
    trigger.update(_trigger_metrics(spec))
    return {
        "AlarmName": spec.name,
        "AlarmDescription": spec.description,
        "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": _iso(transition.time_ms - 3_600_000),
        "NewStateValue": transition.new_state,
        "NewStateReason": transition.reason,
        "StateChangeTime": _iso(transition.time_ms),
        "Region": region_name(region),
        "AlarmArn": f"arn:aws:cloudwatch:{region}:{account}:alarm:{spec.name}",
        "OldStateValue": transition.old_state,
        "OKActions": [],
        "AlarmActions": [],
        "InsufficientDataActions": [],
        "Trigger": trigger,
    }


def _trigger_metrics(spec: AlarmSpec) -> dict[str, Any]:
    """The Trigger's part that says what the alarm reads: an anomaly band, metric math, or one metric."""
    math = spec.math
    if math is not None:
        return {
            "Threshold": spec.threshold,
            "Metrics": [
                {
                    "Id": "expr",
                    "Expression": math.expression,
                    "Label": math.label or spec.key,
                    "ReturnData": True,
                }
            ]
            + [{"Id": m.id, "ReturnData": False, "MetricStat": _metric_stat(m)} for m in math.inputs],
        }
    (m,) = spec.metrics
    if spec.is_anomaly:
        return {
            "ThresholdMetricId": "ad1",
            "Metrics": [
                {"Id": "m1", "ReturnData": True, "MetricStat": _metric_stat(m)},
                {
                    "Id": "ad1",
                    "Expression": f"ANOMALY_DETECTION_BAND(m1, {spec.anomaly_band:g})",
                    "Label": f"{m.metric_name} (expected)",
                    "ReturnData": True,
                },
            ],
        }
    percentile = m.statistic.startswith("p")
    return {
        "MetricName": m.metric_name,
        "Namespace": m.namespace,
        "StatisticType": "ExtendedStatistic" if percentile else "Statistic",
        "Statistic": m.statistic if percentile else m.statistic.upper(),
        "Unit": None,
        "Dimensions": _dimensions(m),
        "Threshold": spec.threshold,
    }


def _metric_stat(m: MetricRef) -> dict[str, Any]:
    return {
        "Metric": {"Namespace": m.namespace, "MetricName": m.metric_name, "Dimensions": _dimensions(m)},
        "Period": m.period_s,
        "Stat": m.statistic,
    }


def _dimensions(m: MetricRef) -> list[dict[str, str]]:
    """As CloudWatch writes them in notifications: lower-case keys, value first."""
    return [{"value": v, "name": k} for k, v in m.dimensions]


_REGION_NAMES = {
    "us-east-1": "US East (N. Virginia)",
    "eu-west-1": "EU (Ireland)",
    "eu-central-1": "EU (Frankfurt)",
    "us-west-2": "US West (Oregon)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
}


def region_name(region: str) -> str:
    """CloudWatch puts the long region name in notifications ("EU (Ireland)")."""
    return _REGION_NAMES.get(region, region)


__all__ = ["MINUTE_MS", "AlarmEvaluator", "AlarmTransition", "alarm_notification"]

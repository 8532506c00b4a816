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
from stacks.monitoring.alarm_specs import AlarmSpec, Comparison, MissingData

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
        if spec.expression is not None:
            inputs = {
                m.id: self.store.stat(m.namespace, m.metric_name, m.dimension_map, start_ms, m.period_s, m.statistic)
                for m in spec.inputs
            }
            if all(v is None for v in inputs.values()):
                return None
            return evaluate_expression(spec.expression, inputs)
        m = spec.metric
        assert m is not None
        return self.store.stat(m.namespace, m.metric_name, m.dimension_map, start_ms, m.period_s, m.statistic)

    def _breaches(self, spec: AlarmSpec, value: float | None, state: _AlarmState) -> bool | None:
        if value is None:
            return None
        if spec.is_anomaly:
            past = [v for v in state.values[-ANOMALY_TRAINING_PERIODS:] if v is not None]
            if len(past) < 5:
                return False  # still training, as CloudWatch's model does
            mean = statistics.fmean(past)
            spread = max(statistics.pstdev(past), 1.0, 0.05 * abs(mean))
            upper, lower = mean + spec.anomaly_band * spread, mean - spec.anomaly_band * spread
            if spec.comparison is Comparison.ABOVE_BAND:
                return value > upper
            return value > upper or value < lower
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
            period_ms = spec.period_s * 1000
            if end_ms % period_ms:
                continue
            state = self._state[spec.name]
            value = self.value(spec, end_ms - period_ms)
            breach = self._breaches(spec, value, state)
            state.values.append(value)
            state.history.append(breach)
            window = state.history[-spec.evaluation_periods :]
            if spec.treat_missing_data is MissingData.BREACHING:
                window = [True if b is None else b for b in window]
            elif spec.treat_missing_data is MissingData.NOT_BREACHING:
                window = [False if b is None else b for b in window]
            breaching = sum(1 for b in window if b)
            known = [b for b in window if b is not None]
            if breaching >= spec.datapoints_to_alarm:
                new = "ALARM"
            elif not known and spec.treat_missing_data in (MissingData.MISSING, MissingData.IGNORE):
                new = state.state  # ignore / missing: keep the state when nothing is known
            else:
                new = "OK"
            if new != state.state:
                shown = "no data" if value is None else f"{value:.4g}"
                reason = (
                    f"Threshold Crossed: {breaching} out of the last {len(window)} datapoints "
                    f"[{shown} ({_iso(end_ms - period_ms)})] "
                    + ("was" if new == "ALARM" else "was not")
                    + (
                        f" outside the band (anomaly detection, {spec.anomaly_band:g} standard deviations)"
                        if spec.is_anomaly
                        else f" {_comparison_words(spec.comparison)} the threshold ({spec.threshold:g})"
                    )
                    + f" (minimum {spec.datapoints_to_alarm} datapoint(s) for {state.state} -> {new} transition)."
                )
                t = AlarmTransition(spec.name, spec.key, spec.api, spec.stage, state.state, new, end_ms, reason, value)
                state.state = new
                changes.append(t)
        self.transitions.extend(changes)
        return changes

    def state_of(self, alarm_name: str) -> str:
        return self._state[alarm_name].state


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
    if spec.is_anomaly:
        trigger["ThresholdMetricId"] = "ad1"
        m = spec.metric
        trigger["Metrics"] = [
            {
                "Id": "m1",
                "ReturnData": True,
                "MetricStat": {
                    "Metric": {
                        "Namespace": m.namespace,
                        "MetricName": m.metric_name,
                        "Dimensions": [{"value": v, "name": k} for k, v in m.dimensions],
                    },
                    "Period": m.period_s,
                    "Stat": m.statistic,
                },
            },
            {
                "Id": "ad1",
                "Expression": f"ANOMALY_DETECTION_BAND(m1, {spec.anomaly_band:g})",
                "Label": f"{m.metric_name} (expected)",
                "ReturnData": True,
            },
        ]
    elif spec.expression is not None:
        trigger["Threshold"] = spec.threshold
        trigger["Metrics"] = [
            {
                "Id": "expr",
                "Expression": spec.expression,
                "Label": spec.expression_label or spec.key,
                "ReturnData": True,
            }
        ] + [
            {
                "Id": m.id,
                "ReturnData": False,
                "MetricStat": {
                    "Metric": {
                        "Namespace": m.namespace,
                        "MetricName": m.metric_name,
                        "Dimensions": [{"value": v, "name": k} for k, v in m.dimensions],
                    },
                    "Period": m.period_s,
                    "Stat": m.statistic,
                },
            }
            for m in spec.inputs
        ]
    else:
        m = spec.metric
        trigger.update(
            {
                "MetricName": m.metric_name,
                "Namespace": m.namespace,
                "StatisticType": "ExtendedStatistic" if m.statistic.startswith("p") else "Statistic",
                "Statistic": m.statistic.upper() if not m.statistic.startswith("p") else m.statistic,
                "Unit": None,
                "Dimensions": [{"value": v, "name": k} for k, v in m.dimensions],
                "Threshold": spec.threshold,
            }
        )
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

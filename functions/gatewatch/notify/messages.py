"""What arrived on the gatewatch SNS topic, as frozen dataclasses: an alarm, an analyzer alert, or other.

Why: the notifier must tell a responder what broke whatever the sender. CloudWatch alarm
notifications come in three shapes (a static threshold on one metric, metric math such as an error
rate, an anomaly-detection band), the analyzer publishes its own versioned alert, and anything else
(a test publish, an e-mail-style text, a foreign JSON event) must still be shown readably. Parsing
never raises: what cannot be understood becomes a GenericNotification — JSON nested too deep to
decode, `Infinity` where a count belongs, a period of 10**30 seconds included.

Pure: no AWS call. The SNS event is a plain mapping.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, TypeGuard

from gatewatch.alerts.coerce import optional_float, optional_int, optional_str
from gatewatch.alerts.schema import AnalyzerAlert, is_analyzer_alert
from gatewatch.classify.taxonomy import ErrorCategory
from gatewatch.constants import (
    DEFAULT_NAMESPACE,
    DIM_API,
    DIM_CATEGORY,
    DIM_STAGE,
    METRIC_NEAR_TIMEOUT,
)


class AlarmState(StrEnum):
    ALARM = "ALARM"
    OK = "OK"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class AlarmKind(StrEnum):
    """How the alarm decides: one metric against a number, an expression, or a learned band."""

    STATIC = "static"
    METRIC_MATH = "metric_math"
    ANOMALY_DETECTION = "anomaly_detection"
    COMPOSITE = "composite"  # no Trigger: a rule over other alarms


#: Comparison operators as a person reads them ("value is above 5").
COMPARISON_WORDS: dict[str, str] = {
    "GreaterThanOrEqualToThreshold": "≥",
    "GreaterThanThreshold": ">",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "≤",
    "LessThanLowerOrGreaterThanUpperThreshold": "outside the expected band",
    "GreaterThanUpperThreshold": "above the expected band",
    "LessThanLowerThreshold": "below the expected band",
}


@dataclass(frozen=True, slots=True)
class AlarmMetric:
    """One entry of Trigger.Metrics: a metric (MetricStat) or an expression."""

    id: str
    metric_name: str | None = None
    namespace: str | None = None
    dimensions: tuple[tuple[str, str], ...] = ()
    stat: str | None = None
    period_s: int | None = None
    expression: str | None = None
    label: str | None = None
    return_data: bool = False


@dataclass(frozen=True)
class AlarmNotification:
    """A CloudWatch alarm state change, as delivered to SNS."""

    name: str
    state: AlarmState
    previous_state: AlarmState | None = None
    description: str | None = None
    reason: str | None = None
    changed_at: str | None = None  # StateChangeTime, ISO 8601
    account: str | None = None
    region: str | None = None  # region code (eu-west-1), from the alarm or topic ARN
    region_name: str | None = None  # "EU (Ireland)" as CloudWatch writes it
    arn: str | None = None
    kind: AlarmKind = AlarmKind.STATIC
    metric_name: str | None = None
    namespace: str | None = None
    dimensions: tuple[tuple[str, str], ...] = ()
    statistic: str | None = None
    period_s: int | None = None
    evaluation_periods: int | None = None
    datapoints_to_alarm: int | None = None
    threshold: float | None = None
    comparison_operator: str | None = None
    threshold_metric_id: str | None = None
    metrics: tuple[AlarmMetric, ...] = ()
    treat_missing_data: str | None = None
    observed: float | None = None  # the latest datapoint quoted in the reason
    band: tuple[float | None, float | None] | None = None  # anomaly band (lower, upper) from the reason

    @property
    def is_recovery(self) -> bool:
        return self.state is AlarmState.OK

    @property
    def primary_metric(self) -> AlarmMetric | None:
        """The metric the alarm is about: the metric that feeds the band, or the one data metric."""
        metric_stats = [m for m in self.metrics if m.metric_name]
        if self.kind is AlarmKind.ANOMALY_DETECTION:
            band = next((m for m in self.metrics if m.id == self.threshold_metric_id), None)
            if band and band.expression:
                for m in metric_stats:
                    if re.search(rf"\b{re.escape(m.id)}\b", band.expression):
                        return m
        returned = [m for m in metric_stats if m.return_data]
        return next(iter(returned or metric_stats), None)

    @property
    def all_dimensions(self) -> tuple[tuple[str, str], ...]:
        """Dimensions of the alarm's metric or, for metric math, of every metric it reads (deduplicated)."""
        seen: dict[str, str] = dict(self.dimensions)
        for m in self.metrics:
            for k, v in m.dimensions:
                seen.setdefault(k, v)
        return tuple(seen.items())

    def dimension(self, name: str) -> str | None:
        return dict(self.all_dimensions).get(name)

    @property
    def watched_metric_name(self) -> str | None:
        if self.metric_name:
            return self.metric_name
        primary = self.primary_metric
        return primary.metric_name if primary else None

    @property
    def watched_namespace(self) -> str | None:
        if self.namespace:
            return self.namespace
        namespaces = [m.namespace for m in self.metrics if m.namespace]
        return namespaces[0] if namespaces else None

    @property
    def expression(self) -> str | None:
        """The math expression the alarm compares (metric-math and anomaly alarms)."""
        wanted = self.threshold_metric_id
        for m in self.metrics:
            if m.expression and (m.id == wanted if wanted else m.return_data):
                return m.expression
        return None

    @property
    def expression_label(self) -> str | None:
        for m in self.metrics:
            if m.expression and m.return_data and m.id != self.threshold_metric_id:
                return m.label
        return None

    @property
    def api(self) -> str | None:
        return self.dimension(DIM_API)

    @property
    def stage(self) -> str | None:
        return self.dimension(DIM_STAGE)


@dataclass(frozen=True)
class GenericNotification:
    """Anything else: shown as a subject, a text and a few key/value fields — never a raw JSON dump."""

    subject: str | None
    text: str | None = None
    fields: tuple[tuple[str, str], ...] = ()
    topic_arn: str | None = None
    timestamp: str | None = None


Notification = AlarmNotification | AnalyzerAlert | GenericNotification


@dataclass(frozen=True, slots=True)
class SnsMessage:
    """One SNS record's message and its envelope."""

    message: str
    subject: str | None = None
    topic_arn: str | None = None
    message_id: str | None = None
    timestamp: str | None = None


def sns_messages(event: Any) -> list[SnsMessage]:
    """The SNS messages of a Lambda SNS event (malformed records become empty generic messages)."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    out: list[SnsMessage] = []
    for record in records if isinstance(records, list) else []:
        sns = record.get("Sns") if isinstance(record, Mapping) else None
        if not isinstance(sns, Mapping):
            continue
        message = sns.get("Message")
        out.append(
            SnsMessage(
                message=message if isinstance(message, str) else _dumps(message),
                subject=optional_str(sns.get("Subject")),
                topic_arn=optional_str(sns.get("TopicArn")),
                message_id=optional_str(sns.get("MessageId")),
                timestamp=optional_str(sns.get("Timestamp")),
            )
        )
    return out


def parse_sns_message(sns: SnsMessage) -> Notification:
    """Recognise what arrived. Never raises."""
    try:
        raw = json.loads(sns.message) if sns.message and sns.message.lstrip()[:1] in ("{", "[") else None
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the decoder goes ('[' * 900)
        raw = None
    try:
        if is_analyzer_alert(raw):
            return AnalyzerAlert.from_dict(raw)
        if is_alarm_message(raw):
            return parse_alarm(raw, topic_arn=sns.topic_arn)
    except Exception:  # a message that looks like one but is broken: show it generically
        pass
    try:
        return _generic(raw, sns)
    except Exception:  # the generic reading of the parsed value failed too: show the text as it came
        return _generic(None, sns)


def parse_notification(message: str, *, subject: str | None = None, topic_arn: str | None = None) -> Notification:
    """Convenience for callers holding a bare message string (the CLI, tests)."""
    return parse_sns_message(SnsMessage(message=message, subject=subject, topic_arn=topic_arn))


def is_alarm_message(raw: Any) -> TypeGuard[Mapping[str, Any]]:
    return isinstance(raw, Mapping) and "AlarmName" in raw and "NewStateValue" in raw


def parse_alarm(raw: Mapping[str, Any], *, topic_arn: str | None = None) -> AlarmNotification:
    """Parse a CloudWatch alarm notification (static, metric math, anomaly detection, composite)."""
    alarm = _state_change(raw, topic_arn)
    trigger = raw.get("Trigger")
    return _with_trigger(alarm, trigger) if isinstance(trigger, Mapping) else alarm


def _state_change(raw: Mapping[str, Any], topic_arn: str | None) -> AlarmNotification:
    """What every alarm notification says: which alarm, its new state and why. Without a Trigger
    (a rule over other alarms) that is all there is: a composite alarm."""
    arn = optional_str(raw.get("AlarmArn"))
    reason = optional_str(raw.get("NewStateReason"))
    return AlarmNotification(
        kind=AlarmKind.COMPOSITE,
        name=optional_str(raw.get("AlarmName")) or "",
        state=_state(raw.get("NewStateValue")) or AlarmState.INSUFFICIENT_DATA,
        previous_state=_state(raw.get("OldStateValue")),
        description=_non_empty_str(raw.get("AlarmDescription")),
        reason=reason,
        changed_at=optional_str(raw.get("StateChangeTime")),
        account=optional_str(raw.get("AWSAccountId")) or _arn_part(arn, 4) or _arn_part(topic_arn, 4),
        region=_arn_part(arn, 3) or _arn_part(topic_arn, 3),
        region_name=optional_str(raw.get("Region")),
        arn=arn,
        observed=_observed(reason),
        band=_band(reason),
    )


def _with_trigger(alarm: AlarmNotification, trigger: Mapping[str, Any]) -> AlarmNotification:
    """The alarm with what its Trigger says: the metric or metrics it reads and the condition."""
    metrics = tuple(_alarm_metric(m) for m in trigger.get("Metrics") or [] if isinstance(m, Mapping))
    threshold_metric_id = _non_empty_str(trigger.get("ThresholdMetricId"))
    kind = _alarm_kind(threshold_metric_id, metrics)
    return replace(
        alarm,
        kind=kind,
        metric_name=_non_empty_str(trigger.get("MetricName")),
        namespace=_non_empty_str(trigger.get("Namespace")),
        dimensions=_dimensions(trigger.get("Dimensions")),
        statistic=_trigger_statistic(trigger, kind, metrics),
        period_s=optional_int(trigger.get("Period"), low=1, high=MAX_PERIOD_S),
        evaluation_periods=optional_int(trigger.get("EvaluationPeriods"), low=1, high=MAX_EVALUATION_PERIODS),
        datapoints_to_alarm=optional_int(trigger.get("DatapointsToAlarm"), low=1, high=MAX_EVALUATION_PERIODS),
        threshold=None if threshold_metric_id else optional_float(trigger.get("Threshold")),
        comparison_operator=optional_str(trigger.get("ComparisonOperator")),
        threshold_metric_id=threshold_metric_id,
        metrics=metrics,
        treat_missing_data=optional_str(trigger.get("TreatMissingData")),
    )


def _alarm_kind(threshold_metric_id: str | None, metrics: tuple[AlarmMetric, ...]) -> AlarmKind:
    if threshold_metric_id:
        return AlarmKind.ANOMALY_DETECTION
    return AlarmKind.METRIC_MATH if metrics else AlarmKind.STATIC


def _trigger_statistic(trigger: Mapping[str, Any], kind: AlarmKind, metrics: tuple[AlarmMetric, ...]) -> str | None:
    """The statistic as people write it ("Sum", "p90"); for metric math, the first input's."""
    statistic = optional_str(trigger.get("ExtendedStatistic")) or optional_str(trigger.get("Statistic"))
    if statistic and statistic.isupper():
        statistic = statistic.capitalize()  # CloudWatch writes AVERAGE / SUM here
    if statistic is None and kind is not AlarmKind.STATIC:
        primary = next((m for m in metrics if m.stat), None)
        statistic = primary.stat if primary else None
    return statistic


#: Metrics whose name alone implies a category (DESIGN §5: NearTimeout = latency at the integration timeout).
_METRIC_CATEGORY: dict[str, ErrorCategory] = {METRIC_NEAR_TIMEOUT: ErrorCategory.INTEGRATION_TIMEOUT}
_CATEGORY_NAMES = frozenset(c.value for c in ErrorCategory if c is not ErrorCategory.OK)
_NAME_TOKEN = re.compile(r"[A-Z][A-Z0-9_]{1,40}")


def implied_category(alarm: AlarmNotification, namespace: str = DEFAULT_NAMESPACE) -> ErrorCategory | None:
    """The error category an alarm on gatewatch's own metrics is about, if any.

    Evidence, most specific first: a `Category` dimension; a metric whose name implies one
    (NearTimeout); a category name in the alarm name (`gatewatch-orders-prod-THROTTLED`).
    Alarms on other namespaces are never enriched: their `Category` means something else.
    """
    if alarm.watched_namespace != namespace:
        return None
    value = alarm.dimension(DIM_CATEGORY)
    if value in _CATEGORY_NAMES:
        return ErrorCategory(value)
    by_metric = _METRIC_CATEGORY.get(alarm.watched_metric_name or "")
    if by_metric is not None:
        return by_metric
    for token in _NAME_TOKEN.findall(alarm.name[:255]):
        if token in _CATEGORY_NAMES:
            return ErrorCategory(token)
    return None


# --- helpers -------------------------------------------------------------------------------------

#: Bounds on what an alarm can say about its periods: CloudWatch allows far less (a period of at most a
#: day, period × evaluation periods of at most a week); anything beyond is read as not said, so no date
#: arithmetic downstream can overflow on it.
MAX_PERIOD_S = 31 * 86_400
MAX_EVALUATION_PERIODS = 10_000

_FLOAT = r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?"
# "... datapoints [12.0 (25/11/26 14:00:00), 9.0 (...)] was greater than ..." — the first is the latest.
_OBSERVED = re.compile(rf"datapoints? \[({_FLOAT}) \(")
_LOWER = re.compile(rf"lower thresholds? \[({_FLOAT})\]")
_UPPER = re.compile(rf"upper thresholds? \[({_FLOAT})\]")


def _observed(reason: str | None) -> float | None:
    m = _OBSERVED.search(reason[:4096]) if reason else None
    return optional_float(m.group(1)) if m else None


def _band(reason: str | None) -> tuple[float | None, float | None] | None:
    if not reason:
        return None
    lower, upper = _LOWER.search(reason[:4096]), _UPPER.search(reason[:4096])
    if not lower and not upper:
        return None
    return (optional_float(lower.group(1)) if lower else None, optional_float(upper.group(1)) if upper else None)


def _alarm_metric(raw: Mapping[str, Any]) -> AlarmMetric:
    stat = _mapping(raw.get("MetricStat"))
    metric = _mapping(stat.get("Metric"))
    return AlarmMetric(
        id=optional_str(raw.get("Id")) or "",
        metric_name=_non_empty_str(metric.get("MetricName")),
        namespace=_non_empty_str(metric.get("Namespace")),
        dimensions=_dimensions(metric.get("Dimensions")),
        stat=_non_empty_str(stat.get("Stat")),
        period_s=optional_int(stat.get("Period"), low=1, high=MAX_PERIOD_S),
        expression=_non_empty_str(raw.get("Expression")),
        label=_non_empty_str(raw.get("Label")),
        return_data=raw.get("ReturnData") is True,
    )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _non_empty_str(value: Any) -> str | None:
    """The value as a string, or None when it is absent or empty."""
    return optional_str(value) or None


def _dimensions(raw: Any) -> tuple[tuple[str, str], ...]:
    """Alarm payloads write dimensions as [{"name": .., "value": ..}] (lower case); accept both cases."""
    out = []
    for d in raw if isinstance(raw, list) else []:
        if isinstance(d, Mapping):
            name = optional_str(d.get("name", d.get("Name")))
            value = optional_str(d.get("value", d.get("Value")))
            if name is not None and value is not None:
                out.append((name, value))
    return tuple(out)


def _state(value: Any) -> AlarmState | None:
    try:
        return AlarmState(str(value))
    except ValueError:
        return None


def _arn_part(arn: str | None, index: int) -> str | None:
    if not arn or not arn.startswith("arn:"):
        return None
    parts = arn.split(":", 6)
    return (parts[index] or None) if len(parts) > index else None


_MAX_GENERIC_FIELDS = 12


def _generic(raw: Any, sns: SnsMessage) -> GenericNotification:
    if isinstance(raw, Mapping):
        fields = tuple((str(k), _compact(v)) for k, v in list(raw.items())[:_MAX_GENERIC_FIELDS])
        text = None
        if len(raw) > _MAX_GENERIC_FIELDS:
            text = f"… and {len(raw) - _MAX_GENERIC_FIELDS} more fields"
        return GenericNotification(
            subject=sns.subject, text=text, fields=fields, topic_arn=sns.topic_arn, timestamp=sns.timestamp
        )
    if isinstance(raw, list):
        return GenericNotification(
            subject=sns.subject,
            text=f"A list of {len(raw)} items: " + _compact(raw),
            topic_arn=sns.topic_arn,
            timestamp=sns.timestamp,
        )
    return GenericNotification(
        subject=sns.subject, text=sns.message or None, topic_arn=sns.topic_arn, timestamp=sns.timestamp
    )


_MAX_COMPACT_DEPTH = 4


def _compact(value: Any, limit: int = 300, depth: int = 0) -> str:
    """A one-line, human-sized rendering of a nested value (four levels deep at most, then "…")."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, (int, float, bool)) or value is None:
        text = json.dumps(value)
    elif depth >= _MAX_COMPACT_DEPTH and isinstance(value, (Mapping, list, tuple)):
        text = "…"
    elif isinstance(value, Mapping):
        text = ", ".join(f"{k}={_compact(v, 60, depth + 1)}" for k, v in list(value.items())[:8])
        if len(value) > 8:
            text += ", …"
    elif isinstance(value, (list, tuple)):
        text = ", ".join(_compact(v, 60, depth + 1) for v in list(value)[:8])
        if len(value) > 8:
            text += ", …"
    else:
        text = optional_str(value) or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _dumps(value: Any) -> str:
    """An SNS `Message` that is not a string (a test event), as JSON text; nested too deep, as nothing."""
    try:
        return json.dumps(value, default=str)
    except (ValueError, TypeError, RecursionError):
        return ""

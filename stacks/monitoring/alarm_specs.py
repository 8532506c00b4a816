"""The alarm definitions, as data: one source of truth for the CDK stack and the local demo.

Why data and not CDK code: the stack turns every `AlarmSpec` into a CloudWatch alarm, and the
local demo evaluates the very same specs over metrics it computed on a laptop. If the thresholds,
periods or expressions lived in the stack, the demo would drift from what is deployed.

Defaults follow AWS's recommended API Gateway alarms (DESIGN §6): 5xx rate > 5 % for 3 of 3
minutes, 4xx rate > 5 % for 5 of 5 minutes, p90 latency ≥ 2,500 ms, p90 integration latency
≥ 2,000 ms; plus any near-timeout, THROTTLED / QUOTA_EXCEEDED bursts and anomaly detection on
`Requests` and `Errors5xx`. And silence: a stage that goes quiet writes no log line, so every metric
stops — only an alarm that treats missing data as breaching sees a total outage (`silence`).
gatewatch watches itself too: analyzer errors and throttles, the dead-letter queue's depth, the
share of lines it could not parse, and the share of access lines it had to read distrustfully.

Pure Python: no CDK, no boto3. Dimension values may be CDK tokens (strings) when the stack builds
the specs; the demo passes real names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any

from gatewatch.classify.taxonomy import ErrorCategory
from gatewatch.constants import (
    DEFAULT_NAMESPACE,
    DIM_API,
    DIM_CATEGORY,
    DIM_SOURCE,
    DIM_STAGE,
    METRIC_ERRORS,
    METRIC_ERRORS_4XX,
    METRIC_ERRORS_5XX,
    METRIC_INTEGRATION_LATENCY,
    METRIC_LATENCY,
    METRIC_LINES_PARSED,
    METRIC_LINES_SUSPICIOUS,
    METRIC_LINES_UNPARSED,
    METRIC_NEAR_TIMEOUT,
    METRIC_REQUESTS,
    SOURCE_ACCESS,
    SOURCE_EXECUTION,
)
from gatewatch.naming import alarm_name, health_alarm_name

LAMBDA_NAMESPACE = "AWS/Lambda"
SQS_NAMESPACE = "AWS/SQS"
ONE_MINUTE = 60
FIVE_MINUTES = 300


class Comparison(StrEnum):
    """CloudWatch's ComparisonOperator values (the anomaly ones compare against a band)."""

    GREATER_THAN = "GreaterThanThreshold"
    GREATER_THAN_OR_EQUAL = "GreaterThanOrEqualToThreshold"
    LESS_THAN = "LessThanThreshold"
    OUTSIDE_BAND = "LessThanLowerOrGreaterThanUpperThreshold"
    ABOVE_BAND = "GreaterThanUpperThreshold"

    @property
    def is_band(self) -> bool:
        return self in (Comparison.OUTSIDE_BAND, Comparison.ABOVE_BAND)


class MissingData(StrEnum):
    """TreatMissingData: no traffic means no error, so most gatewatch alarms say notBreaching; the
    silence alarm says breaching — for it, no data IS the outage."""

    NOT_BREACHING = "notBreaching"
    BREACHING = "breaching"
    IGNORE = "ignore"
    MISSING = "missing"


@dataclass(frozen=True, slots=True)
class MetricRef:
    """One CloudWatch metric with its statistic ("Sum", "Maximum", "p90", ...) and period."""

    id: str  # the metric-math id ("requests", "e5") — lower-case, unique within a spec
    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    statistic: str
    period_s: int = ONE_MINUTE

    @property
    def dimension_map(self) -> dict[str, str]:
        return dict(self.dimensions)


@dataclass(frozen=True, slots=True)
class MetricMath:
    """A metric-math expression over its input metrics (whose ids it names), as alarms and graphs use it."""

    expression: str
    inputs: tuple[MetricRef, ...]
    label: str | None = None
    period_s: int = ONE_MINUTE


@dataclass(frozen=True, slots=True)
class AlarmSpec:
    """Everything CloudWatch needs for one alarm.

    Exactly one of `metric` (a plain or percentile statistic) and `expression` (metric math over
    `inputs`) is set. For anomaly detection, `metric` is set and `anomaly_band` is the band width in
    standard deviations; `threshold` is then unused (0).
    """

    key: str  # short and stable: "5xx-rate", "p90-latency", "analyzer-errors"
    name: str
    description: str
    threshold: float
    comparison: Comparison
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing_data: MissingData
    period_s: int
    metric: MetricRef | None = None
    expression: str | None = None
    expression_label: str | None = None
    inputs: tuple[MetricRef, ...] = ()
    anomaly_band: float | None = None
    api: str | None = None
    stage: str | None = None

    def __post_init__(self) -> None:
        if (self.metric is None) == (self.expression is None):
            raise ValueError(f"alarm {self.key}: set exactly one of metric and expression")
        if self.expression is not None and not self.inputs:
            raise ValueError(f"alarm {self.key}: a metric-math alarm needs its input metrics")
        if self.comparison.is_band and self.anomaly_band is None:
            raise ValueError(f"alarm {self.key}: a band comparison needs anomaly_band")
        if not 1 <= self.datapoints_to_alarm <= self.evaluation_periods:
            raise ValueError(f"alarm {self.key}: datapoints_to_alarm must be within 1..evaluation_periods")

    @property
    def is_anomaly(self) -> bool:
        return self.anomaly_band is not None

    @property
    def math(self) -> MetricMath | None:
        """The expression with its inputs, for a metric-math alarm; None for an alarm on one metric."""
        if self.expression is None:
            return None
        return MetricMath(self.expression, self.inputs, self.expression_label, self.period_s)

    @property
    def metrics(self) -> tuple[MetricRef, ...]:
        """Every metric the alarm reads (the demo needs them to evaluate the alarm)."""
        if self.metric is not None:
            return (self.metric,)
        return self.inputs


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Per-API alarm thresholds (DESIGN §6 defaults). Keys in cdk.json are the camelCase names."""

    error5xx_rate_pct: float = 5.0
    error5xx_periods: int = 3  # minutes evaluated; all must breach
    error4xx_rate_pct: float = 5.0
    error4xx_periods: int = 5
    latency_p90_ms: float = 2_500.0
    integration_latency_p90_ms: float = 2_000.0
    latency_periods: int = 5
    near_timeouts_per_minute: float = 1.0  # any near-timeout
    throttled_per_minute: float = 10.0  # a THROTTLED burst
    quota_exceeded_per_minute: float = 1.0  # any client out of quota
    anomaly_band: float = 2.0  # standard deviations
    anomaly_periods: int = 5
    silence_minutes: int = 10  # minutes in a row below silence_requests_per_minute; 0 = no silence alarm
    silence_requests_per_minute: float = 1.0  # fewer requests than this in a minute is silence

    #: cdk.json key -> field name (the one place the public spelling lives)
    @classmethod
    def config_keys(cls) -> dict[str, str]:
        return {_camel(f.name): f.name for f in fields(cls)}

    def merged(self, overrides: Mapping[str, Any]) -> Thresholds:
        """A copy with the given field values replaced (values already validated)."""
        return replace(self, **dict(overrides)) if overrides else self


@dataclass(frozen=True, slots=True)
class HealthThresholds:
    """gatewatch's own health: when its pipeline, not the user's API, needs attention."""

    analyzer_errors: float = 1.0  # per 5 minutes
    analyzer_throttles: float = 1.0  # per 5 minutes
    notifier_errors: float = 1.0  # per 5 minutes
    dead_letter_messages: float = 1.0  # any message kept in the DLQ is an alert not delivered
    unparsed_rate_pct: float = 5.0  # of lines, per source, over 3 × 5 minutes
    suspicious_rate_pct: float = 5.0  # of parsed access lines, over 3 × 5 minutes


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def api_dimensions(api: str, stage: str, **extra: str) -> tuple[tuple[str, str], ...]:
    """The EMF dimension set of a per-API metric, in the analyzer's order (Api, Stage, then one more)."""
    dims = [(DIM_API, api), (DIM_STAGE, stage)]
    dims.extend(extra.items())
    return tuple(dims)


def api_metric(
    api: str,
    stage: str,
    metric_name: str,
    statistic: str,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    metric_id: str = "m",
    **extra: str,
) -> MetricRef:
    """One per-API metric of the analyzer's (per minute), optionally with one more dimension (Category=...)."""
    return MetricRef(metric_id, namespace, metric_name, api_dimensions(api, stage, **extra), statistic)


def source_metric(
    metric_name: str, source: str, *, namespace: str = DEFAULT_NAMESPACE, metric_id: str = "m"
) -> MetricRef:
    """One of gatewatch's own per-source metrics (LinesParsed / LinesUnparsed), per 5 minutes."""
    return MetricRef(metric_id, namespace, metric_name, ((DIM_SOURCE, source),), "Sum", FIVE_MINUTES)


#: The error classes with a rate: their metric -> the word graphs and alarms use for them.
ERROR_RATE_CLASSES: dict[str, str] = {METRIC_ERRORS_5XX: "5xx", METRIC_ERRORS_4XX: "4xx"}


def error_rate(
    api: str,
    stage: str,
    errors_metric: str,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    ids: tuple[str, str] = ("requests", "errors"),
) -> MetricMath:
    """The percentage of requests that failed with `errors_metric` (Errors5xx or Errors4xx); 0 without traffic.

    `ids` name the requests and errors inputs: metric ids must be unique within one graph, so a
    dashboard showing two rates together gives each its own.
    """
    requests_id, errors_id = ids
    return MetricMath(
        expression=f"IF({requests_id} > 0, 100 * FILL({errors_id}, 0) / {requests_id}, 0)",
        inputs=(
            api_metric(api, stage, METRIC_REQUESTS, "Sum", namespace=namespace, metric_id=requests_id),
            api_metric(api, stage, errors_metric, "Sum", namespace=namespace, metric_id=errors_id),
        ),
        label=f"{ERROR_RATE_CLASSES[errors_metric]} rate (%)",
    )


def unparsed_rate(source: str, *, namespace: str = DEFAULT_NAMESPACE) -> MetricMath:
    """The percentage of a source's log lines the analyzer could not parse, per 5 minutes; 0 without lines."""
    return MetricMath(
        expression="IF(FILL(parsed, 0) + FILL(unparsed, 0) > 0, "
        "100 * FILL(unparsed, 0) / (FILL(parsed, 0) + FILL(unparsed, 0)), 0)",
        inputs=(
            source_metric(METRIC_LINES_PARSED, source, namespace=namespace, metric_id="parsed"),
            source_metric(METRIC_LINES_UNPARSED, source, namespace=namespace, metric_id="unparsed"),
        ),
        label=f"Unparsed {source} lines (%)",
        period_s=FIVE_MINUTES,
    )


def suspicious_rate(*, namespace: str = DEFAULT_NAMESPACE) -> MetricMath:
    """The percentage of parsed access lines read distrustfully (a caller's value added keys), per 5
    minutes; 0 without lines."""
    return MetricMath(
        expression="IF(FILL(parsed, 0) > 0, 100 * FILL(suspicious, 0) / FILL(parsed, 0), 0)",
        inputs=(
            source_metric(METRIC_LINES_PARSED, SOURCE_ACCESS, namespace=namespace, metric_id="parsed"),
            source_metric(METRIC_LINES_SUSPICIOUS, SOURCE_ACCESS, namespace=namespace, metric_id="suspicious"),
        ),
        label=f"Suspicious {SOURCE_ACCESS} lines (%)",
        period_s=FIVE_MINUTES,
    )


def _rate_spec(
    *, key: str, name: str, api: str, stage: str, namespace: str, errors_metric: str, pct: float, periods: int
) -> AlarmSpec:
    rate = error_rate(api, stage, errors_metric, namespace=namespace)
    what = ERROR_RATE_CLASSES[errors_metric]
    return AlarmSpec(
        key=key,
        name=name,
        description=(
            f"{what} rate of {api}/{stage} above {pct:g}% for {periods} of {periods} minutes. "
            f"The dashboard's 'Errors by category' says which ones and whether a retry helps."
        ),
        threshold=pct,
        comparison=Comparison.GREATER_THAN,
        evaluation_periods=periods,
        datapoints_to_alarm=periods,
        treat_missing_data=MissingData.NOT_BREACHING,
        period_s=rate.period_s,
        expression=rate.expression,
        expression_label=rate.label,
        inputs=rate.inputs,
        api=api,
        stage=stage,
    )


def _simple_spec(
    *,
    key: str,
    api: str | None,
    stage: str | None,
    name: str,
    description: str,
    metric: MetricRef,
    threshold: float,
    periods: int = 1,
    datapoints: int | None = None,
    comparison: Comparison = Comparison.GREATER_THAN_OR_EQUAL,
    missing: MissingData = MissingData.NOT_BREACHING,
) -> AlarmSpec:
    return AlarmSpec(
        key=key,
        name=name,
        description=description,
        threshold=threshold,
        comparison=comparison,
        evaluation_periods=periods,
        datapoints_to_alarm=datapoints or periods,
        treat_missing_data=missing,
        period_s=metric.period_s,
        metric=metric,
        api=api,
        stage=stage,
    )


def api_alarm_specs(
    api: str,
    stage: str,
    thresholds: Thresholds = Thresholds(),
    namespace: str = DEFAULT_NAMESPACE,
    *,
    deployment: str | None = None,
) -> tuple[AlarmSpec, ...]:
    """The alarms of one watched API stage. `api` is the Api dimension value (friendly name or id);
    `deployment` (the stack name) starts every alarm name (`gatewatch.naming.alarm_name`)."""
    t = thresholds

    def name(key: str) -> str:
        return alarm_name(api, stage, key, deployment)

    def metric(id_: str, name: str, statistic: str, **extra: str) -> MetricRef:
        return api_metric(api, stage, name, statistic, namespace=namespace, metric_id=id_, **extra)

    def category_burst(category: ErrorCategory, per_minute: float, advice: str) -> AlarmSpec:
        key = category.value  # the notifier recognises a category name in an alarm name (naming.alarm_name)
        return _simple_spec(
            key=key,
            api=api,
            stage=stage,
            name=name(key),
            description=f"{category.value} responses on {api}/{stage}: at least {per_minute:g} in a minute. {advice}",
            metric=metric("errors", METRIC_ERRORS, "Sum", **{DIM_CATEGORY: category.value}),
            threshold=per_minute,
        )

    return (
        _rate_spec(
            key="5xx-rate",
            name=name("5xx-rate"),
            api=api,
            stage=stage,
            namespace=namespace,
            errors_metric=METRIC_ERRORS_5XX,
            pct=t.error5xx_rate_pct,
            periods=t.error5xx_periods,
        ),
        _rate_spec(
            key="4xx-rate",
            name=name("4xx-rate"),
            api=api,
            stage=stage,
            namespace=namespace,
            errors_metric=METRIC_ERRORS_4XX,
            pct=t.error4xx_rate_pct,
            periods=t.error4xx_periods,
        ),
        _simple_spec(
            key="p90-latency",
            api=api,
            stage=stage,
            name=name("p90-latency"),
            description=f"p90 latency of {api}/{stage} at or above {t.latency_p90_ms:g} ms for "
            f"{t.latency_periods} of {t.latency_periods} minutes.",
            metric=metric("latency", METRIC_LATENCY, "p90"),
            threshold=t.latency_p90_ms,
            periods=t.latency_periods,
        ),
        _simple_spec(
            key="p90-integration-latency",
            api=api,
            stage=stage,
            name=name("p90-integration-latency"),
            description=f"p90 integration (backend) latency of {api}/{stage} at or above "
            f"{t.integration_latency_p90_ms:g} ms for {t.latency_periods} of {t.latency_periods} minutes.",
            metric=metric("integration", METRIC_INTEGRATION_LATENCY, "p90"),
            threshold=t.integration_latency_p90_ms,
            periods=t.latency_periods,
        ),
        _simple_spec(
            key="near-timeout",
            api=api,
            stage=stage,
            name=name("near-timeout"),
            description=f"Requests of {api}/{stage} within 10% of the integration timeout "
            f"(at least {t.near_timeouts_per_minute:g} in a minute, in any of the last 3 minutes): "
            "the next slow-down becomes 504s.",
            metric=metric("near", METRIC_NEAR_TIMEOUT, "Sum"),
            threshold=t.near_timeouts_per_minute,
            # 1 of 3: any near-timeout alarms at once, but a sparse drift does not flap OK/ALARM every minute.
            periods=3,
            datapoints=1,
        ),
        category_burst(
            ErrorCategory.THROTTLED,
            t.throttled_per_minute,
            "Callers hit a stage, method, usage-plan or account throttle limit: retry with backoff.",
        ),
        category_burst(
            ErrorCategory.QUOTA_EXCEEDED,
            t.quota_exceeded_per_minute,
            "An API key ran out of its usage-plan quota: it works again after the quota period.",
        ),
        AlarmSpec(
            key="requests-anomaly",
            name=name("requests-anomaly"),
            description=f"Request volume of {api}/{stage} outside its expected band "
            f"({t.anomaly_band:g} standard deviations): a drop can mean some clients cannot reach the API. "
            "No request at all leaves no datapoint and keeps this alarm as it was: the silence alarm covers that.",
            threshold=0,
            comparison=Comparison.OUTSIDE_BAND,
            evaluation_periods=t.anomaly_periods,
            datapoints_to_alarm=t.anomaly_periods,
            treat_missing_data=MissingData.IGNORE,
            period_s=ONE_MINUTE,
            metric=metric("requests", METRIC_REQUESTS, "Sum"),
            anomaly_band=t.anomaly_band,
            api=api,
            stage=stage,
        ),
        AlarmSpec(
            key="5xx-anomaly",
            name=name("5xx-anomaly"),
            description=f"5xx count of {api}/{stage} above its expected band ({t.anomaly_band:g} standard deviations).",
            threshold=0,
            comparison=Comparison.ABOVE_BAND,
            evaluation_periods=t.anomaly_periods,
            datapoints_to_alarm=t.anomaly_periods,
            treat_missing_data=MissingData.NOT_BREACHING,
            period_s=ONE_MINUTE,
            metric=metric("e5", METRIC_ERRORS_5XX, "Sum"),
            anomaly_band=t.anomaly_band,
            api=api,
            stage=stage,
        ),
    ) + _silence_specs(api, stage, t, namespace, name("silence"))


def _silence_specs(api: str, stage: str, thresholds: Thresholds, namespace: str, name: str) -> tuple[AlarmSpec, ...]:
    """The outage alarm: fewer than `silence_requests_per_minute` requests in each of the last
    `silence_minutes` minutes. None when silence_minutes is 0 (a stage idle by design).

    A total outage writes no access line, so the analyzer emits no `Requests` datapoint at all: the
    alarm must treat missing data as breaching (every other alarm here treats it as not breaching, and
    the anomaly band keeps its state). The price: a stage that never has traffic is in ALARM too, after
    `silence_minutes` — which is the reason `0` turns the alarm off for that stage.
    """
    t = thresholds
    if t.silence_minutes <= 0:
        return ()
    return (
        _simple_spec(
            key="silence",
            api=api,
            stage=stage,
            name=name,
            description=f"{api}/{stage} received fewer than {t.silence_requests_per_minute:g} request(s) a minute "
            f"for {t.silence_minutes} minutes in a row: no request reaches the stage (DNS, a deleted custom-domain "
            "mapping or stage, a client-side outage) or its access logging stopped. A stage idle by design "
            "alarms too: set thresholds.silenceMinutes to 0 for it.",
            metric=api_metric(api, stage, METRIC_REQUESTS, "Sum", namespace=namespace, metric_id="requests"),
            threshold=t.silence_requests_per_minute,
            periods=t.silence_minutes,
            comparison=Comparison.LESS_THAN,
            missing=MissingData.BREACHING,
        ),
    )


def health_alarm_specs(
    deployment: str | None,
    *,
    analyzer_function: str,
    notifier_function: str,
    dead_letter_queue: str,
    thresholds: HealthThresholds = HealthThresholds(),
    namespace: str = DEFAULT_NAMESPACE,
) -> tuple[AlarmSpec, ...]:
    """gatewatch's own alarms. `deployment` (the stack name) keeps names unique when two gatewatch
    stacks share an account (`gatewatch.naming.health_alarm_name`)."""
    t = thresholds

    def name(what: str) -> str:
        return health_alarm_name(what, deployment)

    def lambda_metric(id_: str, function: str, metric_name: str) -> MetricRef:
        return MetricRef(id_, LAMBDA_NAMESPACE, metric_name, (("FunctionName", function),), "Sum", FIVE_MINUTES)

    specs = [
        _simple_spec(
            key="analyzer-errors",
            api=None,
            stage=None,
            name=name("analyzer-errors"),
            description="The analyzer failed on a batch (it retries; what still fails lands in the "
            "dead-letter queue). Metrics for those requests are missing.",
            metric=lambda_metric("errors", analyzer_function, "Errors"),
            threshold=t.analyzer_errors,
        ),
        _simple_spec(
            key="analyzer-throttles",
            api=None,
            stage=None,
            name=name("analyzer-throttles"),
            description="The analyzer was throttled: raise the account's concurrency or use the Kinesis mode.",
            metric=lambda_metric("throttles", analyzer_function, "Throttles"),
            threshold=t.analyzer_throttles,
        ),
        _simple_spec(
            key="notifier-errors",
            api=None,
            stage=None,
            name=name("notifier-errors"),
            description="The notifier could not deliver an alert to Slack (it retries, then keeps it "
            "in the dead-letter queue).",
            metric=lambda_metric("errors", notifier_function, "Errors"),
            threshold=t.notifier_errors,
        ),
        _simple_spec(
            key="dead-letters",
            api=None,
            stage=None,
            name=name("dead-letters"),
            description="Events or alerts are waiting in gatewatch's dead-letter queue: inspect and redrive them.",
            metric=MetricRef(
                "depth",
                SQS_NAMESPACE,
                "ApproximateNumberOfMessagesVisible",
                (("QueueName", dead_letter_queue),),
                "Maximum",
                FIVE_MINUTES,
            ),
            threshold=t.dead_letter_messages,
        ),
    ]
    shares = [
        (
            f"{source}-unparsed-rate",
            unparsed_rate(source, namespace=namespace),
            t.unparsed_rate_pct,
            f"More than {t.unparsed_rate_pct:g}% of {source} log lines could not be parsed for 15 minutes: "
            "the log format changed or is not one gatewatch reads (see the analyzer's rejection log lines).",
        )
        for source in (SOURCE_ACCESS, SOURCE_EXECUTION)
    ]
    shares.append(
        (
            f"{SOURCE_ACCESS}-suspicious-rate",
            suspicious_rate(namespace=namespace),
            t.suspicious_rate_pct,
            f"More than {t.suspicious_rate_pct:g}% of {SOURCE_ACCESS} log lines were read distrustfully for "
            "15 minutes: they carry keys a caller's value added (API Gateway does not escape values), so their "
            "Api, Stage and Route are not believed and they raise no alert. Either callers are injecting keys, or the "
            "access-log format changed with a new field right after a caller-controlled one such as userAgent: "
            "keep caller-controlled fields last, then update the analyzer function so it learns the new format.",
        )
    )
    for key, rate, pct, description in shares:
        specs.append(
            AlarmSpec(
                key=key,
                name=name(key),
                description=description,
                threshold=pct,
                comparison=Comparison.GREATER_THAN,
                evaluation_periods=3,
                datapoints_to_alarm=3,
                treat_missing_data=MissingData.NOT_BREACHING,
                period_s=rate.period_s,
                expression=rate.expression,
                expression_label=rate.label,
                inputs=rate.inputs,
            )
        )
    return tuple(specs)


__all__ = [
    "ERROR_RATE_CLASSES",
    "AlarmSpec",
    "Comparison",
    "HealthThresholds",
    "MetricMath",
    "MetricRef",
    "MissingData",
    "Thresholds",
    "api_alarm_specs",
    "api_dimensions",
    "api_metric",
    "error_rate",
    "health_alarm_specs",
    "source_metric",
    "suspicious_rate",
    "unparsed_rate",
]

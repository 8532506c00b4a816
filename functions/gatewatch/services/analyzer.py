"""The analyzer Lambda's flow: a Lambda event in; alerts published, EMF lines printed, a Kinesis response out.

What this module decides is the order and the failure semantics (the engine decides everything else):

1. decode and analyse every record. Bad data never raises: it becomes LinesUnparsed and one WARNING
   line per reason. For Kinesis, a record whose processing fails unexpectedly — and every record after
   it, which the event source mapping redelivers anyway — is reported in `batchItemFailures` and
   contributes nothing, so the retry neither loses nor double-counts it;
2. aggregate the invocation's metrics;
3. alerts: per (api, stage, category) a conditional DynamoDB write, then the SNS publish; if either
   fails (after botocore's retries) the window is released and the invocation RAISES — before any
   metric is printed, so the platform's retry re-sends the alert and counts the batch exactly once;
4. print the EMF documents.

boto3 is imported only when alerting is configured and the first alert goes out.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import IO, Any, Protocol

from aws_lambda_powertools import Logger

from gatewatch.alerts.immediate import AlertPolicy, build_alerts, dedupe_window
from gatewatch.alerts.schema import AnalyzerAlert
from gatewatch.config import EngineConfig, load_engine_config
from gatewatch.constants import (
    DEFAULT_NAMESPACE,
    ENV_ALERT_TOPIC_ARN,
    ENV_APIS,
    ENV_FIELD_MAP,
    ENV_METRICS_NAMESPACE,
    ENV_ROUTE_CAP,
    ENV_STATE_TABLE,
    SOURCE_INPUT,
    SOURCE_OTHER,
)
from gatewatch.ingest.lambda_events import batches_from_lambda_event
from gatewatch.metrics.aggregate import InvocationMetrics, aggregate
from gatewatch.metrics.emf import EmfWriter
from gatewatch.models import LogBatch, Rejection
from gatewatch.pipeline import Analysis, LogAnalyzer
from gatewatch.redact import short_sample

#: How many log groups / streams the invocation's log lines name when a batch spans several.
MAX_NAMED_SOURCES = 10


class AlertDeliveryError(RuntimeError):
    """An alert could not be deduplicated or published after retries; the invocation must be retried."""


@dataclass(frozen=True)
class AnalyzerSettings:
    """Everything the analyzer reads from its environment, once per cold start."""

    config: EngineConfig
    route_cap: int | None
    namespace: str
    policy: AlertPolicy
    topic_arn: str | None
    table_name: str | None
    region: str | None
    ignored: tuple[tuple[str, str], ...] = ()  # (variable, value) that could not be used

    @property
    def alerting(self) -> bool:
        return bool(self.topic_arn and self.table_name and self.policy.categories)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AnalyzerSettings:
        """Read GATEWATCH_APIS, GATEWATCH_FIELD_MAP, the route cap, the namespace and the alert targets;
        raises ConfigError (with how to fix it) when GATEWATCH_APIS or the alert policy is invalid."""
        config = load_engine_config(environ.get(ENV_APIS), environ.get(ENV_FIELD_MAP))
        route_cap, ignored = _route_cap(environ.get(ENV_ROUTE_CAP))
        if route_cap is not None:
            config = replace(config, default=replace(config.default, route_cap=route_cap))
        return cls(
            config=config,
            route_cap=route_cap,
            namespace=(environ.get(ENV_METRICS_NAMESPACE) or "").strip() or DEFAULT_NAMESPACE,
            policy=AlertPolicy.from_env(environ),
            topic_arn=(environ.get(ENV_ALERT_TOPIC_ARN) or "").strip() or None,
            table_name=(environ.get(ENV_STATE_TABLE) or "").strip() or None,
            region=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION"),
            ignored=ignored,
        )

    def missing_for_alerts(self) -> list[str]:
        """What keeps immediate alerts off (empty when they are on)."""
        if self.alerting:
            return []
        missing = [
            name
            for name, value in ((ENV_ALERT_TOPIC_ARN, self.topic_arn), (ENV_STATE_TABLE, self.table_name))
            if not value
        ]
        return missing or ["alert categories"]


def _route_cap(raw: str | None) -> tuple[int | None, tuple[tuple[str, str], ...]]:
    text = (raw or "").strip()
    if not text:
        return None, ()
    if text.isdigit() and int(text) > 0:
        return int(text), ()
    return None, ((ENV_ROUTE_CAP, text[:40]),)


class AlertSender(Protocol):
    """Delivers an invocation's alerts; returns (sent, suppressed by the cooldown)."""

    def send(self, alerts: Iterable[AnalyzerAlert], *, policy: AlertPolicy, now_s: float) -> tuple[int, int]: ...


class DedupedAlertSender:
    """Conditional write, then publish; releases the window and raises AlertDeliveryError on failure.

    The DynamoDB window makes concurrent and retried invocations alert once; releasing it when the
    publish fails lets the retry alert instead of finding the window taken."""

    def __init__(self, topic_arn: str, table_name: str, logger: Logger) -> None:
        from gatewatch.adapters.dedupe import DynamoAlertDedupe  # boto3 stays out of the cold path
        from gatewatch.adapters.sns import SnsAlertPublisher

        self.dedupe = DynamoAlertDedupe(table_name)
        self.publisher = SnsAlertPublisher(topic_arn)
        self.logger = logger

    def send(self, alerts: Iterable[AnalyzerAlert], *, policy: AlertPolicy, now_s: float) -> tuple[int, int]:
        sent = suppressed = 0
        for alert in alerts:
            window = dedupe_window(alert, now_s=now_s, cooldown_s=policy.cooldown_s)
            try:
                owned = self.dedupe.acquire(window)
            except Exception as exc:
                raise AlertDeliveryError(f"alert dedupe write failed for {window.key}: {type(exc).__name__}") from exc
            if not owned:
                suppressed += 1
                self.logger.info("alert suppressed (cooldown)", extra={"dedupe_key": window.key, "count": alert.count})
                continue
            try:
                message_id = self.publisher.publish(alert)
            except Exception as exc:
                released = self.dedupe.release(window)
                self.logger.error(
                    "alert publish failed",
                    extra={"dedupe_key": window.key, "error": type(exc).__name__, "window_released": released},
                )
                raise AlertDeliveryError(f"alert publish failed for {window.key}: {type(exc).__name__}") from exc
            sent += 1
            self.logger.info(
                "alert sent", extra={"dedupe_key": window.key, "count": alert.count, "message_id": message_id}
            )
        return sent, suppressed


@dataclass
class EventAnalysis:
    """What one Lambda event held: the analysis, the Kinesis records to retry, and where it came from."""

    analysis: Analysis = field(default_factory=Analysis)
    failures: list[str] = field(default_factory=list)
    log_groups: list[str] = field(default_factory=list)
    log_streams: list[str] = field(default_factory=list)
    events: int = 0
    owner: str | None = None
    kinesis: bool = False

    def note(self, batch: LogBatch) -> None:
        self.events += len(batch.events)
        if batch.log_group and batch.log_group not in self.log_groups:
            self.log_groups.append(batch.log_group)
        if batch.log_stream and batch.log_stream not in self.log_streams:
            self.log_streams.append(batch.log_stream)
        if self.owner is None and batch.owner:
            self.owner = batch.owner


def is_kinesis_event(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, Mapping) else None
    return (
        isinstance(records, list) and bool(records) and all(isinstance(r, Mapping) and "kinesis" in r for r in records)
    )


def _sequence_number(record: Mapping[str, Any]) -> str:
    kinesis = record.get("kinesis")
    seq = kinesis.get("sequenceNumber") if isinstance(kinesis, Mapping) else None
    return str(seq if seq is not None else str(record.get("eventID", "")).rpartition(":")[2])


def _record_events(event: Any) -> Iterator[tuple[str | None, Any]]:
    """(item id, sub-event): each Kinesis record on its own (so a failure is isolated), else the whole event."""
    if is_kinesis_event(event):
        for record in event["Records"]:
            yield _sequence_number(record), {"Records": [record]}
    else:
        yield None, event


def read_event(event: Any, config: EngineConfig, logger: Logger) -> EventAnalysis:
    """Decode and analyse every record of a Lambda event (see the module docstring, step 1).

    All records go through one analyzer, so a request whose execution lines straddle two Kinesis
    records of the invocation is classified from all its lines. When record k fails unexpectedly,
    records k.. are reported for retry and the records before it are analysed again without it, so
    the failed ones contribute nothing (their retry counts them) and nothing is counted twice.
    """
    result = EventAnalysis(kinesis=is_kinesis_event(event))
    records = [
        (item_id, [item for _, item in batches_from_lambda_event(sub_event)])
        for item_id, sub_event in _record_events(event)
    ]
    for _item_id, items in records:
        for item in items:
            if isinstance(item, LogBatch):
                result.note(item)
    analysis, failed_at = _analyse(records, config, logger, result.kinesis)
    if failed_at is not None:
        result.failures = [item_id or "" for item_id, _ in records[failed_at:]]
        analysis, _ = _analyse(records[:failed_at], config, logger, result.kinesis)
    result.analysis = analysis
    return result


def _analyse(
    records: list[tuple[str | None, list[LogBatch | Rejection]]], config: EngineConfig, logger: Logger, kinesis: bool
) -> tuple[Analysis, int | None]:
    """The analysis of the records; for Kinesis, also the index of the first record that raised (else None)."""
    analyzer = LogAnalyzer(config, keep_successes=False)
    for index, (item_id, items) in enumerate(records):
        try:
            for item in items:
                if isinstance(item, Rejection):
                    analyzer.add_rejection(item)
                else:
                    analyzer.add_batch(item)
        except Exception as exc:  # an engine bug, not bad data
            logger.exception("record processing failed", extra={"item_id": item_id, "error": type(exc).__name__})
            if kinesis:
                return Analysis(), index
            # a subscription event has no retry that could do better: keep what was read, count the record
            analyzer.add_rejection(
                Rejection(SOURCE_INPUT, "internal-error", short_sample(repr(exc)), type(exc).__name__)
            )
    return analyzer.finish(drain_incomplete=False), None


def log_rejections(analysis: Analysis, logger: Logger) -> None:
    """One structured WARNING per (source, reason) with a count and one short redacted sample."""
    if not analysis.rejections:
        return
    counts: Counter[tuple[str, str]] = Counter()
    first: dict[tuple[str, str], Rejection] = {}
    for rejection in analysis.rejections:
        key = (rejection.source, rejection.reason)
        counts[key] += 1
        first.setdefault(key, rejection)
    rejected = sum(n for source, n in analysis.lines_unparsed.items() if source != SOURCE_OTHER)
    truncated = rejected > len(analysis.rejections)
    for (source, reason), count in counts.items():
        sample = first[(source, reason)]
        extra: dict[str, Any] = {
            "source": source,
            "reason": reason,
            "count": count,
            "sample": short_sample(sample.sample or ""),
            "detail": short_sample(sample.detail or ""),
        }
        if truncated:
            extra["counted_of_first"] = len(analysis.rejections)
            extra["lines_unparsed"] = dict(analysis.lines_unparsed)
        logger.warning("unreadable log data", extra=extra)


class AnalyzerService:
    """One per execution environment: the cold-start settings and the (lazily made) alert sender."""

    def __init__(self, settings: AnalyzerSettings, logger: Logger, *, out: IO[str] | None = None) -> None:
        self.settings = settings
        self.logger = logger
        self.out = out
        self._sender: AlertSender | None = None
        for variable, value in settings.ignored:
            logger.warning("ignoring an invalid setting", extra={"env": variable, "value": value})
        if settings.alerting:
            logger.info(
                "immediate alerts on",
                extra={
                    "categories": sorted(c.value for c in settings.policy.categories),
                    "cooldown_s": settings.policy.cooldown_s,
                },
            )
        else:
            logger.info("immediate alerts off", extra={"missing": settings.missing_for_alerts()})

    @property
    def sender(self) -> AlertSender:
        if self._sender is None:
            self._sender = DedupedAlertSender(
                self.settings.topic_arn or "", self.settings.table_name or "", self.logger
            )
        return self._sender

    def handle(self, event: Any, *, now_s: float) -> dict[str, Any] | None:
        """Process one Lambda event; returns the Kinesis partial-batch response (None for subscriptions)."""
        settings, logger = self.settings, self.logger
        result = read_event(event, settings.config, logger)
        self._name_sources(result)
        analysis = result.analysis
        log_rejections(analysis, logger)
        if analysis.other_log_groups:
            logger.info(
                "lines of log groups that are not API Gateway's set aside",
                extra={
                    "lines": analysis.lines_unparsed[SOURCE_OTHER],
                    "log_groups": dict(analysis.other_log_groups),
                    "counted_as": "LinesUnparsed, Source=other",
                },
            )
        # (1) before anything is sent
        metrics = aggregate(analysis, settings.config, route_cap=settings.route_cap, now_ms=int(now_s * 1000))
        if metrics.out_of_window:
            logger.warning(
                "requests outside CloudWatch's metric window",
                extra={
                    "out_of_window": dict(metrics.out_of_window),
                    "window": "14 days back, 2 hours ahead",
                    "counted_as": "LinesUnparsed, Source=out-of-window",
                },
            )
        sent = suppressed = 0
        if settings.alerting:
            alerts = build_alerts(
                analysis.access,
                analysis.execution,
                policy=settings.policy,
                now_s=now_s,
                account=result.owner,
                region=settings.region,
            )
            if alerts:
                sent, suppressed = self.sender.send(alerts, policy=settings.policy, now_s=now_s)  # (2) may raise
        self._print_metrics(metrics, now_s)  # (3) only after every alert went out
        logger.info(
            "batch analysed",
            extra={
                "access_requests": len(analysis.access),
                "execution_requests": len(analysis.execution),
                "lines_parsed": dict(analysis.lines_parsed),
                "lines_unparsed": dict(analysis.lines_unparsed),
                "metric_minutes": len(metrics.minutes),
                "emf_documents": len(metrics.documents),
                "alerts_sent": sent,
                "alerts_suppressed": suppressed,
                "routes_folded": dict(metrics.routes_folded),
                "failed_records": len(result.failures),
            },
        )
        if result.kinesis:
            return {"batchItemFailures": [{"itemIdentifier": item_id} for item_id in result.failures]}
        return None

    def _name_sources(self, result: EventAnalysis) -> None:
        """The log group and stream (or the first few) on every log line of this invocation."""
        if len(result.log_groups) > 1 or len(result.log_streams) > 1:
            self.logger.append_keys(
                log_group=result.log_groups[:MAX_NAMED_SOURCES],
                log_stream=result.log_streams[:MAX_NAMED_SOURCES],
                batch_size=result.events,
            )
        elif result.log_groups:
            self.logger.append_keys(
                log_group=result.log_groups[0],
                log_stream=result.log_streams[0] if result.log_streams else None,
                batch_size=result.events,
            )
        else:
            self.logger.append_keys(batch_size=result.events)

    def _print_metrics(self, metrics: InvocationMetrics, now_s: float) -> None:
        text = EmfWriter(self.settings.namespace).render(metrics, now_ms=int(now_s * 1000))
        if text:
            out = self.out or sys.stdout
            out.write(text)
            out.flush()

"""The analyzer Lambda: CloudWatch Logs subscription / Kinesis events -> engine -> alerts (SNS) -> EMF on stdout.

Thin on purpose: decoding, parsing, classification, aggregation, alert content and EMF shape all live
in the `gatewatch` engine. What this module decides is the order and the failure semantics:

1. decode and analyse every record (bad data never raises: it becomes LinesUnparsed and one WARNING
   line per reason); for Kinesis, a record whose processing fails unexpectedly — and every record
   after it, which the event source mapping redelivers anyway — is reported in `batchItemFailures`
   and contributes nothing, so the retry neither loses nor double-counts it;
2. aggregate the metrics of the invocation;
3. alerts: per (api, stage, category) a conditional DynamoDB write, then the SNS publish; if either
   fails (after botocore's retries) the window is released and the invocation RAISES — before any
   metric is printed, so the platform's retry re-sends the alert and counts the batch exactly once;
4. print the EMF documents.

Entry point: `analyzer.handler.lambda_handler` with `functions/` as the asset root. boto3 is imported
only when alerting is configured and the first alert goes out.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from aws_lambda_powertools import Logger

from gatewatch.alerts.immediate import AlertPolicy, build_alerts, dedupe_window
from gatewatch.config import EngineConfig, load_engine_config
from gatewatch.constants import (
    DEFAULT_NAMESPACE,
    ENV_ALERT_TOPIC_ARN,
    ENV_APIS,
    ENV_FIELD_MAP,
    ENV_METRICS_NAMESPACE,
    ENV_ROUTE_CAP,
    ENV_STATE_TABLE,
    SERVICE_NAME,
    SOURCE_INPUT,
)
from gatewatch.ingest.lambda_events import batches_from_lambda_event
from gatewatch.metrics.aggregate import InvocationMetrics, aggregate
from gatewatch.metrics.emf import EmfWriter
from gatewatch.models import LogBatch, Rejection
from gatewatch.pipeline import Analysis, LogAnalyzer
from gatewatch.redact import short_sample

logger = Logger(service=SERVICE_NAME)

#: The wall clock used for alert windows and the EMF fallback timestamp; tests replace it.
clock: Callable[[], float] = time.time


class AlertDeliveryError(RuntimeError):
    """An alert could not be deduplicated or published after retries; the invocation must be retried."""


@dataclass(frozen=True)
class Runtime:
    """Everything read from the environment once per cold start."""

    config: EngineConfig
    route_cap: int | None
    namespace: str
    policy: AlertPolicy
    topic_arn: str | None
    table_name: str | None
    region: str | None

    @property
    def alerting(self) -> bool:
        return bool(self.topic_arn and self.table_name and self.policy.categories)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Runtime:
        config = load_engine_config(environ.get(ENV_APIS), environ.get(ENV_FIELD_MAP))
        route_cap = None
        raw_cap = (environ.get(ENV_ROUTE_CAP) or "").strip()
        if raw_cap:
            route_cap = int(raw_cap) if raw_cap.isdigit() and int(raw_cap) > 0 else None
            if route_cap is None:
                logger.warning("ignoring invalid route cap", extra={"env": ENV_ROUTE_CAP, "value": raw_cap[:40]})
            else:
                config = replace(config, default=replace(config.default, route_cap=route_cap))
        return cls(
            config=config,
            route_cap=route_cap,
            namespace=(environ.get(ENV_METRICS_NAMESPACE) or "").strip() or DEFAULT_NAMESPACE,
            policy=AlertPolicy.from_env(environ),
            topic_arn=(environ.get(ENV_ALERT_TOPIC_ARN) or "").strip() or None,
            table_name=(environ.get(ENV_STATE_TABLE) or "").strip() or None,
            region=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION"),
        )


_runtime: Runtime | None = None
_alerter: Alerter | None = None


def runtime() -> Runtime:
    """The cold-start configuration (built on first use; says once whether alerts are on)."""
    global _runtime
    if _runtime is None:
        rt = Runtime.from_env(os.environ)
        if rt.alerting:
            logger.info(
                "immediate alerts on",
                extra={"categories": sorted(c.value for c in rt.policy.categories), "cooldown_s": rt.policy.cooldown_s},
            )
        else:
            missing = [
                name
                for name, value in ((ENV_ALERT_TOPIC_ARN, rt.topic_arn), (ENV_STATE_TABLE, rt.table_name))
                if not value
            ]
            logger.info("immediate alerts off", extra={"missing": missing or ["alert categories"]})
        _runtime = rt
    return _runtime


def reset_state() -> None:
    """Forget the cold-start state (configuration, AWS clients): for tests and benchmarks."""
    global _runtime, _alerter
    _runtime = None
    _alerter = None
    if "gatewatch.adapters.sns" in sys.modules:
        sys.modules["gatewatch.adapters.sns"].reset_clients()


class Alerter:
    """Conditional write, then publish; releases the window and raises AlertDeliveryError on failure."""

    def __init__(self, topic_arn: str, table_name: str) -> None:
        from gatewatch.adapters.dedupe import DynamoAlertDedupe  # boto3 stays out of the cold path
        from gatewatch.adapters.sns import SnsAlertPublisher

        self.dedupe = DynamoAlertDedupe(table_name)
        self.publisher = SnsAlertPublisher(topic_arn)

    def send(self, alerts: Iterable[Any], *, policy: AlertPolicy, now_s: float) -> tuple[int, int]:
        sent = suppressed = 0
        for alert in alerts:
            window = dedupe_window(alert, now_s=now_s, cooldown_s=policy.cooldown_s)
            try:
                owned = self.dedupe.acquire(window)
            except Exception as exc:
                raise AlertDeliveryError(f"alert dedupe write failed for {window.key}: {type(exc).__name__}") from exc
            if not owned:
                suppressed += 1
                logger.info("alert suppressed (cooldown)", extra={"dedupe_key": window.key, "count": alert.count})
                continue
            try:
                message_id = self.publisher.publish(alert)
            except Exception as exc:
                released = self.dedupe.release(window)
                logger.error(
                    "alert publish failed",
                    extra={"dedupe_key": window.key, "error": type(exc).__name__, "window_released": released},
                )
                raise AlertDeliveryError(f"alert publish failed for {window.key}: {type(exc).__name__}") from exc
            sent += 1
            logger.info("alert sent", extra={"dedupe_key": window.key, "count": alert.count, "message_id": message_id})
        return sent, suppressed


def _alerter_for(rt: Runtime) -> Alerter:
    global _alerter
    if _alerter is None:
        _alerter = Alerter(rt.topic_arn or "", rt.table_name or "")
    return _alerter


# -- reading the event ------------------------------------------------------------------------------
@dataclass
class _Invocation:
    analysis: Analysis
    failures: list[str]
    log_groups: list[str]
    log_streams: list[str]
    events: int
    owner: str | None
    kinesis: bool


def _is_kinesis(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, Mapping) else None
    return (
        isinstance(records, list) and bool(records) and all(isinstance(r, Mapping) and "kinesis" in r for r in records)
    )


def _sequence_number(record: Mapping) -> str:
    kinesis = record.get("kinesis")
    seq = kinesis.get("sequenceNumber") if isinstance(kinesis, Mapping) else None
    return str(seq if seq is not None else str(record.get("eventID", "")).rpartition(":")[2])


def _record_events(event: Any) -> Iterator[tuple[str | None, Any]]:
    """(item id, sub-event): each Kinesis record on its own (so a failure is isolated), else the whole event."""
    if _is_kinesis(event):
        for record in event["Records"]:
            yield _sequence_number(record), {"Records": [record]}
    else:
        yield None, event


def _read_event(event: Any, config: EngineConfig) -> _Invocation:
    inv = _Invocation(Analysis(), [], [], [], 0, None, _is_kinesis(event))
    failed = False
    for item_id, sub_event in _record_events(event):
        if failed:  # the event source mapping resumes from the first failure: leave the rest to the retry
            inv.failures.append(item_id or "")
            continue
        analyzer = LogAnalyzer(config, keep_successes=False)
        try:
            for _, item in batches_from_lambda_event(sub_event):
                if isinstance(item, Rejection):
                    analyzer.add_rejection(item)
                    continue
                _note_batch(inv, item)
                analyzer.add_batch(item)
        except Exception as exc:  # an engine bug, not bad data
            logger.exception("record processing failed", extra={"item_id": item_id, "error": type(exc).__name__})
            if inv.kinesis:
                failed = True
                inv.failures.append(item_id or "")
                continue
            # a subscription event has no retry that could do better: keep what was read, count the record
            analyzer.add_rejection(
                Rejection(SOURCE_INPUT, "internal-error", short_sample(repr(exc)), type(exc).__name__)
            )
        inv.analysis = inv.analysis.merge(analyzer.finish(drain_incomplete=False))
    return inv


def _note_batch(inv: _Invocation, batch: LogBatch) -> None:
    inv.events += len(batch.events)
    if batch.log_group and batch.log_group not in inv.log_groups:
        inv.log_groups.append(batch.log_group)
    if batch.log_stream and batch.log_stream not in inv.log_streams:
        inv.log_streams.append(batch.log_stream)
    if inv.owner is None and batch.owner:
        inv.owner = batch.owner
    if len(inv.log_groups) <= 1 and len(inv.log_streams) <= 1:
        logger.append_keys(log_group=batch.log_group, log_stream=batch.log_stream, batch_size=inv.events)


def _log_rejections(analysis: Analysis) -> None:
    """One structured WARNING per (source, reason) with a count and one short redacted sample."""
    if not analysis.rejections:
        return
    counts: Counter[tuple[str, str]] = Counter()
    first: dict[tuple[str, str], Rejection] = {}
    for rejection in analysis.rejections:
        key = (rejection.source, rejection.reason)
        counts[key] += 1
        first.setdefault(key, rejection)
    truncated = sum(analysis.lines_unparsed.values()) > len(analysis.rejections)
    for (source, reason), count in counts.items():
        sample = first[(source, reason)]
        extra = {
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


# -- the handler ------------------------------------------------------------------------------------
def handle(event: Any, context: Any = None, *, now: Callable[[], float] | None = None) -> dict[str, Any] | None:
    """Process one Lambda event; returns the Kinesis partial-batch response (None for subscriptions)."""
    rt = runtime()
    now_s = (now or clock)()
    inv = _read_event(event, rt.config)
    if len(inv.log_groups) > 1 or len(inv.log_streams) > 1:
        logger.append_keys(log_group=inv.log_groups[:10], log_stream=inv.log_streams[:10], batch_size=inv.events)
    elif not inv.log_groups:
        logger.append_keys(batch_size=inv.events)
    analysis = inv.analysis
    _log_rejections(analysis)
    metrics = aggregate(analysis, rt.config, route_cap=rt.route_cap)  # (1) before anything is sent

    sent = suppressed = 0
    if rt.alerting:
        alerts = build_alerts(
            analysis.access, analysis.execution, policy=rt.policy, now_s=now_s, account=inv.owner, region=rt.region
        )
        if alerts:
            sent, suppressed = _alerter_for(rt).send(alerts, policy=rt.policy, now_s=now_s)  # (2) may raise

    _print_metrics(metrics, rt.namespace, now_s)  # (3) only after every alert went out
    logger.info(
        "batch analysed",
        extra={
            "access_requests": len(analysis.access),
            "execution_requests": len(analysis.execution),
            "lines_parsed": dict(analysis.lines_parsed),
            "lines_unparsed": dict(analysis.lines_unparsed),
            "emf_documents": len(metrics.documents),
            "alerts_sent": sent,
            "alerts_suppressed": suppressed,
            "routes_folded": dict(metrics.routes_folded),
            "failed_records": len(inv.failures),
        },
    )
    if inv.kinesis:
        return {"batchItemFailures": [{"itemIdentifier": item_id} for item_id in inv.failures]}
    return None


def _print_metrics(metrics: InvocationMetrics, namespace: str, now_s: float) -> None:
    text = EmfWriter(namespace).render(metrics, now_ms=int(now_s * 1000))
    if text:
        sys.stdout.write(text)
        sys.stdout.flush()


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: Any) -> dict[str, Any] | None:
    return handle(event, context)

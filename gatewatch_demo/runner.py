"""Run the whole gatewatch pipeline on one machine, against moto's server on 127.0.0.1.

    traffic (gatewatch.simulate) ─PutLogEvents▶ CloudWatch Logs (moto) ─read back, batched per minute▶
    subscription events ▶ analyzer handler (real, in-process) ─EMF▶ metrics (+ PutMetricData to moto)
    ─▶ the stack's alarm specs evaluated minute by minute ─ALARM/OK▶ SNS (moto) ◀─ analyzer alerts
    SNS ─▶ SQS (moto) ─▶ notifier handler (real, in-process) ─HTTP▶ Slack receiver on 127.0.0.1

Everything the stack would create is created in moto first (log groups, topic, state table, secret).
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import io
import json
import os
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

from gatewatch.constants import DEFAULT_NAMESPACE, EXECUTION_LOG_GROUP_PREFIX
from gatewatch.naming import dashboard_name
from gatewatch_demo.alarms import AlarmEvaluator, AlarmTransition, alarm_notification, region_name
from gatewatch_demo.lambda_context import LocalLambdaContext
from gatewatch_demo.metrics import MINUTE_MS, MetricStore
from gatewatch_demo.slack_receiver import SlackReceiver
from stacks.monitoring.alarm_specs import AlarmSpec, Thresholds, api_alarm_specs, health_alarm_specs

ACCOUNT = "111122223333"
REGION = "eu-west-1"
TOPIC_NAME = "gatewatch-alerts"
TABLE_NAME = "gatewatch-state"
SECRET_NAME = "gatewatch/slack-webhook"
QUEUE_NAME = "gatewatch-notifier-feed"
LOG_STREAM = "5f2b8c1e9a7d4f3b6c0e2a1d8b7c9e4f"
EXTRA_MINUTES = 10  # quiet traffic after the incidents, so alarms can recover
MAX_PAYLOAD_BYTES = 256 * 1024  # CloudWatch delivers smaller batches than PutLogEvents accepts
#: The demo's thresholds, as a user's cdk.json would set them: the hour is compressed (incidents of a few
#: minutes), so the silence alarm fires after 3 silent minutes instead of the deployed default of 10.
DEMO_THRESHOLDS = Thresholds(silence_minutes=3)


@dataclass(frozen=True)
class DemoOptions:
    out_dir: Path = Path("gatewatch-demo")
    seed: int = 7
    api_id: str = "k7x2m9qp4a"
    api_name: str = "shop-api"
    stage: str = "prod"
    rate_per_minute: float = 60.0
    minutes: int = 60
    slack_pace_s: float = 0.2  # Slack's webhook allows ~1/s; the loopback receiver has no such limit
    write_files: bool = True
    thresholds: Thresholds = DEMO_THRESHOLDS


@dataclass
class DemoResult:
    transitions: list[AlarmTransition] = field(default_factory=list)
    slack_messages: list[dict[str, Any]] = field(default_factory=list)
    analyzer_alerts: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    log_events: int = 0
    emf_documents: int = 0
    metric_data: int = 0
    files: dict[str, Path] = field(default_factory=dict)
    endpoint: str = ""
    start_ms: int = 0
    end_ms: int = 0
    store: MetricStore = field(default_factory=MetricStore)
    report: Any = None
    moto_totals: dict[str, float] = field(default_factory=dict)
    # (event time, response latency) of every simulated request: the truth the published percentiles meet
    true_latencies: list[tuple[int, float]] = field(default_factory=list)


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def local_aws() -> Iterator[str]:
    """moto's server on 127.0.0.1 (an ephemeral port) with fake credentials; yields the endpoint URL."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log of moto's requests in the terminal
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto keeps its state per process, not per server: a second run in one process (a test after
    # another) would find the first run's log groups, topic and table
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()
    try:
        with _environment(
            {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": "demo",
                "AWS_SECRET_ACCESS_KEY": "demo",
                "AWS_SESSION_TOKEN": "demo",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
            }
        ):
            yield endpoint
    finally:
        server.stop()


def _payload_event(log_group: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    payload = {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": log_group,
        "logStream": LOG_STREAM,
        "subscriptionFilters": ["gatewatch"],
        "logEvents": events,
    }
    data = gzip.compress(json.dumps(payload, separators=(",", ":")).encode(), mtime=0)
    return {"awslogs": {"data": base64.b64encode(data).decode()}}


def _subscription_events(log_group: str, events: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Cut one minute of a log group's events into deliveries of at most MAX_PAYLOAD_BYTES."""
    batch: list[dict[str, Any]] = []
    size = 0
    for e in events:
        cost = len(e["message"]) + 26
        if batch and size + cost > MAX_PAYLOAD_BYTES:
            yield _payload_event(log_group, batch)
            batch, size = [], 0
        batch.append({"id": e["eventId"], "timestamp": e["timestamp"], "message": e["message"]})
        size += cost
    if batch:
        yield _payload_event(log_group, batch)


class DemoPipeline:
    """The demo, step by step; `run()` does them all. `progress(step, done, total)` reports advancement."""

    def __init__(self, options: DemoOptions, *, progress: Callable[[str, int, int], None] | None = None) -> None:
        self.options = options
        self.progress = progress or (lambda step, done, total: None)
        self.result = DemoResult()
        self.access_group = f"/aws/apigateway/{options.api_name}/{options.stage}"
        self.execution_group = f"{EXECUTION_LOG_GROUP_PREFIX}{options.api_id}/{options.stage}"
        self.lambda_output: list[str] = []  # what the handlers printed besides EMF, and their Powertools logs

    # -- set-up ----------------------------------------------------------------------------------
    def create_resources(self, webhook_url: str) -> dict[str, str]:
        """What the stack would create, created in moto; returns the handlers' environment."""
        import boto3  # type: ignore[import-untyped]  # boto3 ships no type information

        logs, sns, sqs = boto3.client("logs"), boto3.client("sns"), boto3.client("sqs")
        for group in (self.access_group, self.execution_group):
            logs.create_log_group(logGroupName=group)
            logs.put_retention_policy(logGroupName=group, retentionInDays=30)
            logs.create_log_stream(logGroupName=group, logStreamName=LOG_STREAM)
        topic_arn = sns.create_topic(Name=TOPIC_NAME)["TopicArn"]
        queue_url = sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        ddb = boto3.client("dynamodb")
        ddb.create_table(
            TableName=TABLE_NAME,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.update_time_to_live(
            TableName=TABLE_NAME, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
        )
        boto3.client("secretsmanager").create_secret(
            Name=SECRET_NAME, SecretString=json.dumps({"webhook_url": webhook_url})
        )
        self.queue_url = queue_url
        self.topic_arn = topic_arn
        apis = {
            self.options.api_id: {
                "name": self.options.api_name,
                "stage": self.options.stage,
                "accessLogGroup": self.access_group,
            }
        }
        return {
            "GATEWATCH_APIS": json.dumps(apis),
            "GATEWATCH_ALERT_TOPIC_ARN": topic_arn,
            "GATEWATCH_STATE_TABLE": TABLE_NAME,
            "GATEWATCH_SLACK_SECRET": SECRET_NAME,
            "GATEWATCH_DASHBOARD_URL": f"https://{REGION}.console.aws.amazon.com/cloudwatch/home?region={REGION}"
            f"#dashboards/dashboard/",
            "POWERTOOLS_METRICS_NAMESPACE": DEFAULT_NAMESPACE,
            "POWERTOOLS_SERVICE_NAME": "gatewatch",
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }

    # -- traffic -----------------------------------------------------------------------------------
    def generate_traffic(self, start_ms: int) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
        from gatewatch_demo import simulate as sim

        simulator = sim.TrafficSimulator(self.options.seed, api_id=self.options.api_id, stage=self.options.stage)
        requests = simulator.hour(
            start_ms=start_ms,
            rate_per_minute=self.options.rate_per_minute,
            minutes=self.options.minutes + EXTRA_MINUTES,
        )
        self.result.requests = len(requests)
        self.result.true_latencies = [(r.timestamp_ms, float(r.response_latency_ms)) for r in requests]
        access = [(r.timestamp_ms, sim.render_access_json(r, "camel")) for r in requests]
        execution = sorted((e for r in requests for e in sim.execution_events(r)), key=lambda e: e[0])
        self.access_events, self.execution_events = access, execution
        return access, execution

    def put_log_events(self, log_group: str, events: list[tuple[int, str]]) -> None:
        """PutLogEvents in batches of <= 10,000 events and <= 1 MB (26 bytes per event), in time order."""
        import boto3

        logs = boto3.client("logs")
        batch: list[dict[str, Any]] = []
        size = 0
        for ts, message in events:
            cost = len(message.encode()) + 26
            if batch and (len(batch) >= 10_000 or size + cost > 1_048_576):
                logs.put_log_events(logGroupName=log_group, logStreamName=LOG_STREAM, logEvents=batch)
                batch, size = [], 0
            batch.append({"timestamp": ts, "message": message})
            size += cost
        if batch:
            logs.put_log_events(logGroupName=log_group, logStreamName=LOG_STREAM, logEvents=batch)

    def read_back(self, log_group: str, start_ms: int, end_ms: int) -> dict[int, list[dict[str, Any]]]:
        """FilterLogEvents over the hour, grouped by minute (what a subscription delivers, minute by minute)."""
        import boto3

        by_minute: dict[int, list[dict[str, Any]]] = {}
        pages = (
            boto3.client("logs")
            .get_paginator("filter_log_events")
            .paginate(logGroupName=log_group, startTime=start_ms, endTime=end_ms)
        )
        for page in pages:
            for e in page.get("events") or []:
                ts = int(e["timestamp"])
                by_minute.setdefault(ts - ts % MINUTE_MS, []).append(e)
        for events in by_minute.values():
            events.sort(key=lambda e: (e["timestamp"], e.get("eventId", "")))
        self.result.log_events += sum(len(v) for v in by_minute.values())
        return by_minute

    # -- the Lambdas ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _handlers(self) -> Iterator[None]:
        """The real handlers, their logs captured for lambda-logs.jsonl; logging restored afterwards."""
        self._load_handlers()
        try:
            yield
        finally:
            for handler, stream in self._saved_streams:
                handler.stream = stream

    def _load_handlers(self) -> None:
        from analyzer import handler as analyzer_handler
        from notifier import handler as notifier_handler

        self.analyzer = analyzer_handler
        self.notifier = notifier_handler
        buffer = io.StringIO()
        self._saved_streams = []
        for module in (analyzer_handler, notifier_handler):
            handler = getattr(module.logger, "registered_handler", None)
            if handler is not None and hasattr(handler, "stream"):
                # Lambda logs go to lambda-logs.jsonl, not the terminal (no flush of the old stream: it
                # may be a closed capture); restored when the run ends.
                self._saved_streams.append((handler, handler.stream))
                handler.stream = buffer
        self._log_buffer = buffer
        notifier_handler.slack_client.policy = _with_pace(
            notifier_handler.slack_client.policy, self.options.slack_pace_s
        )
        if hasattr(analyzer_handler, "reset_state"):
            analyzer_handler.reset_state()
        from aws_lambda_powertools.utilities import parameters

        parameters.clear_caches()  # a previous run in this process cached its own loopback webhook URL

    def invoke_analyzer(self, event: dict[str, Any], now_s: float) -> list[dict[str, Any]]:
        """Run the real analyzer handler; returns the EMF documents it printed."""
        out = io.StringIO()
        clock = getattr(self.analyzer, "clock", None)
        self.analyzer.clock = lambda: now_s
        try:
            with contextlib.redirect_stdout(out):
                self.analyzer.lambda_handler(
                    event, LocalLambdaContext("gatewatch-analyzer", region=REGION, account=ACCOUNT, remaining_ms=60_000)
                )
        finally:
            if clock is not None:
                self.analyzer.clock = clock
        docs = []
        for line in out.getvalue().splitlines():
            if '"_aws"' in line:
                docs.append(json.loads(line))
            elif line.strip():
                self.lambda_output.append(line)
        return docs

    def deliver_notifications(self) -> int:
        """SNS -> SQS -> notifier handler, as SNS would invoke it (one record per message)."""
        import boto3

        sqs = boto3.client("sqs")
        delivered = 0
        while True:
            got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = got.get("Messages") or []
            if not messages:
                return delivered
            for m in messages:
                envelope = json.loads(m["Body"])
                record = {
                    "EventSource": "aws:sns",
                    "EventVersion": "1.0",
                    "EventSubscriptionArn": f"{self.topic_arn}:demo",
                    "Sns": {
                        "Type": "Notification",
                        "MessageId": envelope.get("MessageId"),
                        "TopicArn": envelope.get("TopicArn"),
                        "Subject": envelope.get("Subject"),
                        "Message": envelope.get("Message"),
                        "Timestamp": envelope.get("Timestamp"),
                        "SignatureVersion": "1",
                        "MessageAttributes": envelope.get("MessageAttributes", {}),
                    },
                }
                try:
                    parsed = json.loads(envelope.get("Message") or "")
                    if isinstance(parsed, dict) and str(parsed.get("schema", "")).startswith("gatewatch.alert/"):
                        self.result.analyzer_alerts.append(parsed)
                except ValueError:
                    pass
                self.notifier.lambda_handler(
                    {"Records": [record]},
                    LocalLambdaContext("gatewatch-notifier", 256, region=REGION, account=ACCOUNT, remaining_ms=60_000),
                )
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
                delivered += 1

    def publish_transition(self, spec: AlarmSpec, transition: AlarmTransition) -> None:
        import boto3

        message = alarm_notification(spec, transition, account=ACCOUNT, region=REGION)
        subject = f'{transition.new_state}: "{spec.name}" in {region_name(REGION)}'[:99]
        boto3.client("sns").publish(TopicArn=self.topic_arn, Subject=subject, Message=json.dumps(message))

    def put_metric_data(self, store: MetricStore, start_ms: int, end_ms: int) -> int:
        """What CloudWatch extracts from the EMF documents, sent to moto with PutMetricData."""
        from datetime import datetime

        import boto3

        cw = boto3.client("cloudwatch")
        sent = 0
        by_ns: dict[str, list[dict[str, Any]]] = {}
        for d in store.data():
            if not start_ms <= d.timestamp_ms < end_ms:
                continue
            values, counts = list(d.values), list(d.counts)
            for i in range(0, len(values), 150):
                by_ns.setdefault(d.namespace, []).append(
                    {
                        "MetricName": d.metric,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in d.dimensions],
                        "Timestamp": datetime.fromtimestamp(d.timestamp_ms / 1000, tz=UTC),
                        "Values": values[i : i + 150],
                        "Counts": counts[i : i + 150],
                        "Unit": d.unit,
                    }
                )
        for namespace, data in by_ns.items():
            for i in range(0, len(data), 500):
                cw.put_metric_data(Namespace=namespace, MetricData=data[i : i + 500])
                sent += len(data[i : i + 500])
        return sent

    # -- the run -------------------------------------------------------------------------------------------
    def run(self) -> DemoResult:
        o = self.options
        now = int(time.time() * 1000)
        start_ms = now - now % MINUTE_MS - (o.minutes + EXTRA_MINUTES + 1) * MINUTE_MS
        end_ms = start_ms + (o.minutes + EXTRA_MINUTES) * MINUTE_MS
        self.result.start_ms, self.result.end_ms = start_ms, end_ms
        with local_aws() as endpoint, SlackReceiver() as slack:
            self.result.endpoint = endpoint
            from gatewatch.adapters.aws import reset_clients

            reset_clients()
            env = self.create_resources(slack.webhook_url)
            with _environment(env), self._handlers():
                self.progress("traffic", 0, 1)
                access, execution = self.generate_traffic(start_ms)
                self.put_log_events(self.access_group, access)
                self.put_log_events(self.execution_group, execution)
                self.progress("traffic", 1, 1)
                access_by_minute = self.read_back(self.access_group, start_ms, end_ms)
                execution_by_minute = self.read_back(self.execution_group, start_ms, end_ms)
                specs = list(api_alarm_specs(o.api_name, o.stage, o.thresholds)) + [
                    s
                    for s in health_alarm_specs(
                        None,  # no stack: names start with "gatewatch", like the notifier's links here
                        analyzer_function="gatewatch-analyzer",
                        notifier_function="gatewatch-notifier",
                        dead_letter_queue="gatewatch-dlq",
                    )
                    if s.expression
                ]
                by_name = {s.name: s for s in specs}
                store = self.result.store
                evaluator = AlarmEvaluator(specs, store)
                total = (end_ms - start_ms) // MINUTE_MS
                for i, minute in enumerate(range(start_ms, end_ms, MINUTE_MS)):
                    now_s = (minute + MINUTE_MS) / 1000
                    for group, by_minute in (
                        (self.access_group, access_by_minute),
                        (self.execution_group, execution_by_minute),
                    ):
                        for event in _subscription_events(group, by_minute.get(minute, [])):
                            for doc in self.invoke_analyzer(event, now_s):
                                store.add_emf(doc)
                                self.result.emf_documents += 1
                    for t in evaluator.evaluate(minute + MINUTE_MS):
                        self.publish_transition(by_name[t.alarm_name], t)
                    self.deliver_notifications()
                    self.progress("minutes", i + 1, total)
                self.result.transitions = list(evaluator.transitions)
                self.result.metric_data = self.put_metric_data(store, start_ms, end_ms)
                self.lambda_output.extend(line for line in self._log_buffer.getvalue().splitlines() if line.strip())
                self.result.moto_totals = self._moto_totals(start_ms, end_ms)
            self.result.slack_messages = [m.payload for m in slack.messages]
            reset_clients()
        self.alarm_names = [s.name for s in specs]
        return self.result

    def _moto_totals(self, start_ms: int, end_ms: int) -> dict[str, float]:
        """Sums read back from moto's CloudWatch: what a user would see in the console.

        moto matches a query's dimensions as a subset (CloudWatch matches them exactly), so the
        per-request counts are summed over the route-level series, each queried with all three dimensions.
        """
        from datetime import datetime

        import boto3

        cw = boto3.client("cloudwatch")
        window = {
            "StartTime": datetime.fromtimestamp(start_ms / 1000, tz=UTC),
            "EndTime": datetime.fromtimestamp(end_ms / 1000, tz=UTC),
            "Period": 3600 * 2,
            "Statistics": ["Sum"],
        }
        base = [{"Name": "Api", "Value": self.options.api_name}, {"Name": "Stage", "Value": self.options.stage}]
        out: dict[str, float] = {}
        for metric in ("Requests", "Errors4xx", "Errors5xx"):
            series = set()  # moto lists a metric once per data point: deduplicate the dimension sets
            for listed in cw.get_paginator("list_metrics").paginate(Namespace=DEFAULT_NAMESPACE, MetricName=metric):
                for m in listed.get("Metrics", []):
                    dims = tuple(sorted((d["Name"], d["Value"]) for d in m.get("Dimensions", [])))
                    if {name for name, _ in dims} == {"Api", "Stage", "Route"}:
                        series.add(dims)
            total = 0.0
            for dims in series:
                got = cw.get_metric_statistics(
                    Namespace=DEFAULT_NAMESPACE,
                    MetricName=metric,
                    Dimensions=[{"Name": k, "Value": v} for k, v in dims],
                    **window,
                )
                total += sum(p["Sum"] for p in got.get("Datapoints", []))
            out[metric] = total
        got = cw.get_metric_statistics(Namespace=DEFAULT_NAMESPACE, MetricName="NearTimeout", Dimensions=base, **window)
        out["NearTimeout"] = sum(p["Sum"] for p in got.get("Datapoints", []))
        return out


def _with_pace(policy: Any, pace_s: float) -> Any:
    from dataclasses import replace

    return replace(policy, min_interval_s=pace_s)


__all__ = ["DEMO_THRESHOLDS", "DemoOptions", "DemoPipeline", "DemoResult", "dashboard_name", "local_aws"]

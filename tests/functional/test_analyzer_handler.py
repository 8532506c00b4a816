"""The analyzer Lambda end to end: real subscription/Kinesis events in, valid EMF and structured logs out."""

from __future__ import annotations

import base64
import gzip
import json
import os
import subprocess
import sys
import time
from collections import Counter

import pytest

from analyzer import handler
from bench.bench_handler import realistic_access_lines
from gatewatch.ingest.lambda_events import batches_from_lambda_event
from gatewatch.models import Rejection
from gatewatch.pipeline import LogAnalyzer
from gatewatch_demo.lambda_context import LocalLambdaContext as LambdaContext
from tests.emf_spec import assert_valid_emf, emf_documents, metric_total, metric_values
from tests.helpers import (
    ROOT,
    access_corpus_lines,
    corpus_execution,
    delivered_at,
    encode_payload,
    kinesis_event,
    s01_payloads,
    subscription_event,
    subscription_payload,
)

ACCESS_GROUP = "/aws/apigateway/orders-prod-access"
EXEC_GROUP = "API-Gateway-Execution-Logs_a1b2c3d4e5/prod"
ENV_TO_CLEAR = (
    "GATEWATCH_ALERT_TOPIC_ARN",
    "GATEWATCH_STATE_TABLE",
    "GATEWATCH_APIS",
    "GATEWATCH_ROUTE_CAP",
    "GATEWATCH_ALERT_CATEGORIES",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_DEV",
    "GATEWATCH_FIELD_MAP",
)


@pytest.fixture(autouse=True)
def fresh_handler(monkeypatch, capsys):
    """A cold start per test; log lines go to the captured stdout as they do in Lambda."""
    for name in ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    handler.reset_state()
    log_handler = handler.logger.registered_handler
    stream = log_handler.stream
    yield
    log_handler.stream = stream  # (not setStream: it would flush capsys' already closed stream)
    handler.clock = time.time
    handler.reset_state()


def invoke(event, capsys):
    """Run the handler; returns (result, EMF documents validated against the spec, structured log lines)."""
    handler.logger.registered_handler.stream = sys.stdout  # capsys' stdout: logs and EMF interleave as in Lambda
    handler.clock = lambda: delivered_at(event)  # the logs' own time (fresh_handler restores the clock)
    result = handler.lambda_handler(event, LambdaContext())
    out = capsys.readouterr().out
    docs = assert_valid_emf(emf_documents(out))
    logs = [json.loads(line) for line in out.splitlines() if line.startswith('{"level"')]
    return result, docs, logs


def engine_analysis(event):
    """What the engine classifies for this event (the expectation the printed metrics must match)."""
    analyzer = LogAnalyzer()
    for _, item in batches_from_lambda_event(event):
        analyzer.add_rejection(item) if isinstance(item, Rejection) else analyzer.add_batch(item)
    return analyzer.finish(drain_incomplete=False)


def test_real_execution_log_payloads_give_valid_emf_with_causes_equal_to_the_engine(capsys):
    for payload in s01_payloads():
        # GIVEN a real subscription payload of execution logs
        event = subscription_event(payload)
        expected = engine_analysis(event)
        # WHEN the handler runs
        result, docs, _ = invoke(event, capsys)
        # THEN every document is valid EMF and the totals equal what the engine classified
        assert result is None and docs
        assert metric_total(docs, "Causes", ("Api", "Stage", "Category")) == sum(
            1 for r in expected.execution if r.category.value != "OK"
        )
        assert metric_total(docs, "LinesParsed", ("Source",), Source="execution") == len(payload["logEvents"])
        assert metric_total(docs, "Requests", ("Api", "Stage")) == 0  # execution logs never count requests


def test_the_real_access_corpus_as_one_payload(capsys):
    lines = access_corpus_lines()
    event = subscription_event(subscription_payload("/aws/apigateway/corpus-access", lines))
    expected = engine_analysis(event)
    _, docs, _ = invoke(event, capsys)
    statuses = Counter(r.status for r in expected.access)
    assert metric_total(docs, "Requests", ("Api", "Stage")) == len(expected.access) > 0
    assert metric_total(docs, "Requests", ("Api", "Stage", "Route")) == len(expected.access)
    assert metric_total(docs, "Errors4xx", ("Api", "Stage")) == sum(
        n for s, n in statuses.items() if s and 400 <= s < 500
    )
    assert metric_total(docs, "Errors5xx", ("Api", "Stage")) == sum(n for s, n in statuses.items() if s and s >= 500)
    errors = Counter(r.category.value for r in expected.access if r.category.value != "OK")
    for category, count in errors.items():
        assert metric_total(docs, "Errors", ("Api", "Stage", "Category"), Category=category) == count
    parsed = metric_total(docs, "LinesParsed", ("Source",), Source="access")
    unparsed = metric_total(docs, "LinesUnparsed", ("Source",), Source="access")
    assert parsed + unparsed == len(lines)


def test_a_request_in_both_logs_is_counted_once_in_requests(capsys):
    # GIVEN one invocation (a Kinesis batch) carrying the access line and the execution lines of the same requests
    ids = ["6d3c2a8e-1f0b-4b9e-9a51-0c6f2e0d4a11", "9a1b7c3d-2e4f-4a6b-8c9d-0e1f2a3b4c5d"]
    access = [
        json.dumps(
            {
                "requestId": rid,
                "apiId": "a1b2c3d4e5",
                "stage": "prod",
                "httpMethod": "POST",
                "resourcePath": "/orders",
                "status": "502",
                "responseLatency": "48",
                "integrationLatency": "40",
                "error.responseType": "-",
            }
        )
        for rid in ids
    ]
    execution = []
    for rid in ids:
        execution += [
            f"({rid}) Extended Request Id: Iq9gwFDNoAMFo1A=",
            f"({rid}) HTTP Method: POST, Resource Path: /orders",
            f"({rid}) Execution failed due to configuration error: Malformed Lambda proxy response",
            f"({rid}) Method completed with status: 502",
        ]
    event = kinesis_event([subscription_payload(ACCESS_GROUP, access), subscription_payload(EXEC_GROUP, execution)])
    # WHEN analysed
    result, docs, _ = invoke(event, capsys)
    # THEN Requests count each request once (from the access log) and the cause comes from the execution log
    assert result == {"batchItemFailures": []}
    assert metric_total(docs, "Requests", ("Api", "Stage")) == 2
    assert metric_total(docs, "Errors5xx", ("Api", "Stage")) == 2
    assert metric_total(docs, "Causes", ("Api", "Stage", "Category"), Category="MALFORMED_RESPONSE") == 2


def test_a_large_realistic_batch_is_a_handful_of_documents_with_exact_totals(capsys):
    lines = realistic_access_lines(10_000, seed=11)
    event = subscription_event(subscription_payload(ACCESS_GROUP, lines))
    expected = engine_analysis(event)
    _, docs, _ = invoke(event, capsys)
    # a handful of dimension combinations (1 + 8 routes + categories + 1 source), never one per request;
    # documents: one per 100 latency values of the stage and of each route
    combinations = {tuple((k, d[k]) for k in ("Api", "Stage", "Route", "Category", "Source") if k in d) for d in docs}
    assert len(combinations) <= 40
    assert len(docs) <= 2 * 10_000 // 100 + 40
    assert metric_total(docs, "Requests", ("Api", "Stage")) == 10_000 == len(expected.access)
    assert metric_total(docs, "Errors5xx", ("Api", "Stage")) == sum(1 for r in expected.access if r.status >= 500)
    assert metric_total(docs, "NearTimeout", ("Api", "Stage")) == sum(
        1 for r in expected.access if r.latency_class and r.latency_class.value in ("NEAR_TIMEOUT", "TIMEOUT")
    )
    stage_doc = next(d for d in docs if "Route" not in d and "Category" not in d and "Source" not in d)
    assert len(stage_doc["Latency"]) == 100 and stage_doc["Requests"] == 10_000
    # every request's latency is published, so CloudWatch's percentiles are the true ones
    assert sorted(metric_values(docs, "Latency", ("Api", "Stage"))) == sorted(
        round(r.latency_ms) for r in expected.access if r.latency_ms is not None
    )


def test_configured_name_namespace_and_route_cap(monkeypatch, capsys):
    monkeypatch.setenv("GATEWATCH_APIS", json.dumps({"a1b2c3d4e5": {"name": "orders"}}))
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Acme/Gateways")
    monkeypatch.setenv("GATEWATCH_ROUTE_CAP", "3")
    _, docs, _ = invoke(subscription_event(subscription_payload(ACCESS_GROUP, realistic_access_lines(500))), capsys)
    assert {d["_aws"]["CloudWatchMetrics"][0]["Namespace"] for d in docs} == {"Acme/Gateways"}
    assert {d["Api"] for d in docs if "Api" in d} == {"orders"}
    routes = {d["Route"] for d in docs if "Route" in d}
    assert len(routes - {"OTHER"}) == 3 and "OTHER" in routes
    assert metric_total(docs, "Requests", ("Api", "Stage", "Route")) == 500


def hostile_event():
    """Kinesis records: invalid base64, binary, gzip'ed garbage, invalid JSON lines, a 1 MB event,
    50,000 tiny events, unknown formats, and a CONTROL_MESSAGE."""
    good = subscription_payload(ACCESS_GROUP, realistic_access_lines(20))
    control = {
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [
            {
                "id": "",
                "timestamp": 1764075600000,
                "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose.",
            }
        ],
    }
    bad_lines = [
        '{"requestId": "abc", "status": "500", "error.message": "bad "quote" here", "x": }',
        "\x00\x01\x02\xff binary junk",
        "<<<<not xml",
        "just some words in an unknown format",
        '{"status": ' + "[" * 5000 + "}",
    ]
    one_mb = subscription_payload(ACCESS_GROUP, ['{"requestId":"' + "A" * 1_048_000 + '"'])
    tiny = subscription_payload(ACCESS_GROUP, ["x"] * 50_000)
    records = kinesis_event([good, control, subscription_payload(ACCESS_GROUP, bad_lines), one_mb, tiny])
    raw_records = [
        {"kinesis": {"data": "!!!not base64!!!", "sequenceNumber": "900"}},
        {"kinesis": {"data": base64.b64encode(os.urandom(2048)).decode(), "sequenceNumber": "901"}},
        {"kinesis": {"data": base64.b64encode(gzip.compress(b"{not json")).decode(), "sequenceNumber": "902"}},
    ]
    for r in raw_records:
        r.update(eventSource="aws:kinesis", eventID=f"shardId-000000000000:{r['kinesis']['sequenceNumber']}")
    records["Records"].extend(raw_records)
    return records


def test_a_hostile_batch_completes_and_counts_every_rejected_line(capsys):
    event = hostile_event()
    expected = engine_analysis(event)
    # WHEN the handler processes it
    result, docs, logs = invoke(event, capsys)
    # THEN it completes, nothing is reported as failed (bad data is not retried), and every line is counted
    assert result == {"batchItemFailures": []}
    # (the engine recovers what it can from broken JSON: those lines count as requests)
    assert metric_total(docs, "Requests", ("Api", "Stage")) == len(expected.access) >= 20
    unparsed = metric_total(docs, "LinesUnparsed", ("Source",))
    assert unparsed == sum(expected.lines_unparsed.values())
    access_lines = 20 + 5 + 1 + 50_000
    assert (
        metric_total(docs, "LinesParsed", ("Source",), Source="access")
        + metric_total(docs, "LinesUnparsed", ("Source",), Source="access")
        == access_lines
    )
    assert metric_total(docs, "LinesUnparsed", ("Source",), Source="access") >= 50_000
    assert metric_total(docs, "LinesUnparsed", ("Source",), Source="input") >= 3  # the three broken records
    # AND bad data is logged as one WARNING per reason, not one per line, each short and redacted
    warnings = [log for log in logs if log["level"] == "WARNING"]
    reasons = Counter((w["source"], w["reason"]) for w in warnings)
    assert warnings and all(n == 1 for n in reasons.values()) and len(warnings) < 20
    assert all(len(w["sample"]) <= 120 for w in warnings)
    assert all(len(json.dumps(log)) < 4000 for log in logs)  # no 1 MB line in the logs


def test_a_control_message_alone_is_acknowledged(capsys):
    control = {
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [
            {
                "id": "",
                "timestamp": 1764075600000,
                "message": "CWL CONTROL MESSAGE: Checking health of destination Kinesis stream.",
            }
        ],
    }
    result, docs, logs = invoke(subscription_event(control), capsys)
    assert result is None and docs == []
    assert not [log for log in logs if log["level"] in ("WARNING", "ERROR")]


def test_an_unrecognised_event_is_counted_not_raised(capsys):
    _, docs, logs = invoke({"hello": "world"}, capsys)
    assert metric_total(docs, "LinesUnparsed", ("Source",), Source="input") == 1
    assert [w["reason"] for w in logs if w["level"] == "WARNING"] == ["unknown-event-shape"]


def test_kinesis_record_that_fails_unexpectedly_is_reported_with_the_records_after_it(monkeypatch, capsys):
    # GIVEN three records, the second of which makes the engine fail (a bug, not bad data)
    payloads = [subscription_payload(f"/aws/apigateway/api-{i}", realistic_access_lines(10, seed=i)) for i in range(3)]
    event = kinesis_event(payloads)
    original = LogAnalyzer.add_batch

    def flaky(self, batch):
        if batch.log_group == "/aws/apigateway/api-1":
            raise RuntimeError("engine bug")
        return original(self, batch)

    monkeypatch.setattr(LogAnalyzer, "add_batch", flaky)
    # WHEN the handler runs
    result, docs, logs = invoke(event, capsys)
    # THEN the failed record and the ones after it are retried; only the first one is counted now
    seqs = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
    assert result == {"batchItemFailures": [{"itemIdentifier": seqs[1]}, {"itemIdentifier": seqs[2]}]}
    assert metric_total(docs, "Requests", ("Api", "Stage")) == 10
    assert any(log["level"] == "ERROR" and log["message"] == "record processing failed" for log in logs)


def test_subscription_engine_failure_is_counted_and_logged_not_raised(monkeypatch, capsys):
    monkeypatch.setattr(LogAnalyzer, "add_batch", lambda self, batch: (_ for _ in ()).throw(RuntimeError("bug")))
    result, docs, logs = invoke(subscription_event(subscription_payload(ACCESS_GROUP, ["{}"])), capsys)
    assert result is None
    assert metric_total(docs, "LinesUnparsed", ("Source",), Source="input") == 1
    assert any(log["level"] == "ERROR" for log in logs)


def test_an_engine_failure_logs_its_traceback_without_the_secrets_its_message_echoes(monkeypatch, capsys):
    # GIVEN an engine bug whose exception message echoes the data it failed on, secrets included
    secrets = [
        "AKIAIOSFODNN7EXAMPLE",
        "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        "s3cr3tT0kenValue123",
    ]
    message = f"cannot read line: key={secrets[0]} slack={secrets[1]} ?token={secrets[2]}"

    def failing(self, batch):
        error = KeyError(message)
        error.add_note(f"while reading Authorization: Bearer {secrets[2]}")
        raise error

    monkeypatch.setattr(LogAnalyzer, "add_batch", failing)
    # WHEN the handler runs
    _, _, logs = invoke(subscription_event(subscription_payload(ACCESS_GROUP, ["{}"])), capsys)
    # THEN the ERROR line still carries the traceback and the exception's name, and none of the secrets
    error = next(log for log in logs if log["level"] == "ERROR")
    assert error["exception_name"] == "KeyError" and "Traceback" in error["exception"]
    assert "cannot read line" in error["exception"] and "[REDACTED]" in error["exception"]
    assert error["stack_trace"]["type"] == "KeyError" and "[REDACTED]" in error["stack_trace"]["value"]
    assert ["while reading" in note for note in error["exception_notes"]] == [True]
    text = json.dumps(logs)
    assert [s for s in secrets if s in text] == [], text


def test_logs_carry_the_batch_keys_and_never_a_full_line_or_secret(capsys):
    secret_line = json.dumps(
        {
            "requestId": "2f1e0d9c-8b7a-4655-9443-322110ffeedd",
            "status": "200",
            "apiId": "a1b2c3d4e5",
            "stage": "prod",
            "httpMethod": "GET",
            "resourcePath": "/pets",
            "userAgent": "curl/8.4.0 token=s3cr3tT0kenValue123",
        }
    )
    event = subscription_event(subscription_payload(ACCESS_GROUP, [secret_line, "token=s3cr3tT0kenValue123 garbage"]))
    _, _, logs = invoke(event, capsys)
    summary = next(log for log in logs if log["message"] == "batch analysed")
    assert summary["log_group"] == ACCESS_GROUP and summary["batch_size"] == 2 and summary["log_stream"]
    text = json.dumps(logs)
    assert "s3cr3tT0kenValue123" not in text and secret_line not in text


def test_alerts_off_is_said_once_per_cold_start(capsys):
    event = subscription_event(subscription_payload(ACCESS_GROUP, realistic_access_lines(5)))
    _, _, first = invoke(event, capsys)
    _, _, second = invoke(event, capsys)
    said = [log for log in first + second if log["message"] == "immediate alerts off"]
    assert len(said) == 1 and set(said[0]["missing"]) == {"GATEWATCH_ALERT_TOPIC_ARN", "GATEWATCH_STATE_TABLE"}


def test_cold_import_pulls_in_neither_boto3_nor_pydantic():
    env = {k: v for k, v in os.environ.items() if k not in ENV_TO_CLEAR}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "functions"), str(ROOT)])
    code = (
        "import sys, analyzer.handler; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'pydantic') "
        "or m in ('botocore.session', 'botocore.client')))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_corpus_execution_lines_as_one_payload(capsys):
    lines = [e["message"] for e in corpus_execution()]
    event = {"awslogs": {"data": encode_payload(subscription_payload(EXEC_GROUP, lines), compression="zlib")}}
    expected = engine_analysis(event)
    _, docs, _ = invoke(event, capsys)
    assert (
        metric_total(docs, "Causes", ("Api", "Stage", "Category"))
        == sum(1 for r in expected.execution if r.category.value != "OK")
        > 0
    )

"""Account-policy mode: every log group of the account reaches the analyzer; only API Gateway's become API metrics."""

from __future__ import annotations

import base64
import gzip
import json
import sys
import time

import pytest

from analyzer import handler
from gatewatch_demo.lambda_context import LocalLambdaContext
from tests.emf_spec import assert_valid_emf, emf_documents, metric_total
from tests.functional.test_analyzer_handler import ENV_TO_CLEAR
from tests.helpers import CORPUS, access_corpus_lines, delivered_at, kinesis_event, subscription_payload
from tests.unit.test_log_groups import APP_JSON, POWERTOOLS_JSON, VPC_FLOW

START_MS = 1764075600000


@pytest.fixture(autouse=True)
def fresh_handler(monkeypatch):
    for name in ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    handler.reset_state()
    stream = handler.logger.registered_handler.stream
    yield
    handler.logger.registered_handler.stream = stream
    handler.clock = time.time
    handler.reset_state()


def real_lambda_payloads() -> list[dict]:
    """The real Kinesis records of Powertools' sample: a Lambda function's START/END/REPORT lines."""
    fixture = json.loads((CORPUS / "payloads" / "powertools_kinesisStreamCloudWatchLogsEvent_decoded.json").read_text())
    return [json.loads(gzip.decompress(base64.b64decode(r["data_b64_gzip"]))) for r in fixture["records"]]


def run(event: dict, capsys) -> tuple[list[dict], list[dict]]:
    handler.logger.registered_handler.stream = sys.stdout
    handler.clock = lambda: delivered_at(event)
    handler.lambda_handler(event, LocalLambdaContext())
    out = capsys.readouterr().out
    logs = [json.loads(line) for line in out.splitlines() if line.startswith('{"level"')]
    return assert_valid_emf(emf_documents(out)), logs


def test_other_services_logs_create_no_api_metric_and_no_access_unparsed_count(capsys):
    # GIVEN one Kinesis delivery of an account-level subscription, nothing configured: a real Lambda
    # function's log group, a VPC flow log, an app's JSON logs (with requestId, method, status), a
    # Powertools log — and one API Gateway access-log group under a name of the user's choosing
    lambda_payloads = real_lambda_payloads()
    others = [
        *lambda_payloads,
        subscription_payload("/vpc/prod-flow-logs", VPC_FLOW, start_ms=START_MS),
        subscription_payload("/ecs/orders-service", APP_JSON, start_ms=START_MS),
        subscription_payload("/orders/app", APP_JSON * 5, start_ms=START_MS),
        subscription_payload("/aws/lambda/orders-handler", POWERTOOLS_JSON, start_ms=START_MS),
    ]
    gateway_lines = access_corpus_lines()
    gateway = subscription_payload("/shop/api-access", gateway_lines, start_ms=START_MS)
    # WHEN the analyzer reads it
    docs, logs = run(kinesis_event([*others, gateway]), capsys)
    # THEN the API Gateway group's requests are the only requests
    assert metric_total(docs, "Requests", ("Api", "Stage")) == len(gateway_lines)
    # AND nothing of the other groups is an access line, parsed or not (the unparsed-rate alarm stays calm)
    assert metric_total(docs, "LinesParsed", ("Source",), Source="access") == len(gateway_lines)
    assert metric_total(docs, "LinesUnparsed", ("Source",), Source="access") == 0
    assert metric_total(docs, "LinesParsed", ("Source",), Source="execution") == 0
    # AND their lines are counted under their own Source, and named in one log line
    other_lines = sum(len(p["logEvents"]) for p in others)
    assert metric_total(docs, "LinesUnparsed", ("Source",), Source="other") == other_lines
    (note,) = [
        entry for entry in logs if entry["message"] == "lines of log groups that are not API Gateway's set aside"
    ]
    assert note["lines"] == other_lines
    assert set(note["log_groups"]) == {p["logGroup"] for p in others}


def test_app_logs_alone_create_no_api_dimension_at_all(capsys):
    # GIVEN only an app's JSON logs with a status key (what used to become requests under Api=unknown)
    docs, _ = run(kinesis_event([subscription_payload("/orders/app", APP_JSON * 50, start_ms=START_MS)]), capsys)
    # THEN no document has an Api dimension: no paid metric is made of them
    assert [d for d in docs if "Api" in d] == []
    assert metric_total(docs, "LinesUnparsed", ("Source",), Source="other") == 100

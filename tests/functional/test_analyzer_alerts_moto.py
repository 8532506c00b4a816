"""Immediate alerts through SNS with DynamoDB dedupe (moto, in-process): once per window, never lost, never doubled."""

from __future__ import annotations

import json
import sys
import threading

import boto3
import pytest
from moto import mock_aws

from analyzer import handler
from gatewatch.alerts.schema import AnalyzerAlert
from tests.emf_spec import assert_valid_emf, emf_documents, metric_total
from tests.functional.test_analyzer_handler import ENV_TO_CLEAR, EXEC_GROUP, LambdaContext
from tests.helpers import kinesis_event, subscription_event, subscription_payload

REGION = "eu-west-1"
TABLE = "gatewatch-state"
T0 = 1764075600.0  # 2025-11-25T13:00:00Z — the events below happen at this time


class FakeClock:
    """The handler's injectable wall clock: frozen, advanced by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def broken_deploy_lines(n: int, *, start: int = 0) -> list[str]:
    """Execution-log lines of `n` requests failing with a malformed Lambda proxy response."""
    lines = []
    for i in range(start, start + n):
        rid = f"3c8e1f2a-5b6d-4e7f-8a9b-{i:012x}"
        lines += [
            f"({rid}) Extended Request Id: Iq9gwFDNoAMF{i:04d}=",
            f"({rid}) HTTP Method: POST, Resource Path: /orders",
            f'({rid}) Endpoint response body before transformations: {{"ok": true}}',
            f"({rid}) Execution failed due to configuration error: Malformed Lambda proxy response",
            f"({rid}) Method completed with status: 502",
        ]
    return lines


def broken_event(n: int = 3) -> dict:
    return subscription_event(subscription_payload(EXEC_GROUP, broken_deploy_lines(n), start_ms=int(T0 * 1000)))


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock(T0)
    monkeypatch.setattr(handler, "clock", fake)
    return fake


@pytest.fixture
def aws(monkeypatch, clock):
    """SNS topic with an SQS subscription (to read what was published) and the dedupe table with TTL."""
    for name in ENV_TO_CLEAR + ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        sns, sqs, ddb = (boto3.client(s, region_name=REGION) for s in ("sns", "sqs", "dynamodb"))
        topic_arn = sns.create_topic(Name="gatewatch-alerts")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="alerts-tap")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        ddb.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        )
        ddb.update_time_to_live(
            TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
        )
        monkeypatch.setenv("GATEWATCH_ALERT_TOPIC_ARN", topic_arn)
        monkeypatch.setenv("GATEWATCH_STATE_TABLE", TABLE)
        handler.reset_state()
        yield {"sns": sns, "sqs": sqs, "ddb": ddb, "topic_arn": topic_arn, "queue_url": queue_url}
        handler.reset_state()


def published(aws) -> list[dict]:
    """Every alert message that reached the topic so far (drains the tap queue)."""
    out = []
    while True:
        resp = aws["sqs"].receive_message(QueueUrl=aws["queue_url"], MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = resp.get("Messages", [])
        if not messages:
            return out
        for m in messages:
            out.append(json.loads(json.loads(m["Body"])["Message"]))
            aws["sqs"].delete_message(QueueUrl=aws["queue_url"], ReceiptHandle=m["ReceiptHandle"])


def invoke(event, capsys):
    handler.logger.registered_handler.stream = sys.stdout
    result = handler.lambda_handler(event, LambdaContext())
    return result, assert_valid_emf(emf_documents(capsys.readouterr().out))


def test_a_broken_deploy_alerts_once_with_the_documented_message(aws, capsys):
    # GIVEN three requests failing with a malformed Lambda proxy response
    # WHEN the analyzer sees them
    _, docs = invoke(broken_event(3), capsys)
    # THEN one message is published, a gatewatch.alert/v1 with everything the on-call needs
    messages = published(aws)
    assert len(messages) == 1
    alert = AnalyzerAlert.from_dict(messages[0])
    assert (alert.api_id, alert.stage, alert.category, alert.count) == ("a1b2c3d4e5", "prod", "MALFORMED_RESPONSE", 3)
    assert alert.routes == ("POST /orders",) and len(alert.samples) == 3
    assert alert.log_group == EXEC_GROUP and alert.account == "111122223333" and alert.region == REGION
    assert alert.first_seen == "2025-11-25T13:00:00Z"
    assert "Malformed Lambda proxy response" in alert.insights_query
    assert all(s.request_id in alert.insights_query for s in alert.samples)
    # AND the metrics were printed after the alert went out
    assert metric_total(docs, "Causes", ("Api", "Stage", "Category"), Category="MALFORMED_RESPONSE") == 3
    # AND the dedupe window is stored with its TTL
    item = aws["ddb"].get_item(TableName=TABLE, Key={"pk": {"S": "alert#a1b2c3d4e5|prod|MALFORMED_RESPONSE"}})["Item"]
    assert int(item["expires_at"]["N"]) == int(T0) + 900


def test_the_same_batch_delivered_twice_alerts_once(aws, clock, capsys):
    # GIVEN a batch of three broken requests, analysed once
    invoke(broken_event(3), capsys)
    # WHEN Lambda delivers the same batch again 30 s later
    clock.now += 30
    _, docs = invoke(broken_event(3), capsys)
    # THEN one alert in all, and the retry still completes and prints its metrics for the three requests
    assert len(published(aws)) == 1
    assert metric_total(docs, "Causes", ("Api", "Stage", "Category"), Category="MALFORMED_RESPONSE") == 3


def test_two_concurrent_invocations_alert_once(aws, capsys):
    event = broken_event()
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            barrier.wait()
            handler.lambda_handler(event, LambdaContext())
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(published(aws)) == 1


def test_after_the_cooldown_it_alerts_again_and_not_before(aws, clock, capsys):
    invoke(broken_event(), capsys)
    clock.now += 899
    invoke(broken_event(), capsys)
    assert len(published(aws)) == 1
    clock.now += 2  # 901 s after the first alert: the window expired (even if TTL has not deleted it yet)
    invoke(broken_event(), capsys)
    messages = published(aws)
    assert len(messages) == 1 and messages[0]["alert_id"].endswith(f"|{int(T0) + 901}")


def test_each_api_stage_and_category_has_its_own_window(aws, capsys):
    other_stage = subscription_payload(
        "API-Gateway-Execution-Logs_a1b2c3d4e5/beta", broken_deploy_lines(1), start_ms=int(T0 * 1000)
    )
    permission = [
        line.replace("Malformed Lambda proxy response", "Invalid permissions on Lambda function").replace(
            "status: 502", "status: 500"
        )
        for line in broken_deploy_lines(2, start=100)
    ]
    event = kinesis_event(
        [
            subscription_payload(EXEC_GROUP, broken_deploy_lines(1), start_ms=int(T0 * 1000)),
            other_stage,
            subscription_payload(EXEC_GROUP, permission, start_ms=int(T0 * 1000)),
        ]
    )
    result, _ = invoke(event, capsys)
    assert result == {"batchItemFailures": []}
    got = sorted((m["stage"], m["category"], m["count"]) for m in published(aws))
    assert got == [
        ("beta", "MALFORMED_RESPONSE", 1),
        ("prod", "INTEGRATION_PERMISSION", 2),
        ("prod", "MALFORMED_RESPONSE", 1),
    ]


def test_sns_failure_raises_before_any_metric_and_the_retry_delivers(aws, capsys):
    # GIVEN the topic is gone (deleted, or SNS unavailable after retries)
    aws["sns"].delete_topic(TopicArn=aws["topic_arn"])
    # WHEN the analyzer has an alert to send
    with pytest.raises(handler.AlertDeliveryError):
        handler.logger.registered_handler.stream = sys.stdout
        handler.lambda_handler(broken_event(), LambdaContext())
    # THEN it raised before printing any EMF (the platform retry will count the batch exactly once)
    assert emf_documents(capsys.readouterr().out) == []
    # AND the dedupe window was released, so the retry is not silenced
    assert "Item" not in aws["ddb"].get_item(
        TableName=TABLE, Key={"pk": {"S": "alert#a1b2c3d4e5|prod|MALFORMED_RESPONSE"}}
    )
    # WHEN SNS is back and the platform retries the same batch
    assert aws["sns"].create_topic(Name="gatewatch-alerts")["TopicArn"] == aws["topic_arn"]
    aws["sns"].subscribe(
        TopicArn=aws["topic_arn"],
        Protocol="sqs",
        Endpoint=aws["sqs"].get_queue_attributes(QueueUrl=aws["queue_url"], AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ],
    )
    _, docs = invoke(broken_event(), capsys)
    # THEN the alert goes out once and the metrics are printed once
    assert len(published(aws)) == 1
    assert metric_total(docs, "Causes", ("Api", "Stage", "Category"), Category="MALFORMED_RESPONSE") == 3


def test_dynamodb_failure_raises_before_any_metric(aws, capsys):
    aws["ddb"].delete_table(TableName=TABLE)
    with pytest.raises(handler.AlertDeliveryError):
        handler.logger.registered_handler.stream = sys.stdout
        handler.lambda_handler(broken_event(), LambdaContext())
    assert emf_documents(capsys.readouterr().out) == []
    assert published(aws) == []


def test_categories_that_do_not_mean_a_broken_deploy_do_not_alert(aws, capsys):
    lines = [
        line.replace(
            "Execution failed due to configuration error: Malformed Lambda proxy response",
            "Execution failed due to a timeout error",
        ).replace("status: 502", "status: 504")
        for line in broken_deploy_lines(2)
    ]
    _, docs = invoke(subscription_event(subscription_payload(EXEC_GROUP, lines, start_ms=int(T0 * 1000))), capsys)
    assert published(aws) == []
    assert metric_total(docs, "Causes", ("Api", "Stage", "Category")) == 2


def test_alert_categories_are_configurable(aws, monkeypatch, capsys):
    monkeypatch.setenv("GATEWATCH_ALERT_CATEGORIES", "INTEGRATION_TIMEOUT")
    handler.reset_state()
    lines = [
        line.replace(
            "Execution failed due to configuration error: Malformed Lambda proxy response",
            "Execution failed due to a timeout error",
        ).replace("status: 502", "status: 504")
        for line in broken_deploy_lines(2)
    ]
    invoke(
        subscription_event(
            subscription_payload(EXEC_GROUP, lines + broken_deploy_lines(1, start=50), start_ms=int(T0 * 1000))
        ),
        capsys,
    )
    assert [m["category"] for m in published(aws)] == ["INTEGRATION_TIMEOUT"]

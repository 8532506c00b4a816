"""The notifier handler end to end: moto SNS -> SQS (the real envelope), Secrets Manager, DynamoDB; Slack stub."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from gatewatch.adapters.secrets import SecretError
from gatewatch.adapters.slack_client import DeliveryError, RetryPolicy, SlackClient
from gatewatch.adapters.threads import thread_pk
from gatewatch.notify.slack_blocks import Severity
from gatewatch_demo.lambda_context import LocalLambdaContext
from notifier import handler
from tests.functional.slack_stub import WEBHOOK_PATH, SlackStub, no_service

ALARMS = json.loads((Path(__file__).resolve().parents[1] / "events" / "sns_alarms.json").read_text())
REGION = "eu-west-1"
TABLE = "gatewatch-state"
BOT = {"bot_token": "xoxb-999-888-moto-bot-SECRET", "channel": "C0GATEWATCH"}


def Context() -> LocalLambdaContext:
    return LocalLambdaContext("gatewatch-notifier", 256, region=REGION, aws_request_id="req-1", remaining_ms=60_000)


@pytest.fixture
def aws(monkeypatch):
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("GATEWATCH_SLACK_SECRET", "GATEWATCH_SLACK_BOT_SECRET", "GATEWATCH_STATE_TABLE"):
        monkeypatch.delenv(name, raising=False)
    parameters.clear_caches()
    with mock_aws():
        ddb = boto3.client("dynamodb")
        ddb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.update_time_to_live(
            TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
        )
        yield
    parameters.clear_caches()


@pytest.fixture
def slack(monkeypatch):
    with SlackStub() as stub:
        monkeypatch.setattr(
            handler,
            "slack_client",
            SlackClient(
                RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05, timeout_s=1.0, min_interval_s=0.0),
                api_base=stub.api_base,
            ),
        )
        yield stub


def sns_event(message: dict, subject: str | None = None) -> dict:
    """Publish through moto SNS to an SQS queue and turn the delivered envelope into a Lambda SNS event."""
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="gatewatch-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="capture")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    sns.publish(TopicArn=topic, Message=json.dumps(message), **({"Subject": subject} if subject else {}))
    (msg,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1)["Messages"]
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=msg["ReceiptHandle"])
    envelope = json.loads(msg["Body"])
    return {
        "Records": [
            {"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": f"{topic}:0000", "Sns": envelope}
        ]
    }


def secret(name: str, value: str | dict) -> str:
    boto3.client("secretsmanager").create_secret(
        Name=name, SecretString=value if isinstance(value, str) else json.dumps(value)
    )
    return name


def test_bot_token_lifecycle_alarm_opens_a_thread_and_ok_resolves_it(aws, slack, monkeypatch):
    # GIVEN a bot-token secret and the state table
    monkeypatch.setenv("GATEWATCH_SLACK_BOT_SECRET", secret("gatewatch/slack-bot", BOT))
    monkeypatch.setenv("GATEWATCH_STATE_TABLE", TABLE)
    alarm_arn = ALARMS["static_alarm"]["AlarmArn"]

    # WHEN the alarm fires
    handler.lambda_handler(sns_event(ALARMS["static_alarm"], "ALARM: gatewatch-orders-prod-THROTTLED"), Context())
    # THEN a top-level message is posted and its thread remembered with a TTL
    (opened,) = slack.calls("/chat.postMessage")
    assert opened.json["channel"] == BOT["channel"] and "thread_ts" not in opened.json
    item = boto3.client("dynamodb").get_item(TableName=TABLE, Key={"pk": {"S": thread_pk(alarm_arn)}})["Item"]
    assert int(item["expires_at"]["N"]) > time.time() + 86400
    original_ts = item["ts"]["S"]

    # WHEN it recovers
    handler.lambda_handler(sns_event(ALARMS["ok_recovery"], "OK: gatewatch-orders-prod-THROTTLED"), Context())
    # THEN the recovery is a reply in that thread ...
    reply = slack.calls("/chat.postMessage")[1]
    assert reply.json["thread_ts"] == original_ts
    assert reply.json["attachments"][0]["color"] == Severity.RESOLVED.color
    # ... and the original message is updated to show it resolved
    (update,) = slack.calls("/chat.update")
    assert update.json["ts"] == original_ts and update.json["channel"] == BOT["channel"]
    assert "RESOLVED" in update.json["blocks"][0]["text"]["text"]
    assert "Throttled by API Gateway" in update.json["blocks"][0]["text"]["text"]
    assert update.json["attachments"][0]["color"] == Severity.RESOLVED.color
    # ... and the thread is forgotten, so the next ALARM opens a new one
    assert "Item" not in boto3.client("dynamodb").get_item(TableName=TABLE, Key={"pk": {"S": thread_pk(alarm_arn)}})
    assert all(r.headers["authorization"] == f"Bearer {BOT['bot_token']}" for r in slack.requests)


def test_ok_without_a_remembered_thread_is_posted_on_its_own(aws, slack, monkeypatch):
    monkeypatch.setenv("GATEWATCH_SLACK_BOT_SECRET", secret("gatewatch/slack-bot", BOT))
    monkeypatch.setenv("GATEWATCH_STATE_TABLE", TABLE)
    handler.lambda_handler(sns_event(ALARMS["ok_recovery"]), Context())
    (posted,) = slack.requests
    assert "thread_ts" not in posted.json and not slack.calls("/chat.update")


def test_bot_token_without_a_state_table_posts_alarm_and_recovery_on_their_own(aws, slack, monkeypatch):
    # GIVEN a bot-token secret but no state table to remember threads in
    monkeypatch.setenv("GATEWATCH_SLACK_BOT_SECRET", secret("gatewatch/slack-bot", BOT))
    # WHEN an alarm fires and then recovers
    handler.lambda_handler(sns_event(ALARMS["static_alarm"]), Context())
    handler.lambda_handler(sns_event(ALARMS["ok_recovery"]), Context())
    # THEN both are top-level posts to the configured channel, and nothing is threaded or updated
    opened, recovered = slack.calls("/chat.postMessage")
    assert opened.json["channel"] == recovered.json["channel"] == BOT["channel"]
    assert "thread_ts" not in opened.json and "thread_ts" not in recovered.json
    assert not slack.calls("/chat.update")
    assert recovered.json["attachments"][0]["color"] == Severity.RESOLVED.color


@pytest.mark.parametrize("value", ["{url}", {"webhook_url": "{url}"}])
def test_webhook_secret_as_url_or_json_delivers_the_alarm_once(aws, slack, monkeypatch, capsys, caplog, value):
    caplog.set_level(logging.INFO)
    # GIVEN the webhook secret in either documented shape
    stored = value.replace("{url}", slack.webhook_url) if isinstance(value, str) else {"webhook_url": slack.webhook_url}
    monkeypatch.setenv("GATEWATCH_SLACK_SECRET", secret("gatewatch/slack", stored))
    # WHEN the metric-math alarm arrives THEN Slack gets exactly one message for it
    assert handler.lambda_handler(sns_event(ALARMS["metric_math_error_rate"]), Context()) == {"delivered": 1}
    (req,) = slack.requests
    assert req.path == WEBHOOK_PATH
    assert req.json["blocks"][0]["text"]["text"].startswith(Severity.CRITICAL.emoji)
    captured = capsys.readouterr().out + caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert slack.webhook_url not in captured and WEBHOOK_PATH not in captured


def test_without_a_slack_secret_the_formatted_message_is_logged(aws, caplog):
    caplog.set_level(logging.INFO)
    handler.lambda_handler(sns_event(ALARMS["anomaly_detection"]), Context())
    record = next(r for r in caplog.records if hasattr(r, "slack_payload"))
    assert "Requests anomaly" in record.slack_payload["blocks"][0]["text"]["text"]


def test_a_revoked_webhook_makes_the_handler_raise_without_revealing_the_url(aws, slack, monkeypatch, capsys, caplog):
    caplog.set_level(logging.INFO)  # botocore's DEBUG wire dumps are off in Lambda as they are here
    caplog.set_level(logging.DEBUG, logger="gatewatch")
    monkeypatch.setenv("GATEWATCH_SLACK_SECRET", secret("gatewatch/slack", slack.webhook_url))
    slack.script(no_service())
    with pytest.raises(DeliveryError) as caught:
        handler.lambda_handler(sns_event(ALARMS["static_alarm"]), Context())
    assert caught.value.permanent
    captured = (
        capsys.readouterr().out + caplog.text + "".join(str(r.__dict__) for r in caplog.records) + str(caught.value)
    )
    assert "no_service" in captured
    assert WEBHOOK_PATH not in captured and slack.base_url not in captured


def test_a_missing_secret_raises_so_the_event_is_retried(aws, monkeypatch):
    monkeypatch.setenv("GATEWATCH_SLACK_SECRET", "gatewatch/does-not-exist")
    with pytest.raises(SecretError, match="gatewatch/does-not-exist"):
        handler.lambda_handler(sns_event(ALARMS["static_alarm"]), Context())

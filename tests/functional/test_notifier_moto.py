"""The notifier handler end to end: moto SNS -> SQS (the real envelope), Secrets Manager, DynamoDB; Slack stub."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from gatewatch.adapters.secrets import SecretError
from gatewatch.adapters.slack_client import DeliveryError, RetryPolicy, SlackClient
from gatewatch.adapters.threads import thread_pk
from gatewatch.notify.slack_blocks import Severity
from gatewatch.services import notifier as notifier_service
from gatewatch_demo.lambda_context import LocalLambdaContext
from notifier import handler
from tests.functional.slack_stub import (
    WEBHOOK_PATH,
    Answer,
    SlackStub,
    drip,
    foreign_links,
    link_urls,
    no_service,
    strings,
)

ALARMS = json.loads((Path(__file__).resolve().parents[1] / "events" / "sns_alarms.json").read_text())
REGION = "eu-west-1"
TABLE = "gatewatch-state"
BOT = {"bot_token": "xoxb-999-888-moto-bot-SECRET", "channel": "C0GATEWATCH"}


def Context() -> LocalLambdaContext:
    return LocalLambdaContext("gatewatch-notifier", 256, region=REGION, aws_request_id="req-1", remaining_ms=60_000)


@dataclass(frozen=True)
class CountdownContext(LocalLambdaContext):
    """A Lambda context whose remaining time runs down in real time from `remaining_ms`."""

    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return int(self.remaining_ms - (time.monotonic() - self.started) * 1000)


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


def sns_event(message: dict | str, subject: str | None = None) -> dict:
    """Publish through moto SNS to an SQS queue and turn the delivered envelope into a Lambda SNS event.

    A dict is published as JSON; a string as it is (hostile bodies that no encoder would write)."""
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="gatewatch-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="capture")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    body = message if isinstance(message, str) else json.dumps(message)
    sns.publish(TopicArn=topic, Message=body, **({"Subject": subject} if subject else {}))
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


# --- hostile bodies: every one is posted, none makes the handler raise ------------------------------

ALERT = {
    "schema": "gatewatch.alert/v1",
    "alert_id": "a1b2c3d4e5|prod|MALFORMED_RESPONSE|1795615200",
    "api_id": "a1b2c3d4e5",
    "api_name": "orders",
    "stage": "prod",
    "category": "MALFORMED_RESPONSE",
    "title": "Malformed Lambda proxy response",
    "count": 3,
    "first_seen": "2026-11-25T14:00:01Z",
    "last_seen": "2026-11-25T14:00:09Z",
    "routes": ["POST /orders"],
    "samples": [{"request_id": "c9f8e7d6-5a4b-4c3d-8e2f-1a0b9c8d7e00", "route": "POST /orders", "status": 502}],
    "log_group": "API-Gateway-Execution-Logs_a1b2c3d4e5/prod",
    "account": "111122223333",
    "region": "eu-west-1",
}
STATIC = ALARMS["static_alarm"]


def alarm_body(trigger: dict | None = None, **fields) -> str:
    return json.dumps({**STATIC, **fields, "Trigger": {**STATIC["Trigger"], **(trigger or {})}})


GENERIC = "Notification on the gatewatch topic"
#: name -> (SNS body, a text the posted message must show: it was read as what it is, or shown as text)
HOSTILE_BODIES = {
    "alert count Infinity": (json.dumps({**ALERT, "count": float("inf")}), "Malformed"),
    "alert count NaN": (json.dumps({**ALERT, "count": float("nan")}), "Malformed"),
    "alert count 1e999": (json.dumps(ALERT).replace('"count": 3', '"count": 1e999'), "Malformed"),
    "alert status and count of the wrong types": (
        json.dumps({**ALERT, "count": [1], "samples": [{"status": {"a": 1}}], "routes": 7}),
        "Malformed",
    ),
    "alert first_seen in year 1 east of UTC": (
        json.dumps({**ALERT, "first_seen": "0001-01-01T00:30:00+01:00"}),
        "Malformed",
    ),
    "alert last_seen at the end of year 9999": (
        json.dumps({**ALERT, "last_seen": "9999-12-31T23:59:59Z"}),
        "Malformed",
    ),
    "alarm period Infinity": (alarm_body({"Period": float("inf")}), "Throttled"),
    "alarm period 10**30": (alarm_body({"Period": 10**30, "EvaluationPeriods": 10**30}), "Throttled"),
    "alarm threshold Infinity": (alarm_body({"Threshold": float("inf")}), "Throttled"),
    "alarm StateChangeTime in year 0001": (alarm_body(StateChangeTime="0001-01-01T00:00:00.000+0000"), "0001-01-01"),
    "alarm StateChangeTime in year 9999": (alarm_body(StateChangeTime="9999-12-31T23:59:59.999+0000"), "9999-12-31"),
    "object nested 500 deep": ('{"a":' * 500 + "1" + "}" * 500, GENERIC),
    "array nested 900 deep": ("[" * 900 + "]" * 900, GENERIC),
    "array nested 900 deep, unclosed": ("[" * 900, "[[[["),
    "object nested 120 deep (decodable)": ('{"a":' * 120 + "1" + "}" * 120, "a=a=a=a="),
    "alert whose routes nest 900 deep": (
        json.dumps(ALERT).replace('["POST /orders"]', "[" * 900 + "]" * 900),
        "MALFORMED_RESPONSE",
    ),
    "lone surrogates in an alarm's name and ARN": (
        alarm_body(AlarmName="gatewatch-\ud800-x", AlarmArn="arn:aws:cloudwatch:eu-west-1:111122223333:alarm:\udfff"),
        "gatewatch-\ufffd-x",
    ),
    "alarm ARN whose region is a host": (
        alarm_body(AlarmArn="arn:aws:cloudwatch:evil.example/x?:111122223333:alarm:a"),
        "gatewatch-orders-prod-THROTTLED",
    ),
    "alert whose region is a host and account a script": (
        json.dumps({**ALERT, "region": "evil.example/x?", "account": "<script>", "log_group": "https://evil.example/"}),
        "Malformed",
    ),
    "alert whose log group and query are hostile": (
        json.dumps({**ALERT, "log_group": "x?#@evil.example", "insights_query": "https://evil.example/\ud800"}),
        "Malformed",
    ),
}


@pytest.fixture
def bot_with_threads(aws, slack, monkeypatch):
    """Bot-token delivery with the state table, so threads (DynamoDB keys) are exercised too."""
    monkeypatch.setenv("GATEWATCH_SLACK_BOT_SECRET", secret("gatewatch/slack-bot", BOT))
    monkeypatch.setenv("GATEWATCH_STATE_TABLE", TABLE)
    monkeypatch.setenv(
        "GATEWATCH_APIS", json.dumps({"a1b2c3d4e5": {"name": "orders", "accessLogGroup": "/aws/apigateway/orders"}})
    )
    return slack


@pytest.mark.parametrize("name", list(HOSTILE_BODIES))
def test_a_hostile_body_is_posted_and_the_handler_does_not_raise(bot_with_threads, name):
    slack = bot_with_threads
    body, shown = HOSTILE_BODIES[name]
    # GIVEN a body that once crashed the notifier (OverflowError, RecursionError, UnicodeEncodeError)
    # WHEN it arrives through SNS
    result = handler.lambda_handler(sns_event(body), Context())
    # THEN exactly one message is posted, showing what arrived, and nothing is rejected
    assert result == {"delivered": 1}
    (posted,) = slack.calls("/chat.postMessage")
    assert not slack.refusals  # valid Block Kit: not refused and re-posted as text
    text = "\n".join(strings(posted.json))
    assert shown in text
    text.encode("utf-8")  # well-formed: no lone surrogate reached Slack
    # ... and it links only to AWS consoles and Slack
    assert not foreign_links(posted.json)


def test_when_slack_refuses_the_blocks_the_text_line_is_posted_instead(aws, slack, monkeypatch, caplog):
    # GIVEN a webhook that refuses the message's blocks (as Slack answers invalid Block Kit)
    monkeypatch.setenv("GATEWATCH_SLACK_SECRET", secret("gatewatch/slack", slack.webhook_url))
    slack.script(Answer(400, "invalid_blocks"))
    # WHEN an alarm arrives
    result = handler.lambda_handler(sns_event(ALARMS["static_alarm"]), Context())
    # THEN its text line alone is posted after the refusal, and the handler does not raise
    refused, posted = slack.requests
    assert "blocks" in refused.json and set(posted.json) == {"text", "unfurl_links", "unfurl_media"}
    assert "gatewatch-orders-prod-THROTTLED" in posted.json["text"]
    assert result == {"delivered": 1}
    assert "Slack refused the message's blocks" in caplog.text


def test_a_destination_refusal_is_not_mistaken_for_a_content_refusal(aws, slack, monkeypatch):
    # GIVEN a revoked webhook WHEN an alarm arrives THEN nothing is re-posted as text: the handler raises
    monkeypatch.setenv("GATEWATCH_SLACK_SECRET", secret("gatewatch/slack", slack.webhook_url))
    slack.script(no_service())
    with pytest.raises(DeliveryError):
        handler.lambda_handler(sns_event(ALARMS["static_alarm"]), Context())
    assert len(slack.requests) == 1


def test_a_formatter_fault_still_posts_the_message_generically(aws, slack, monkeypatch, caplog):
    # GIVEN a formatter that fails on this message (a bug meeting odd content), once
    monkeypatch.setenv("GATEWATCH_SLACK_SECRET", secret("gatewatch/slack", slack.webhook_url))
    real, calls = notifier_service.format_notification, []

    def failing_once(notification, links):
        calls.append(notification)
        if len(calls) == 1:
            raise ZeroDivisionError("formatter bug")
        return real(notification, links)

    monkeypatch.setattr(notifier_service, "format_notification", failing_once)
    # WHEN the alarm arrives
    result = handler.lambda_handler(sns_event(ALARMS["static_alarm"]), Context())
    # THEN it is posted in the generic format, showing the alarm's text, and the fault is logged
    (posted,) = slack.requests
    assert result == {"delivered": 1}
    assert "gatewatch-orders-prod-THROTTLED" in "\n".join(strings(posted.json))
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.error == "ZeroDivisionError" and warning.kind == "AlarmNotification"


def test_a_message_that_cannot_even_be_noted_is_a_counted_logged_rejection(aws, slack, monkeypatch, caplog):
    # GIVEN a formatter that fails on everything (the generic format and the note included)
    monkeypatch.setenv("GATEWATCH_SLACK_SECRET", secret("gatewatch/slack", slack.webhook_url))

    def broken(notification, links):
        raise MemoryError

    monkeypatch.setattr(notifier_service, "format_notification", broken)
    # WHEN an alarm arrives THEN the handler does not raise: the message is counted and logged as rejected
    assert handler.lambda_handler(sns_event(ALARMS["static_alarm"]), Context()) == {"delivered": 0, "rejected": 1}
    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert error.rejected == 1 and error.error == "MemoryError" and "gatewatch-orders" in error.sample
    assert not slack.requests


@pytest.mark.parametrize(
    "body",
    [
        alarm_body(AlarmArn="arn:aws:cloudwatch:evil.example/x?:111122223333:alarm:a"),
        json.dumps({**ALERT, "region": "evil.example/x?"}),
        json.dumps({**ALERT, "region": "eu-west-1.evil.example#"}),
        json.dumps({**ALERT, "region": "eu-west-\u0661"}),  # an Arabic-Indic digit: \d would take it
    ],
)
def test_a_region_that_is_not_a_region_code_gets_no_link_at_all(bot_with_threads, body):
    # GIVEN a message whose region would put another host in front of .console.aws.amazon.com
    # WHEN it arrives THEN it is posted without a single link (rather than one to that host)
    handler.lambda_handler(sns_event(body), Context())
    (posted,) = bot_with_threads.calls("/chat.postMessage")
    assert list(link_urls(posted.json)) == []
    assert "evil.example" not in posted.body.decode()  # nor shown as the message's region


def test_a_slow_drip_slack_ends_the_handler_before_the_lambda_with_a_retryable_error(aws, monkeypatch):
    # GIVEN the production delivery policy, a Lambda with 3 s left (the 15 s notifier, scaled down), and
    # a Slack that trickles its answer one byte a second: no read ever waits 5 s, so no per-socket
    # timeout would end it
    with SlackStub() as slack:
        monkeypatch.setattr(handler, "slack_client", SlackClient(api_base=slack.api_base))
        monkeypatch.setenv("GATEWATCH_SLACK_SECRET", secret("gatewatch/slack", slack.webhook_url))
        slack.script(drip(1.0))
        context = CountdownContext("gatewatch-notifier", 256, region=REGION, remaining_ms=3_000)
        # WHEN an alarm arrives
        with pytest.raises(DeliveryError) as caught:
            handler.lambda_handler(sns_event(ALARMS["static_alarm"]), context)
        # THEN the handler has ended before the Lambda's time ran out, with an error Lambda retries
        assert context.get_remaining_time_in_millis() > 0
        assert not caught.value.permanent and caught.value.error == "TimeoutError"
        assert len(slack.requests) == 1  # it was connected and reading: the deadline, not a refusal, ended it


def test_records_that_are_not_sns_notifications_are_counted_and_logged(aws, slack, monkeypatch, caplog):
    # GIVEN an event with one real SNS record and two that are not SNS notifications at all
    monkeypatch.setenv("GATEWATCH_SLACK_SECRET", secret("gatewatch/slack", slack.webhook_url))
    event = sns_event(ALARMS["static_alarm"])
    event["Records"] += [{"EventSource": "aws:sqs", "body": "x"}, "not a record"]
    # WHEN it arrives THEN the notification is posted and the other two are a counted, logged rejection
    assert handler.lambda_handler(event, Context()) == {"delivered": 1, "rejected": 2}
    assert len(slack.requests) == 1
    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert error.rejected == 2

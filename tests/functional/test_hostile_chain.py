"""The chained test: a hostile request -> the real analyzer handler -> moto SNS (tapped by SQS) ->
the real notifier handler (webhook secret in moto Secrets Manager) -> the loopback Slack stub.

The request's path, error message and user agent carry Slack control sequences and a credential;
what Slack receives must contain none of them unescaped, and no credential at all. And the lines the
analyzer cannot read, whose samples it logs, carry no credential into its structured log either.
"""

from __future__ import annotations

import io
import json
import logging

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from analyzer import handler as analyzer
from gatewatch.adapters.slack_client import RetryPolicy, SlackClient
from gatewatch.parse.reasons import SAMPLE_CHARS
from gatewatch_demo.lambda_context import LocalLambdaContext
from notifier import handler as notifier
from tests.functional.slack_stub import WEBHOOK_PATH, SlackStub, foreign_links, strings
from tests.helpers import subscription_event, subscription_payload
from tests.secret_formats import SECRET_FORMATS, leaked, placements

REGION = "eu-west-1"
T0_MS = 1764075600000
ACCESS_GROUP = "/aws/apigateway/orders-prod-access"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJldmlsIn0.c2lnbmF0dXJlLXNlY3JldA"
INJECTIONS = ("<!channel>", "<!here>", "<http://evil.example|click>")
HOSTILE = " ".join(INJECTIONS) + f" Authorization: Bearer {TOKEN}"
ENV_TO_CLEAR = (
    "GATEWATCH_APIS",
    "GATEWATCH_ALERT_CATEGORIES",
    "GATEWATCH_SLACK_BOT_SECRET",
    "GATEWATCH_ROUTE_CAP",
    "GATEWATCH_FIELD_MAP",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_DEV",
    "AWS_ENDPOINT_URL",
)


def Context() -> LocalLambdaContext:
    return LocalLambdaContext("gatewatch-notifier", 256, region=REGION, aws_request_id="chain-1", remaining_ms=60_000)


def hostile_access_lines(n: int = 3) -> list[str]:
    """JSON access-log lines of a broken deploy, each request's path and error message hostile."""
    lines = []
    for i in range(n):
        lines.append(
            json.dumps(
                {
                    "requestId": f"7d1e0c5a-0b3e-4a51-9c1d-{i:012x}",
                    "apiId": "a1b2c3d4e5",
                    "stage": "prod",
                    "httpMethod": "POST",
                    "resourcePath": "/orders/{id}",
                    "path": f"/prod/orders/{HOSTILE}",
                    "status": "500",
                    "protocol": "HTTP/1.1",
                    "responseLength": "36",
                    "ip": "198.51.100.7",
                    "userAgent": HOSTILE,
                    "requestTime": "25/Nov/2025:13:00:00 +0000",
                    "error.responseType": "API_CONFIGURATION_ERROR",
                    "error.message": f"Execution failed due to configuration error: {HOSTILE}",
                    "integrationLatency": "-",
                    "responseLatency": "12",
                }
            )
        )
    return lines


@pytest.fixture
def chain(monkeypatch):
    for name in ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    parameters.clear_caches()
    with mock_aws(), SlackStub() as slack:
        sns, sqs, ddb = (boto3.client(s) for s in ("sns", "sqs", "dynamodb"))
        topic = sns.create_topic(Name="gatewatch-alerts")["TopicArn"]
        queue = sqs.create_queue(QueueName="tap")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        ddb.create_table(
            TableName="gatewatch-state",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        )
        boto3.client("secretsmanager").create_secret(Name="gatewatch/slack", SecretString=slack.webhook_url)
        monkeypatch.setenv("GATEWATCH_ALERT_TOPIC_ARN", topic)
        monkeypatch.setenv("GATEWATCH_STATE_TABLE", "gatewatch-state")
        monkeypatch.setenv("GATEWATCH_SLACK_SECRET", "gatewatch/slack")
        monkeypatch.setattr(analyzer, "clock", lambda: T0_MS / 1000 + 30)
        monkeypatch.setattr(
            notifier,
            "slack_client",
            SlackClient(RetryPolicy(max_attempts=2, base_delay_s=0.01, timeout_s=2.0, min_interval_s=0.0)),
        )
        analyzer.reset_state()
        yield {"sqs": sqs, "queue": queue, "slack": slack}
        analyzer.reset_state()
    parameters.clear_caches()


def test_a_hostile_request_reaches_slack_escaped_and_without_its_credential(chain, caplog, capsys):
    caplog.set_level(logging.INFO)
    slack, sqs = chain["slack"], chain["sqs"]
    # GIVEN the analyzer reads a broken deploy whose requests carry Slack control sequences and a token
    analyzer.lambda_handler(
        subscription_event(subscription_payload(ACCESS_GROUP, hostile_access_lines(), start_ms=T0_MS)), Context()
    )
    (published,) = sqs.receive_message(QueueUrl=chain["queue"], MaxNumberOfMessages=10)["Messages"]
    envelope = json.loads(published["Body"])
    assert json.loads(envelope["Message"])["schema"].startswith("gatewatch.alert/v1")

    # WHEN the notifier receives what the analyzer published
    notifier.lambda_handler({"Records": [{"EventSource": "aws:sns", "Sns": envelope}]}, Context())

    # THEN Slack got one message, about the cause, with the samples' evidence escaped ...
    (delivered,) = slack.requests
    payload = delivered.json
    texts = list(strings(payload))
    everything = "\n".join(texts)
    assert "CONFIGURATION_ERROR" in everything and "7d1e0c5a-0b3e-4a51-9c1d-000000000000" in everything
    # ... none of the injections unescaped, no '<' or '>' at all (we send no mrkdwn links), and no credential
    for injection in INJECTIONS:
        assert injection not in everything and injection not in delivered.body.decode()
    assert not [t for t in texts if "<" in t or ">" in t]
    assert "&lt;!channel&gt;" in everything  # shown, as text, not dropped: the responder sees what was sent
    assert not foreign_links(payload)  # and it links to AWS consoles only
    assert TOKEN not in delivered.body.decode() and TOKEN[:20] not in everything
    # ... and the webhook URL is in no log line
    captured = capsys.readouterr().out + caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert WEBHOOK_PATH not in captured


@pytest.fixture
def analyzer_log(monkeypatch):
    """The analyzer handler without alerting; its structured log lines written to a buffer."""
    for name in (*ENV_TO_CLEAR, "GATEWATCH_ALERT_TOPIC_ARN", "GATEWATCH_STATE_TABLE"):
        monkeypatch.delenv(name, raising=False)
    analyzer.reset_state()
    log_handler = analyzer.logger.registered_handler
    stream, buffer = log_handler.stream, io.StringIO()
    log_handler.stream = buffer
    yield buffer
    log_handler.stream = stream
    analyzer.reset_state()


@pytest.mark.parametrize("name", sorted(SECRET_FORMATS))
def test_the_analyzers_samples_of_unreadable_lines_carry_no_credential(analyzer_log, name):
    secret, core = SECRET_FORMATS[name]
    for where, line in placements(secret, SAMPLE_CHARS):
        # GIVEN an access-log line the analyzer cannot read, with a credential planted in it
        analyzer_log.seek(0)
        analyzer_log.truncate()
        # WHEN the analyzer handler reads it
        analyzer.lambda_handler(subscription_event(subscription_payload(ACCESS_GROUP, [line])), Context())
        # THEN its WARNING about the line carries a sample, and nothing of the credential anywhere in the log
        logs = [json.loads(x) for x in analyzer_log.getvalue().splitlines() if x.startswith("{")]
        (warning,) = [x for x in logs if x["level"] == "WARNING" and x["message"] == "unreadable log data"]
        assert warning["sample"], where
        assert not leaked(analyzer_log.getvalue(), core), (where, warning["sample"])


def test_two_apis_without_an_id_do_not_silence_each_other(chain):
    slack, sqs = chain["slack"], chain["sqs"]
    # GIVEN two APIs whose access logs carry no API id, each breaking the same way on the same stage
    groups = ("/aws/apigateway/orders-prod-access", "/aws/apigateway/payments-prod-access")
    lines = [json.dumps({k: v for k, v in json.loads(x).items() if k != "apiId"}) for x in hostile_access_lines()]
    # WHEN the analyzer reads one, then the other, within the cooldown
    for group in groups:
        analyzer.lambda_handler(subscription_event(subscription_payload(group, lines, start_ms=T0_MS)), Context())
    # THEN each API's alert is published: the second is not taken for the first's repeat
    published = sqs.receive_message(QueueUrl=chain["queue"], MaxNumberOfMessages=10)["Messages"]
    envelopes = [json.loads(m["Body"]) for m in published]
    alerts = [json.loads(e["Message"]) for e in envelopes]
    assert sorted(a["log_group"] for a in alerts) == sorted(groups)
    assert len({a["alert_id"] for a in alerts}) == 2 and all(a["api_id"] == "unknown" for a in alerts)
    # ... and the notifier posts both, each saying which log group it is about
    notifier.lambda_handler({"Records": [{"EventSource": "aws:sns", "Sns": e} for e in envelopes]}, Context())
    posted = ["\n".join(strings(r.json)) for r in slack.requests]
    assert len(posted) == 2 and all(any(g in text for text in posted) for g in groups)

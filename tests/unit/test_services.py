"""The two Lambdas' flows (gatewatch.services), without AWS: settings, ordering and failure semantics."""

from __future__ import annotations

import io
import json
import logging

import pytest
from aws_lambda_powertools import Logger

from gatewatch.adapters.slack_client import DeliveryError, LogDelivery, SlackClient, WebhookDelivery
from gatewatch.alerts.schema import AnalyzerAlert
from gatewatch.config import ConfigError
from gatewatch.services.analyzer import AlertDeliveryError, AnalyzerService, AnalyzerSettings, read_event
from gatewatch.services.notifier import account_of, build_delivery, deliver_notifications
from tests.emf_spec import assert_valid_emf, emf_documents, metric_total
from tests.helpers import kinesis_event, subscription_event, subscription_payload

EXEC_GROUP = "API-Gateway-Execution-Logs_a1b2c3d4e5/prod"
T0_S = 1_764_075_600
#: Powertools keeps one logger per name: the tests share one each, writing to a buffer.
ANALYZER_LOG = Logger(service="test-analyzer", logger_handler=logging.StreamHandler(io.StringIO()))
ALERTING_ENV = {"GATEWATCH_ALERT_TOPIC_ARN": "arn:aws:sns:eu-west-1:111122223333:t", "GATEWATCH_STATE_TABLE": "s"}


def malformed_lines(n: int, *, first: int = 0) -> list[str]:
    """Execution-log lines of `n` requests failing with a malformed Lambda proxy response (a broken deploy)."""
    lines = []
    for i in range(first, first + n):
        rid = f"3c8e1f2a-5b6d-4e7f-8a9b-{i:012x}"
        lines += [
            f"({rid}) HTTP Method: POST, Resource Path: /orders",
            f"({rid}) Execution failed due to configuration error: Malformed Lambda proxy response",
            f"({rid}) Method completed with status: 502",
        ]
    return lines


class RecordingSender:
    """An in-memory alert sender: records what it was asked to send, or fails like SNS would."""

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.sent: list[AnalyzerAlert] = []

    def send(self, alerts, *, policy, now_s):
        if self.fail:
            raise AlertDeliveryError("publish failed")
        self.sent.extend(alerts)
        return len(self.sent), 0


def service_with(sender: RecordingSender, environ: dict[str, str]) -> tuple[AnalyzerService, io.StringIO]:
    out = io.StringIO()
    service = AnalyzerService(AnalyzerSettings.from_env(environ), ANALYZER_LOG, out=out)
    service._sender = sender
    return service, out


# -- analyzer settings -------------------------------------------------------------------------------------


def test_settings_read_the_environment_and_say_what_keeps_alerts_off():
    # GIVEN only a topic (no state table) and a custom namespace
    settings = AnalyzerSettings.from_env(
        {"GATEWATCH_ALERT_TOPIC_ARN": "arn:x", "POWERTOOLS_METRICS_NAMESPACE": " Shop ", "AWS_REGION": "eu-west-1"}
    )
    # THEN alerts are off and the missing variable is named
    assert (settings.namespace, settings.region, settings.alerting) == ("Shop", "eu-west-1", False)
    assert settings.missing_for_alerts() == ["GATEWATCH_STATE_TABLE"]
    assert AnalyzerSettings.from_env(ALERTING_ENV).missing_for_alerts() == []


@pytest.mark.parametrize(
    "raw,cap,ignored",
    [
        ("25", 25, ()),
        ("0", None, (("GATEWATCH_ROUTE_CAP", "0"),)),
        ("ten", None, (("GATEWATCH_ROUTE_CAP", "ten"),)),
        ("", None, ()),
    ],
)
def test_route_cap_is_a_positive_integer_or_ignored_with_a_note(raw, cap, ignored):
    settings = AnalyzerSettings.from_env({"GATEWATCH_ROUTE_CAP": raw})
    assert (settings.route_cap, settings.ignored) == (cap, ignored)
    if cap is not None:
        assert settings.config.default.route_cap == cap


def test_an_invalid_apis_variable_is_a_configuration_error_that_says_what_is_wrong():
    with pytest.raises(ConfigError, match="GATEWATCH_APIS is not valid JSON"):
        AnalyzerSettings.from_env({"GATEWATCH_APIS": "{not json"})


# -- analyzer ordering -------------------------------------------------------------------------------------


def test_alerts_go_out_before_the_metrics_are_printed():
    # GIVEN a broken deploy and a working alert sender
    sender = RecordingSender()
    service, out = service_with(sender, ALERTING_ENV)
    # WHEN the service handles the delivery
    service.handle(subscription_event(subscription_payload(EXEC_GROUP, malformed_lines(3))), now_s=T0_S)
    # THEN one alert for the three requests went out, and the metrics were printed
    assert [(a.category, a.count) for a in sender.sent] == [("MALFORMED_RESPONSE", 3)]
    docs = assert_valid_emf(emf_documents(out.getvalue()))
    assert metric_total(docs, "Causes", ("Api", "Stage", "Category"), Category="MALFORMED_RESPONSE") == 3


def test_when_an_alert_cannot_be_sent_nothing_is_printed_and_the_invocation_fails():
    # GIVEN an alert sender that fails (SNS down after retries)
    service, out = service_with(RecordingSender(fail=True), ALERTING_ENV)
    # WHEN the service handles a broken deploy  THEN it raises (Lambda retries) and printed no metric,
    # so the retry counts the batch exactly once
    with pytest.raises(AlertDeliveryError):
        service.handle(subscription_event(subscription_payload(EXEC_GROUP, malformed_lines(2))), now_s=T0_S)
    assert out.getvalue() == ""


def test_without_alert_targets_only_metrics_are_printed():
    sender = RecordingSender()
    service, out = service_with(sender, {})
    service.handle(subscription_event(subscription_payload(EXEC_GROUP, malformed_lines(1))), now_s=T0_S)
    assert sender.sent == []
    assert emf_documents(out.getvalue())


def test_kinesis_records_are_read_one_by_one_and_only_failures_are_retried():
    # GIVEN a Kinesis event whose second record is not base64
    event = kinesis_event([subscription_payload(EXEC_GROUP, malformed_lines(1, first=i)) for i in range(3)])
    event["Records"][1]["kinesis"]["data"] = "not base64!"
    # WHEN read  THEN bad data is counted, not retried: no record fails, and the other two were analysed
    result = read_event(event, AnalyzerSettings.from_env({}).config, ANALYZER_LOG)
    assert result.kinesis and result.failures == []
    assert result.analysis.lines_unparsed["input"] == 1
    assert len(result.analysis.execution) == 2


def test_a_request_whose_lines_straddle_two_kinesis_records_is_classified_from_all_of_them():
    # GIVEN a Lambda timeout whose cause line is in one Kinesis record and its completion in the next
    rid = "5d9f1b2c-0a1b-4c2d-8e3f-0123456789ab"
    head = [
        f"({rid}) HTTP Method: GET, Resource Path: /echo",
        f"({rid}) Lambda execution failed with status 200 due to customer function error: "
        "2019-02-27T11:31:30.389Z 28a5 Task timed out after 3.00 seconds.",
    ]
    tail = [f"({rid}) Method completed with status: 502"]
    event = kinesis_event([subscription_payload(EXEC_GROUP, head), subscription_payload(EXEC_GROUP, tail)])
    # WHEN the invocation reads both records
    result = read_event(event, AnalyzerSettings.from_env({}).config, ANALYZER_LOG)
    # THEN the one request is classified from all its lines: the function's timeout, not a bare 502
    assert [(r.request_id, r.category.value, r.status) for r in result.analysis.execution] == [
        (rid, "LAMBDA_TIMEOUT", 502)
    ]
    assert result.failures == []


# -- notifier ----------------------------------------------------------------------------------------------


def test_account_of_reads_the_function_arn():
    assert account_of("arn:aws:lambda:eu-west-1:111122223333:function:gatewatch-notifier") == "111122223333"
    assert account_of(None) is None and account_of("not-an-arn") is None


def test_delivery_is_webhook_when_a_secret_is_named_else_the_log():
    client = SlackClient()
    assert isinstance(
        build_delivery({"GATEWATCH_SLACK_SECRET": "gatewatch/slack"}, client, ANALYZER_LOG), WebhookDelivery
    )
    assert isinstance(build_delivery({}, client, ANALYZER_LOG), LogDelivery)


def _sns_event(*messages: str) -> dict:
    return {
        "Records": [
            {"EventSource": "aws:sns", "Sns": {"MessageId": f"m{i}", "Message": m, "Subject": "s"}}
            for i, m in enumerate(messages)
        ]
    }


def test_every_notification_is_formatted_and_logged_without_slack():
    # GIVEN no Slack configured  WHEN two notifications arrive  THEN both are delivered to the log, formatted
    stream = io.StringIO()
    logger = Logger(service="test-notifier-log", logger_handler=logging.StreamHandler(stream))
    result = deliver_notifications(
        _sns_event("plain text alert", json.dumps({"AlarmName": "x", "NewStateValue": "ALARM"})),
        environ={},
        client=SlackClient(),
        logger=logger,
        account="111122223333",
        remaining_s=lambda: 10.0,
    )
    assert result == {"delivered": 2}
    delivered = [json.loads(line) for line in stream.getvalue().splitlines() if "formatted alert follows" in line]
    assert [d["slack_payload"]["blocks"] != [] for d in delivered] == [True, True]
    assert "plain text alert" in delivered[0]["slack_text"] + json.dumps(delivered[0]["slack_payload"])


class FailingOnce(LogDelivery):
    """Delivers to the log, but fails the first message (as Slack answering 500 would)."""

    def __init__(self, logger: Logger) -> None:
        super().__init__(logger)
        self.calls = 0

    def deliver(self, message):
        self.calls += 1
        if self.calls == 1:
            raise DeliveryError("slack said 500", permanent=False)
        return super().deliver(message)


def test_a_failed_delivery_does_not_stop_the_others_and_is_raised_at_the_end(monkeypatch):
    logger = Logger(service="test-notifier-fail", logger_handler=logging.StreamHandler(io.StringIO()))
    delivery = FailingOnce(logger)
    monkeypatch.setattr("gatewatch.services.notifier.build_delivery", lambda environ, client, log: delivery)
    with pytest.raises(DeliveryError, match="slack said 500"):
        deliver_notifications(
            _sns_event("first", "second"),
            environ={},
            client=SlackClient(),
            logger=logger,
            account=None,
            remaining_s=lambda: 10.0,
        )
    assert delivery.calls == 2

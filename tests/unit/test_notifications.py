"""Parsing what arrives on the SNS topic: alarms of every kind, analyzer alerts, anything else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewatch.alerts.schema import AnalyzerAlert
from gatewatch.classify.taxonomy import ErrorCategory
from gatewatch.naming import alarm_name, dashboard_name
from gatewatch.notify.messages import (
    AlarmKind,
    AlarmNotification,
    AlarmState,
    GenericNotification,
    SnsMessage,
    implied_category,
    parse_notification,
    parse_sns_message,
    sns_messages,
)

ALARMS = json.loads((Path(__file__).resolve().parents[1] / "events" / "sns_alarms.json").read_text())


def alarm(name: str, **changes) -> AlarmNotification:
    raw = {**ALARMS[name], **changes}
    parsed = parse_notification(json.dumps(raw))
    assert isinstance(parsed, AlarmNotification)
    return parsed


def test_static_threshold_alarm_is_parsed_with_its_trigger():
    a = alarm("static_alarm")
    assert (a.kind, a.state, a.previous_state) == (AlarmKind.STATIC, AlarmState.ALARM, AlarmState.OK)
    assert (a.metric_name, a.namespace, a.statistic) == ("Errors", "Gatewatch", "Sum")
    assert dict(a.dimensions) == {"Api": "orders", "Stage": "prod", "Category": "THROTTLED"}
    assert (a.threshold, a.comparison_operator, a.period_s, a.evaluation_periods) == (
        50.0,
        "GreaterThanOrEqualToThreshold",
        60,
        1,
    )
    assert (a.api, a.stage, a.observed) == ("orders", "prod", 212.0)
    assert (a.region, a.account, a.region_name) == ("eu-west-1", "111122223333", "EU (Ireland)")


def test_ok_and_insufficient_data_states():
    assert alarm("ok_recovery").is_recovery
    nodata = alarm("insufficient_data")
    assert nodata.state is AlarmState.INSUFFICIENT_DATA and nodata.observed is None
    assert nodata.statistic == "p90"  # ExtendedStatistic wins over Statistic


def test_metric_math_alarm_exposes_expression_and_the_metrics_it_reads():
    a = alarm("metric_math_error_rate")
    assert a.kind is AlarmKind.METRIC_MATH and a.threshold == 5.0
    assert a.expression == "100 * m2 / m1" and a.expression_label == "5xx rate (%)"
    assert {m.metric_name for m in a.metrics if m.metric_name} == {"Requests", "Errors5xx"}
    assert (a.api, a.stage, a.watched_namespace, a.observed) == ("orders", "prod", "Gatewatch", 18.4)


def test_anomaly_detection_alarm_has_a_band_not_a_threshold():
    a = alarm("anomaly_detection")
    assert a.kind is AlarmKind.ANOMALY_DETECTION and a.threshold_metric_id == "ad1"
    assert a.threshold is None and a.expression == "ANOMALY_DETECTION_BAND(m1, 2)"
    assert a.primary_metric.metric_name == "Requests"
    assert (a.observed, a.band) == (12.0, (812.4, 2304.9))


def test_region_falls_back_to_the_topic_arn_when_the_alarm_has_no_arn():
    raw = {k: v for k, v in ALARMS["static_alarm"].items() if k != "AlarmArn"}
    parsed = parse_sns_message(SnsMessage(json.dumps(raw), topic_arn="arn:aws:sns:ap-southeast-2:444455556666:t"))
    assert parsed.region == "ap-southeast-2"


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({}, ErrorCategory.THROTTLED),  # Category dimension
        (
            {
                "AlarmName": "gatewatch-orders-prod-QUOTA_EXCEEDED",
                "Trigger": {**ALARMS["static_alarm"]["Trigger"], "Dimensions": [{"name": "Api", "value": "orders"}]},
            },
            ErrorCategory.QUOTA_EXCEEDED,
        ),  # category in the alarm name
        (
            {"Trigger": {**ALARMS["static_alarm"]["Trigger"], "MetricName": "NearTimeout", "Dimensions": []}},
            ErrorCategory.INTEGRATION_TIMEOUT,
        ),  # metric that implies one
        ({"Trigger": {**ALARMS["static_alarm"]["Trigger"], "Namespace": "AWS/ApiGateway"}}, None),  # not our metric
        (
            {
                "Trigger": {
                    **ALARMS["static_alarm"]["Trigger"],
                    "Dimensions": [{"name": "Category", "value": "<!channel>"}],
                },
                "AlarmName": "x",
            },
            None,
        ),
    ],
)
def test_category_is_implied_only_for_gatewatch_metrics(changes, expected):
    assert implied_category(alarm("static_alarm", **changes)) is expected


def test_a_configured_namespace_is_respected():
    a = alarm("static_alarm", Trigger={**ALARMS["static_alarm"]["Trigger"], "Namespace": "Acme/Gatewatch"})
    assert implied_category(a) is None
    assert implied_category(a, "Acme/Gatewatch") is ErrorCategory.THROTTLED


def test_analyzer_alert_is_recognised_by_its_schema():
    raw = {
        "schema": "gatewatch.alert/v1",
        "alert_id": "a|prod|MALFORMED_RESPONSE|1",
        "api_id": "a",
        "stage": "prod",
        "category": "MALFORMED_RESPONSE",
        "title": "t",
        "count": 3,
        "samples": [{"request_id": "r1", "route": "GET /"}],
    }
    parsed = parse_notification(json.dumps(raw))
    assert isinstance(parsed, AnalyzerAlert) and parsed.count == 3 and parsed.samples[0].request_id == "r1"


@pytest.mark.parametrize(
    "message, subject",
    [
        ("Deploy finished", "deploy"),
        (json.dumps({"source": "aws.health", "detail": {"service": "APIGATEWAY", "eventTypeCode": "x"}}), None),
        (json.dumps([1, 2, 3]), None),
        ("{not json", None),
        (json.dumps({"AlarmName": "x", "NewStateValue": "ALARM", "Trigger": "broken"}), None),
    ],
)
def test_anything_else_becomes_a_readable_generic_notification_or_a_tolerant_alarm(message, subject):
    parsed = parse_notification(message, subject=subject)
    assert isinstance(parsed, (GenericNotification, AlarmNotification))
    if isinstance(parsed, GenericNotification):
        assert parsed.text or parsed.fields
        assert all(isinstance(v, str) and len(v) <= 300 for _, v in parsed.fields)


def test_sns_event_records_are_read_and_malformed_ones_skipped():
    event = {
        "Records": [
            {"Sns": {"Message": "hi", "Subject": "s", "TopicArn": "arn:aws:sns:eu-west-1:1:t", "MessageId": "m1"}},
            {"nope": 1},
            "junk",
        ]
    }
    (msg,) = sns_messages(event)
    assert (msg.message, msg.subject, msg.message_id) == ("hi", "s", "m1")
    assert sns_messages(None) == [] and sns_messages({"Records": "x"}) == []


@settings(max_examples=150, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=30),
        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4),
        max_leaves=20,
    )
)
def test_parsing_never_raises(value):
    for candidate in (
        value,
        {"AlarmName": "a", "NewStateValue": value, "Trigger": value},
        {"schema": "gatewatch.alert/v1", "samples": value, "count": value},
    ):
        parse_notification(json.dumps(candidate))


def test_naming_helpers_agree_with_what_the_notifier_recognises():
    name = alarm_name("orders api", "prod", "THROTTLED")
    assert name == "gatewatch-orders-api-prod-THROTTLED" and dashboard_name("orders/v2") == "gatewatch-orders-v2"
    a = alarm(
        "static_alarm",
        AlarmName=name,
        Trigger={**ALARMS["static_alarm"]["Trigger"], "Dimensions": [{"name": "Api", "value": "orders api"}]},
    )
    assert implied_category(a) is ErrorCategory.THROTTLED

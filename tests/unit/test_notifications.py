"""Parsing what arrives on the SNS topic: alarms of every kind, analyzer alerts, anything else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
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
    "message, subject, expected",
    [
        ("Deploy finished", "deploy", GenericNotification("deploy", "Deploy finished")),
        (
            json.dumps({"source": "aws.health", "detail": {"service": "APIGATEWAY", "eventTypeCode": "x"}}),
            None,
            GenericNotification(
                None, None, (("source", "aws.health"), ("detail", "service=APIGATEWAY, eventTypeCode=x"))
            ),
        ),
        (json.dumps([1, 2, 3]), None, GenericNotification(None, "A list of 3 items: 1, 2, 3")),
        ("{not json", None, GenericNotification(None, "{not json")),
    ],
)
def test_anything_else_becomes_a_readable_generic_notification(message, subject, expected):
    # GIVEN a message that is no alarm and no analyzer alert WHEN parsed
    # THEN it is shown with its subject, as its text or its fields compacted to one line each
    assert parse_notification(message, subject=subject) == expected


def test_an_alarm_with_a_broken_trigger_is_still_shown_as_that_alarm():
    # GIVEN an alarm notification whose Trigger is not an object WHEN parsed
    parsed = parse_notification(json.dumps({"AlarmName": "x", "NewStateValue": "ALARM", "Trigger": "broken"}))
    # THEN it is that alarm, in ALARM, without a metric (as a composite alarm is)
    assert isinstance(parsed, AlarmNotification)
    assert (parsed.name, parsed.state, parsed.kind) == ("x", AlarmState.ALARM, AlarmKind.COMPOSITE)
    assert parsed.metric_name is None and parsed.metrics == ()


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


STATES = [s.value for s in AlarmState]
#: Any JSON value; keys and leaves include the names and states the parser looks for, so shapes that
#: almost look like an alarm or an alert come up as well as random ones.
ODD_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30) | st.sampled_from(STATES),
    lambda c: (
        st.lists(c, max_size=4)
        | st.dictionaries(
            st.text(max_size=10) | st.sampled_from(["AlarmName", "NewStateValue", "Trigger", "route", "request_id"]),
            c,
            max_size=14,
        )
    ),
    max_leaves=20,
)


def _shown_count(value: object) -> int:
    """What an alert's count reads as: a whole number of requests (a number, or its digits in a string,
    whole part); anything else — a negative count, a boolean, Infinity, text — shows 0."""
    if isinstance(value, bool) or value is None:
        return 0
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return 0
    return number if number >= 0 else 0


@settings(max_examples=150, deadline=None)
@given(ODD_JSON)
def test_any_json_is_shown_generically_with_every_field_and_nothing_invented(value):
    # GIVEN any JSON message that is neither an alarm nor an analyzer alert
    assume(not (isinstance(value, dict) and {"AlarmName", "NewStateValue"} <= value.keys()))
    message = json.dumps(value)
    # WHEN parsed
    parsed = parse_notification(message, subject="subj")
    # THEN it is a generic notification under the message's subject ...
    assert isinstance(parsed, GenericNotification) and parsed.subject == "subj"
    if isinstance(value, dict):
        # ... listing the first twelve keys in order, strings verbatim, and saying how many more there are
        assert [k for k, _ in parsed.fields] == list(value)[:12]
        for key, shown in parsed.fields:
            assert isinstance(shown, str) and len(shown) <= 300
            if isinstance(value[key], str):
                assert shown == value[key]
            elif value[key] is None or isinstance(value[key], (bool, int)):
                assert shown == json.dumps(value[key])
        assert parsed.text == (f"… and {len(value) - 12} more fields" if len(value) > 12 else None)
    elif isinstance(value, list):
        assert parsed.text.startswith(f"A list of {len(value)} items") and parsed.fields == ()
    else:
        # ... or the text itself, exactly as sent
        assert parsed.text == message and parsed.fields == ()


@settings(max_examples=150, deadline=None)
@given(ODD_JSON)
def test_an_alarm_with_odd_state_or_trigger_is_still_an_alarm_under_its_name(value):
    # GIVEN an alarm whose state and trigger are any JSON at all
    message = json.dumps({"AlarmName": "orders-5xx", "NewStateValue": value, "Trigger": value})
    # WHEN parsed
    parsed = parse_notification(message)
    # THEN it is shown as that alarm: its name, its state when it is one (else INSUFFICIENT_DATA), and a metric
    # alarm only when the trigger is an object (a composite alarm has none)
    assert isinstance(parsed, AlarmNotification)
    assert parsed.name == "orders-5xx"
    assert parsed.state is (AlarmState(value) if value in STATES else AlarmState.INSUFFICIENT_DATA)
    assert (parsed.kind is AlarmKind.COMPOSITE) == (not isinstance(value, dict))
    assert parsed.threshold is None or isinstance(parsed.threshold, float)


@settings(max_examples=150, deadline=None)
@given(ODD_JSON, ODD_JSON)
def test_an_analyzer_alert_with_odd_samples_or_count_is_never_lost(samples, count):
    # GIVEN an analyzer alert whose samples and count are any JSON at all
    sent = {"schema": "gatewatch.alert/v1", "category": "THROTTLED", "samples": samples, "count": count}
    # WHEN parsed
    parsed = parse_notification(json.dumps(sent))
    if isinstance(samples, list) or samples is None:
        # THEN with samples as the schema has them (a list, or none) it is an analyzer alert with its category,
        # the count when it is a number (else 0) and one sample per object, with its route and request id
        assert isinstance(parsed, AnalyzerAlert) and parsed.category == "THROTTLED"
        assert parsed.count == _shown_count(count)
        objects = [s for s in samples or [] if isinstance(s, dict)]
        assert len(parsed.samples) == len(objects)
        for sample, raw in zip(parsed.samples, objects, strict=True):
            assert sample.route == str(raw.get("route") or "")
            assert sample.request_id == (None if raw.get("request_id") is None else str(raw["request_id"]))
    elif isinstance(parsed, AnalyzerAlert):
        # THEN samples of another type are not invented into samples ...
        assert parsed.category == "THROTTLED" and parsed.samples == ()
    else:
        # ... or the broken alert is shown generically, every field of it
        assert isinstance(parsed, GenericNotification)
        assert [k for k, _ in parsed.fields] == list(sent)
        assert dict(parsed.fields)["category"] == "THROTTLED"


def test_naming_helpers_agree_with_what_the_notifier_recognises():
    name = alarm_name("orders api", "prod", "THROTTLED")
    assert name == "gatewatch-orders-api-prod-THROTTLED" and dashboard_name("orders/v2") == "gatewatch-orders-v2"
    a = alarm(
        "static_alarm",
        AlarmName=name,
        Trigger={**ALARMS["static_alarm"]["Trigger"], "Dimensions": [{"name": "Api", "value": "orders api"}]},
    )
    assert implied_category(a) is ErrorCategory.THROTTLED

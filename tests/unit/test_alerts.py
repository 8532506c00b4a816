"""Immediate-alert content (gatewatch.alert/v1): what the on-call engineer receives for a broken deploy."""

from __future__ import annotations

import pytest

from gatewatch.alerts.coerce import optional_float, optional_int, optional_str
from gatewatch.alerts.immediate import (
    AlertPolicy,
    build_alerts,
    dedupe_key,
    dedupe_window,
    evidence_phrases,
    insights_query,
)
from gatewatch.alerts.schema import AnalyzerAlert
from gatewatch.classify.taxonomy import BROKEN_DEPLOY_CATEGORIES, ErrorCategory
from gatewatch.config import ConfigError
from tests.unit.test_aggregate import T0, access_request, execution_request, failed

NOW = 1764075700.0
POLICY = AlertPolicy()


def test_only_broken_deploy_categories_alert_by_default():
    reqs = [
        failed(1, ErrorCategory.THROTTLED, 429),
        failed(2, ErrorCategory.LAMBDA_ERROR, 502),
        failed(3, ErrorCategory.MALFORMED_RESPONSE, 502),
        access_request(4),
    ]
    alerts = build_alerts(reqs, [], policy=POLICY, now_s=NOW)
    assert [a.category for a in alerts] == ["MALFORMED_RESPONSE"]


def test_one_alert_per_api_stage_and_category_counting_each_request_once():
    # GIVEN the same 3 requests in both logs (access says 500, the execution log says why) and another stage
    access = [failed(i, ErrorCategory.INTEGRATION_PERMISSION, 500) for i in range(3)]
    execution = [execution_request(i, ErrorCategory.INTEGRATION_PERMISSION) for i in range(3)]
    other_stage = [failed(10, ErrorCategory.INTEGRATION_PERMISSION, 500, stage="beta")]
    # WHEN alerts are built
    alerts = build_alerts(
        access + other_stage, execution, policy=POLICY, now_s=NOW, account="111122223333", region="eu-west-1"
    )
    # THEN one alert per stage, and the prod one counts 3 requests, not 6
    assert [(a.stage, a.count) for a in alerts] == [("prod", 3), ("beta", 1)]
    prod = alerts[0]
    assert prod.api_id == "a1b2c3d4e5" and prod.account == "111122223333" and prod.region == "eu-west-1"
    assert prod.title and prod.retry == "no" and prod.blame == "config"
    # the execution-log evidence (the cause line) is what the samples show
    assert all("Invalid permissions on Lambda function" in s.evidence for s in prod.samples)
    assert prod.log_group == "API-Gateway-Execution-Logs_a1b2c3d4e5/prod"


def test_the_message_follows_the_versioned_schema_and_round_trips():
    reqs = [failed(i, ErrorCategory.AUTHORIZER_ERROR, 500, route=f"GET /r{i % 12}") for i in range(40)]
    alert = build_alerts(reqs, [], policy=POLICY, now_s=NOW)[0]
    raw = alert.to_dict()
    assert raw["schema"] == "gatewatch.alert/v1"
    assert raw["alert_id"] == f"a1b2c3d4e5|prod|AUTHORIZER_ERROR|{int(NOW)}"
    assert raw["count"] == 40 and len(raw["samples"]) == 5 and len(raw["routes"]) == 10
    assert raw["first_seen"] == "2025-11-25T13:00:00Z" and raw["last_seen"] == "2025-11-25T13:00:00Z"
    assert [s["request_id"] for s in raw["samples"]] == [r.request_id for r in reqs[:5]]  # the earliest ones
    assert AnalyzerAlert.from_dict(raw) == alert


def test_sample_evidence_is_redacted_and_short():
    secret = "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
    evidence = (
        "Execution failed due to configuration error: Authorizer error Authorization: " + secret + " " + "x" * 2000
    )
    reqs = [failed(1, ErrorCategory.AUTHORIZER_ERROR, 500, evidence=evidence)]
    sample = build_alerts(reqs, [], policy=POLICY, now_s=NOW)[0].samples[0]
    assert "eyJhbGci" not in sample.evidence and "dozjgNry" not in sample.evidence
    assert "[REDACTED]" in sample.evidence and len(sample.evidence) <= 300


def test_the_insights_query_finds_the_sample_requests_or_the_category_evidence():
    reqs = [
        failed(1, ErrorCategory.MALFORMED_RESPONSE, 502, request_id="Iq9gwFDNoAMFo1A="),
        failed(2, ErrorCategory.MALFORMED_RESPONSE, 502),
    ]
    alert = build_alerts(reqs, [], policy=POLICY, now_s=NOW)[0]
    query = alert.insights_query
    assert query.startswith("fields @timestamp, @message | filter ")
    assert query.endswith("| sort @timestamp desc | limit 50")
    assert "Iq9gwFDNoAMFo1A=" in query and reqs[1].request_id in query
    assert "Malformed Lambda proxy response" in query


def test_query_regexes_are_escaped_so_a_hostile_request_id_cannot_break_the_query():
    query = insights_query(["a/b|c.*"], ErrorCategory.CONFIGURATION_ERROR)
    assert r"a\/b\|c\.\*" in query
    assert "Execution failed due to configuration error" in query


@pytest.mark.parametrize("category", sorted(BROKEN_DEPLOY_CATEGORIES, key=lambda c: c.value))
def test_every_broken_deploy_category_has_searchable_evidence(category):
    assert evidence_phrases(category)


def test_policy_from_environment():
    assert AlertPolicy.from_env({}) == AlertPolicy(BROKEN_DEPLOY_CATEGORIES, 900)
    custom = AlertPolicy.from_env(
        {"GATEWATCH_ALERT_CATEGORIES": " throttled, MALFORMED_RESPONSE ", "GATEWATCH_ALERT_COOLDOWN_SECONDS": "60"}
    )
    assert custom == AlertPolicy(frozenset({ErrorCategory.THROTTLED, ErrorCategory.MALFORMED_RESPONSE}), 60)
    with pytest.raises(ConfigError, match="NOT_A_CATEGORY"):
        AlertPolicy.from_env({"GATEWATCH_ALERT_CATEGORIES": "NOT_A_CATEGORY"})
    with pytest.raises(ConfigError, match="positive"):
        AlertPolicy.from_env({"GATEWATCH_ALERT_COOLDOWN_SECONDS": "-5"})


def test_configured_categories_replace_the_default_set():
    policy = AlertPolicy(frozenset({ErrorCategory.THROTTLED}), 900)
    reqs = [failed(1, ErrorCategory.THROTTLED, 429), failed(2, ErrorCategory.MALFORMED_RESPONSE, 502)]
    assert [a.category for a in build_alerts(reqs, [], policy=policy, now_s=NOW)] == ["THROTTLED"]


def test_dedupe_window_is_keyed_per_api_stage_category_and_expires_after_the_cooldown():
    alert = build_alerts([failed(1, ErrorCategory.CONFIGURATION_ERROR, 500)], [], policy=POLICY, now_s=NOW)[0]
    window = dedupe_window(alert, now_s=NOW, cooldown_s=900)
    assert (
        window.key
        == "alert#a1b2c3d4e5|prod|CONFIGURATION_ERROR"
        == dedupe_key("a1b2c3d4e5", "prod", "CONFIGURATION_ERROR")
    )
    assert window.expires_at == int(NOW) + 900 and window.alert_id == alert.alert_id
    assert dedupe_key(None, None, ErrorCategory.MALFORMED_RESPONSE) == "alert#none=|none=|MALFORMED_RESPONSE"


def test_apis_without_an_id_are_told_apart_by_name_else_by_log_group():
    # GIVEN the same broken-deploy category on two APIs logged without an id (different access log groups),
    # and on an API known only by name
    reqs = [
        failed(1, ErrorCategory.MALFORMED_RESPONSE, 502, api_id=None, log_group="/aws/apigateway/orders"),
        failed(2, ErrorCategory.MALFORMED_RESPONSE, 502, api_id=None, log_group="/aws/apigateway/payments"),
        failed(3, ErrorCategory.MALFORMED_RESPONSE, 502, api_id=None, api_name="orders", log_group="/x"),
    ]
    # WHEN alerts are built THEN each API has its own alert and its own cooldown window
    alerts = build_alerts(reqs, [], policy=POLICY, now_s=NOW)
    keys = {dedupe_window(a, now_s=NOW, cooldown_s=900).key for a in alerts}
    assert keys == {
        "alert#log=%2Faws%2Fapigateway%2Forders|prod|MALFORMED_RESPONSE",
        "alert#log=%2Faws%2Fapigateway%2Fpayments|prod|MALFORMED_RESPONSE",
        "alert#name=orders|prod|MALFORMED_RESPONSE",
    }
    # ... named the same way in the alert id (the notifier threads on it), the alert's fields as before
    assert {a.alert_id.rsplit("|", 1)[0] for a in alerts} == {k.removeprefix("alert#") for k in keys}
    assert sorted(a.api_id for a in alerts) == ["orders", "unknown", "unknown"]
    assert {a.log_group for a in alerts} == {"/aws/apigateway/orders", "/aws/apigateway/payments", "/x"}


@pytest.mark.parametrize(
    "one, other",
    [
        ((("a|b", "c"), {}), (("a", "b|c"), {})),  # a separator inside a part
        ((("name=x", "prod"), {}), ((None, "prod"), {"api_name": "x"})),  # an id that looks like a tag
        ((("unknown", "prod"), {}), ((None, "prod"), {})),  # an id that reads like "nothing known"
        (((None, "prod"), {"log_group": "g"}), ((None, "prod"), {"api_name": "g"})),  # a name equal to a log group
        ((("a%7Cb", "c"), {}), (("a|b", "c"), {})),  # an id that is another's encoding
        ((("a", "unknown"), {}), (("a", None), {})),  # a stage called "unknown" and no stage
    ],
)
def test_dedupe_keys_encode_their_parts_unambiguously(one, other):
    (args1, kw1), (args2, kw2) = one, other
    category = ErrorCategory.MALFORMED_RESPONSE
    assert dedupe_key(*args1, category, **kw1) != dedupe_key(*args2, category, **kw2)


def test_keys_of_apis_with_an_id_read_as_before_and_long_keys_stay_within_dynamodbs_limit():
    assert dedupe_key("a1b2c3d4e5", "prod-v2_beta", "THROTTLED") == "alert#a1b2c3d4e5|prod-v2_beta|THROTTLED"
    long = dedupe_key(None, "prod", "THROTTLED", api_name="n" * 2000)
    assert long.startswith("alert#sha256:") and len(long.encode()) <= 1024
    assert long != dedupe_key(None, "prod", "THROTTLED", api_name="n" * 2001)


def test_requests_without_timestamps_or_ids_still_alert():
    reqs = [
        failed(1, ErrorCategory.MALFORMED_RESPONSE, 502, timestamp=None, request_id=None),
        failed(2, ErrorCategory.MALFORMED_RESPONSE, 502, timestamp=None, request_id=None),
    ]
    alert = build_alerts(reqs, [], policy=POLICY, now_s=NOW)[0]
    assert alert.count == 2 and alert.first_seen is None
    assert "Malformed Lambda proxy response" in alert.insights_query


def test_timestamps_are_iso_utc():
    reqs = [
        failed(1, ErrorCategory.MALFORMED_RESPONSE, 502, timestamp=T0 + 61_000),
        failed(2, ErrorCategory.MALFORMED_RESPONSE, 502, timestamp=T0),
    ]
    alert = build_alerts(reqs, [], policy=POLICY, now_s=NOW)[0]
    assert (alert.first_seen, alert.last_seen) == ("2025-11-25T13:00:00Z", "2025-11-25T13:01:01Z")


@pytest.mark.parametrize(
    "value,as_str,as_int,as_float",
    [
        (None, None, None, None),
        ("12", "12", 12, 12.0),
        (7, "7", 7, 7.0),
        (2.5, "2.5", 2, 2.5),
        (True, "True", None, None),
        ("", "", None, None),
        ("abc", "abc", None, None),
        ([1], "[1]", None, None),
        (float("inf"), "inf", None, None),  # json.loads reads Infinity and NaN
        (float("nan"), "nan", None, None),
        ([[[[]]]], "[[[[]]]]", None, None),
    ],
)
def test_received_fields_are_read_leniently(value, as_str, as_int, as_float):
    # a field of the wrong type in a received message reads as absent, never as an exception
    assert (optional_str(value), optional_int(value), optional_float(value)) == (as_str, as_int, as_float)


def test_numbers_too_large_to_render_or_convert_read_as_absent():
    huge = 10**5000  # str() refuses more than 4,300 digits; float() overflows
    assert (optional_str(huge), optional_int(huge), optional_float(huge)) == (None, huge, None)


def test_a_nesting_too_deep_to_render_reads_as_absent():
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    assert optional_str(deep) is None


def test_int_bounds_make_out_of_range_values_absent():
    assert optional_int("60", low=1, high=86400) == 60
    assert optional_int(10**30, low=1, high=86400) is None and optional_int(0, low=1) is None

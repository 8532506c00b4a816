"""Silence is a signal: a stage that goes quiet writes no log line and so no metric — the silence
alarm (missing data = breaching) is the one that sees a total outage. From the spec, to the stack,
to the local demo that evaluates the same spec over its simulated hour."""

from __future__ import annotations

from collections import Counter

import pytest

from gatewatch.constants import DIM_API, DIM_STAGE, METRIC_REQUESTS
from gatewatch.naming import alarm_name
from gatewatch_demo import simulate as sim
from gatewatch_demo.alarms import AlarmEvaluator
from gatewatch_demo.metrics import MINUTE_MS, MetricStore
from gatewatch_demo.runner import DEMO_THRESHOLDS, DemoOptions, DemoPipeline
from stacks.config import parse_config
from stacks.monitoring.alarm_specs import Comparison, MissingData, Thresholds, api_alarm_specs
from tests.infra.conftest import example_config


def _silence(thresholds: Thresholds | None = None):
    found = [s for s in api_alarm_specs("orders", "prod", thresholds or Thresholds()) if s.key == "silence"]
    return found[0] if found else None


def test_the_silence_alarm_counts_missing_requests_as_breaching_for_ten_minutes_by_default():
    spec = _silence()
    assert spec is not None and spec.metric is not None
    assert (spec.metric.metric_name, spec.metric.statistic, spec.period_s) == (METRIC_REQUESTS, "Sum", 60)
    assert spec.metric.dimension_map == {DIM_API: "orders", DIM_STAGE: "prod"}
    assert spec.treat_missing_data is MissingData.BREACHING
    assert (spec.comparison, spec.threshold) == (Comparison.LESS_THAN, 1.0)
    assert (spec.evaluation_periods, spec.datapoints_to_alarm) == (10, 10)  # ten minutes in a row


def test_the_silence_thresholds_come_from_the_config_per_api_and_zero_turns_it_off():
    # GIVEN the example with a 15-minute silence for every API, and none at all for "users"
    raw = example_config()
    raw["thresholds"] = {"silenceMinutes": 15, "silenceRequestsPerMinute": 5}
    raw["apis"][1]["thresholds"] = {"silenceMinutes": 0}
    orders, users = parse_config(raw).apis
    # THEN orders alarms on fewer than 5 requests a minute for 15 minutes, users has no silence alarm
    spec = _silence(orders.thresholds)
    assert spec is not None and (spec.threshold, spec.evaluation_periods) == (5, 15)
    assert _silence(users.thresholds) is None


def test_silence_minutes_beyond_a_day_are_a_config_error():
    raw = example_config()
    raw["thresholds"] = {"silenceMinutes": 1441}
    with pytest.raises(ValueError, match=r"gatewatch.thresholds.silenceMinutes must be an integer >= 0 and <= 1440"):
        parse_config(raw)


def test_the_stack_deploys_the_silence_alarm_with_missing_data_breaching(subscription_template):
    (alarm,) = subscription_template.find_resources(
        "AWS::CloudWatch::Alarm", {"Properties": {"AlarmName": alarm_name("orders", "prod", "silence", "Gatewatch")}}
    ).values()
    props = alarm["Properties"]
    assert props["TreatMissingData"] == "breaching"
    assert (props["ComparisonOperator"], props["Threshold"]) == ("LessThanThreshold", 1)
    assert (props["EvaluationPeriods"], props["DatapointsToAlarm"], props["Period"]) == (10, 10, 60)
    assert (props["Namespace"], props["MetricName"], props["Statistic"]) == ("Gatewatch", "Requests", "Sum")
    assert props["Dimensions"] == [{"Name": "Api", "Value": "orders"}, {"Name": "Stage", "Value": "prod"}]
    assert props["AlarmActions"] == props["OKActions"]  # the recovery reaches Slack too


def test_the_demo_evaluator_fires_in_the_silent_stretch_of_the_simulated_hour_and_recovers():
    # GIVEN the demo hour's Requests per minute, as the analyzer would emit them (no line: no datapoint)
    (outage,) = sim.DEMO_OUTAGES
    per_minute = Counter(r.timestamp_ms // MINUTE_MS for r in sim.demo_hour(seed=7, rate_per_minute=20))
    store = MetricStore()
    for minute, count in per_minute.items():
        store.add_value("Gatewatch", METRIC_REQUESTS, {DIM_API: "shop", DIM_STAGE: "prod"}, minute * MINUTE_MS, count)
    start = sim.DEFAULT_START_MS // MINUTE_MS
    assert {m - start for m in range(start, start + 60) if m not in per_minute} == set(
        range(outage.start_minute, outage.end_minute)
    )
    # WHEN the demo's silence spec is evaluated minute by minute
    (spec,) = [s for s in api_alarm_specs("shop", "prod", DEMO_THRESHOLDS) if s.key == "silence"]
    evaluator = AlarmEvaluator([spec], store)
    for minute in range(start, start + 60):
        evaluator.evaluate((minute + 1) * MINUTE_MS)
    # THEN it fires once the stretch has lasted silenceMinutes, and recovers with the first request after it
    assert [(t.new_state, t.time_ms // MINUTE_MS - start) for t in evaluator.transitions] == [
        ("ALARM", outage.start_minute + DEMO_THRESHOLDS.silence_minutes),
        ("OK", outage.end_minute + 1),
    ]
    assert outage.minutes >= DEMO_THRESHOLDS.silence_minutes


@pytest.mark.slow
def test_the_demo_pipeline_shows_the_outage_alarm_in_slack_and_its_recovery(tmp_path):
    # GIVEN the demo, shortened to the first 40 minutes at a low rate (the silent stretch is at 34-36)
    options = DemoOptions(out_dir=tmp_path, rate_per_minute=10, minutes=40, slack_pace_s=0.01, write_files=False)
    # WHEN it runs: moto, the real handlers, the stack's alarm specs, the loopback Slack
    result = DemoPipeline(options).run()
    # THEN the silence alarm goes to ALARM and back to OK, and both reach Slack
    name = alarm_name(options.api_name, options.stage, "silence")
    assert [t.new_state for t in result.transitions if t.alarm_name == name] == ["ALARM", "OK"]
    posted = [str(p) for p in result.slack_messages if name in str(p)]
    assert len(posted) == 2 and "RESOLVED" in posted[1]

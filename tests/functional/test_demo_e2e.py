"""The demo pipeline end to end (shortened: a lower request rate): moto's server, the real handlers, Slack over HTTP."""

import json

import pytest

from gatewatch_demo.metrics import percentile_checks
from gatewatch_demo.runner import DemoOptions, DemoPipeline
from gatewatch_demo.show import write_outputs


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    pipeline = DemoPipeline(DemoOptions(out_dir=out, rate_per_minute=20, slack_pace_s=0.05))
    result = pipeline.run()
    result.files = write_outputs(pipeline, result, out)
    return pipeline, result


def _texts(payload) -> str:
    return json.dumps(payload, ensure_ascii=False)


def test_slack_receives_a_broken_deploy_a_throttling_burst_and_a_timeout_drift(demo):
    _, result = demo
    bodies = [_texts(p) for p in result.slack_messages]
    # a broken deploy: the analyzer's immediate alert, with the cause and the fix
    assert any("MALFORMED_RESPONSE" in b and "Malformed Lambda proxy response" in b for b in bodies)
    # a throttling burst: the THROTTLED alarm of the stack's alarm definitions
    assert any("gatewatch-shop-api-prod-THROTTLED" in b and "ALARM" in b for b in bodies)
    # a slow backend drifting to timeouts: the near-timeout alarm
    assert any("gatewatch-shop-api-prod-near-timeout" in b for b in bodies)
    # and recoveries are posted as such
    assert any("RESOLVED" in b for b in bodies)


def test_alarms_fire_and_recover_in_time_order(demo):
    _, result = demo
    states = {}
    for t in result.transitions:
        states.setdefault(t.alarm_name, []).append(t.new_state)
    assert any(seq[:2] == ["ALARM", "OK"] for seq in states.values())
    assert [t.time_ms for t in result.transitions] == sorted(t.time_ms for t in result.transitions)
    assert len(result.slack_messages) >= len(result.transitions)  # every transition reached Slack


def test_broken_deploy_alerts_once_per_category_and_cooldown(demo):
    _, result = demo
    keys = [(a["api_id"], a["stage"], a["category"]) for a in result.analyzer_alerts]
    assert ("k7x2m9qp4a", "prod", "MALFORMED_RESPONSE") in keys
    windows = [a["alert_id"] for a in result.analyzer_alerts]
    assert len(windows) == len(set(windows))


def test_metrics_in_moto_match_what_was_logged(demo):
    pipeline, result = demo
    access = [json.loads(m) for _, m in pipeline.access_events]
    assert result.moto_totals["Requests"] == len(access) == result.requests
    assert result.moto_totals["Errors5xx"] == sum(1 for a in access if int(a["status"]) >= 500)
    assert result.moto_totals["Errors4xx"] == sum(1 for a in access if 400 <= int(a["status"]) < 500)
    assert result.moto_totals["NearTimeout"] > 0


def test_the_published_latency_percentiles_are_the_simulators_truth(demo):
    pipeline, result = demo
    # GIVEN what the analyzer printed, minute by minute, and the latency of every simulated request
    checks = percentile_checks(
        result.store,
        result.true_latencies,
        "Gatewatch",
        {"Api": pipeline.options.api_name, "Stage": pipeline.options.stage},
        result.start_ms,
        result.end_ms,
    )
    # THEN p50/p90/p99 of the hour and of its busiest minute, as CloudWatch computes them, are within 2 %
    assert {c.window for c in checks} == {"hour", "busiest minute"} and len(checks) == 6
    assert all(c.error is not None and c.error <= 0.02 for c in checks), checks
    # AND every request's latency was published once (the sample count is the request count)
    published = result.store.values("Gatewatch", "Latency", {"Api": "shop-api", "Stage": "prod"}, 0, 2**62)
    assert len(published) == len(result.true_latencies) == result.requests


def test_the_demo_writes_its_files(demo):
    _, result = demo
    files = result.files
    assert files["dashboard"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = files["report"].read_text()
    assert "MALFORMED_RESPONSE" in html and "dashboard.png" in html
    assert len(list(files["slack payloads"].glob("*.json"))) == len(result.slack_messages)
    assert files["access log"].stat().st_size > 0 and files["execution log"].stat().st_size > 0
    assert result.report.total_requests == result.requests

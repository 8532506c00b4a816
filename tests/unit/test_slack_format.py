"""Block Kit formatting: snapshots per alarm kind and category family, escaping, limits, deep links.

Snapshots live in tests/snapshots/slack/*.json; a difference fails. After an intended change, rewrite
them with `UPDATE_SNAPSHOTS=1 pytest tests/unit/test_slack_format.py` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewatch.alerts.schema import AlertSample, AnalyzerAlert
from gatewatch.classify.taxonomy import CATEGORY_TABLE, ErrorCategory, Family
from gatewatch.notify.messages import GenericNotification, parse_notification
from gatewatch.notify.slack_blocks import (
    MAX_BLOCKS,
    MAX_HEADER,
    MAX_SECTION_TEXT,
    LinkContext,
    Severity,
    alarm_console_url,
    console_home,
    escape_slack,
    format_notification,
    logs_insights_url,
    mark_resolved,
    safe,
    truncate,
    valid_account,
)
from tests.slack_kit import assert_valid_block_kit, utf16_units

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOTS = ROOT / "snapshots" / "slack"
ALARMS = json.loads((ROOT / "events" / "sns_alarms.json").read_text())
CTX = LinkContext(
    region="eu-west-1",
    account="111122223333",
    log_groups={"orders": ("/aws/apigateway/orders-prod-access",)},
    api_ids={"orders": "a1b2c3d4e5"},
)

# One analyzer alert per category family, with what the analyzer really sends (gatewatch.alert/v1).
FAMILY_ALERTS = {
    "client": ("INVALID_API_KEY", 403, "GET /orders/{id}", "error.responseType=INVALID_API_KEY"),
    "capacity": (
        "BACKEND_THROTTLED",
        500,
        "POST /orders",
        "Lambda invocation failed with status: 429. Lambda request id: 0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
    ),
    "config": (
        "INTEGRATION_PERMISSION",
        500,
        "POST /orders",
        "Execution failed due to configuration error: Invalid permissions on Lambda function",
    ),
    "backend": (
        "MALFORMED_RESPONSE",
        502,
        "POST /orders",
        "Execution failed due to configuration error: Malformed Lambda proxy response",
    ),
}


def analyzer_alert(category: str, status: int, route: str, evidence: str, *, count: int = 7) -> AnalyzerAlert:
    samples = tuple(
        AlertSample(
            request_id=f"c9f8e7d6-5a4b-4c3d-8e2f-1a0b9c8d7e{i:02d}",
            route=route,
            status=status,
            timestamp=f"2026-11-25T14:00:0{i}Z",
            evidence=evidence,
        )
        for i in range(6)  # one more than Slack shows
    )
    info = CATEGORY_TABLE[ErrorCategory(category)]
    return AnalyzerAlert(
        alert_id=f"a1b2c3d4e5|prod|{category}|1795615200",
        api_id="a1b2c3d4e5",
        api_name="orders",
        stage="prod",
        category=category,
        title=info.title,
        retry=str(info.retry),
        blame=str(info.blame),
        count=count,
        first_seen="2026-11-25T14:00:00Z",
        last_seen="2026-11-25T14:00:05Z",
        routes=(route,),
        samples=samples,
        log_group="API-Gateway-Execution-Logs_a1b2c3d4e5/prod",
        insights_query=None,
        account="111122223333",
        region="eu-west-1",
    )


def cases() -> dict[str, Any]:
    out: dict[str, Any] = {f"alarm_{k}": parse_notification(json.dumps(v)) for k, v in ALARMS.items()}
    out.update({f"analyzer_{family}": analyzer_alert(*spec) for family, spec in FAMILY_ALERTS.items()})
    out["generic_text"] = parse_notification("The nightly export finished with 3 warnings.", subject="Export job")
    return out


CASES = cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_payload_matches_the_reviewed_snapshot(name):
    payload = format_notification(CASES[name], CTX).to_payload()
    path = SNAPSHOTS / f"{name}.json"
    rendered = json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered)
    assert path.exists(), f"no snapshot {path.name}: run with UPDATE_SNAPSHOTS=1 and review it"
    assert rendered == path.read_text(), f"{path.name} differs; if intended, UPDATE_SNAPSHOTS=1 and review"


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def body_text(payload: dict) -> str:
    return "\n".join(strings(payload))


@pytest.mark.parametrize("family", sorted(FAMILY_ALERTS))
def test_a_responder_gets_meaning_retry_advice_fix_samples_and_links(family):
    category, _status, route, _ = FAMILY_ALERTS[family]
    info = CATEGORY_TABLE[ErrorCategory(category)]
    payload = format_notification(analyzer_alert(*FAMILY_ALERTS[family]), CTX).to_payload()
    text = body_text(payload)
    assert info.meaning[:60] in text and info.fix[:60] in text  # from the taxonomy, not a copy
    assert "Does a retry help?" in text and category in text and route in text
    samples = next(
        b["text"]["text"]
        for b in payload["attachments"][0]["blocks"]
        if b["type"] == "section" and b.get("text", {}).get("text", "").startswith("*Sample requests*")
    )
    assert samples.count("c9f8e7d6-5a4b-4c3d-8e2f-1a0b9c8d7e") == 5  # five samples, not six
    buttons = {
        e["text"]["text"]: e["url"]
        for b in payload["attachments"][0]["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    }
    assert set(buttons) == {"Logs Insights", "Dashboard"}
    assert buttons["Dashboard"].endswith("#dashboards/dashboard/gatewatch-orders")
    assert "c9f8e7d6-5a4b-4c3d-8e2f-1a0b9c8d7e00" in decode_insights(buttons["Logs Insights"])["query"]


@pytest.mark.parametrize(
    "family, severity",
    [
        (Family.CONFIG, Severity.CRITICAL),
        (Family.BACKEND, Severity.CRITICAL),
        (Family.CAPACITY, Severity.WARNING),
        (Family.CLIENT, Severity.INFO),
    ],
)
def test_severity_follows_the_category_family(family, severity):
    spec = next(s for f, s in FAMILY_ALERTS.items() if f == family.value)
    message = format_notification(analyzer_alert(*spec), CTX)
    assert message.severity is severity
    assert message.to_payload()["attachments"][0]["color"] == severity.color


@pytest.mark.parametrize(
    "name, severity",
    [
        ("static_alarm", Severity.WARNING),  # THROTTLED: capacity
        ("ok_recovery", Severity.RESOLVED),
        ("insufficient_data", Severity.INFO),
        ("metric_math_error_rate", Severity.CRITICAL),  # a 5xx rate
        ("anomaly_detection", Severity.WARNING),
    ],
)
def test_alarm_severity_by_state_and_metric(name, severity):
    assert format_notification(parse_notification(json.dumps(ALARMS[name])), CTX).severity is severity


def test_enriched_alarm_carries_the_category_fix_and_recovery_does_not():
    alarm = body_text(format_notification(parse_notification(json.dumps(ALARMS["static_alarm"])), CTX).to_payload())
    ok = body_text(format_notification(parse_notification(json.dumps(ALARMS["ok_recovery"])), CTX).to_payload())
    fix = CATEGORY_TABLE[ErrorCategory.THROTTLED].fix[:50]
    assert fix in alarm and "212" in alarm and "≥ 50" in alarm
    assert fix not in ok and "Recovered" in ok


def test_escape_neutralises_slack_control_sequences():
    assert escape_slack("<!channel> & <http://evil|x>") == "&lt;!channel&gt; &amp; &lt;http://evil|x&gt;"


def test_safe_redacts_credentials_before_escaping():
    out = safe("Authorization: Bearer abcdefgh12345678 <!here>")
    assert "abcdefgh12345678" not in out and "[REDACTED]" in out and "&lt;!here&gt;" in out


@pytest.mark.parametrize(
    "text, limit, expected",
    [
        ("abcdef", 10, "abcdef"),
        ("abcdefghij", 5, "abcd…"),
        ("ab&amp;cdef", 5, "ab…"),  # never cut inside an entity
        ("a&lt;b", 4, "a…"),
    ],
)
def test_truncate_is_graceful(text, limit, expected):
    assert truncate(text, limit) == expected and len(truncate(text, limit)) <= limit


def test_huge_inputs_stay_within_slacks_limits():
    # GIVEN an alarm with a 20 KB description and an alert with 40 routes and 20 KB evidence
    a = parse_notification(
        json.dumps({**ALARMS["static_alarm"], "AlarmDescription": "<x> " * 5000, "AlarmName": "n" * 400})
    )
    alert = analyzer_alert("MALFORMED_RESPONSE", 502, "POST /o", "&" * 20000)
    alert = AnalyzerAlert(**{**alert.__dict__, "routes": tuple(f"GET /r{i}/" + "x" * 300 for i in range(40))})
    generic = GenericNotification(subject="s" * 500, fields=tuple((f"k{i}", "v" * 300) for i in range(400)))
    for n in (a, alert, generic):
        payload = format_notification(n, CTX).to_payload()
        assert_within_limits(payload)


def assert_within_limits(payload: dict) -> None:
    assert_valid_block_kit(payload)  # slack_sdk's block models, and every limit in UTF-16 units
    blocks = payload["blocks"] + payload["attachments"][0]["blocks"]
    assert len(blocks) <= MAX_BLOCKS
    assert payload["text"] and len(payload["blocks"][0]["text"]["text"]) <= MAX_HEADER
    for block in blocks:
        if block["type"] == "section":
            if "text" in block:
                assert len(block["text"]["text"]) <= MAX_SECTION_TEXT
            assert len(block.get("fields", [])) <= 10
            assert all(len(f["text"]) <= 2000 for f in block.get("fields", []))
        if block["type"] == "actions":
            assert all(len(e["url"]) <= 3000 for e in block["elements"])


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400), st.text(max_size=200))
def test_no_untrusted_text_can_open_a_slack_control_sequence(description, dimension):
    raw = {
        **ALARMS["static_alarm"],
        "AlarmDescription": description,
        "NewStateReason": description,
        "AlarmName": dimension or "a",
        "Trigger": {
            **ALARMS["static_alarm"]["Trigger"],
            "Dimensions": [{"name": "Api", "value": dimension}, {"name": dimension, "value": description}],
        },
    }
    payload = format_notification(parse_notification(json.dumps(raw)), CTX).to_payload()
    assert not [s for s in strings(payload) if "<" in s or ">" in s]
    assert_within_limits(payload)


def decode_insights(url: str) -> dict[str, Any]:
    """Invert the console encoding: $ -> %, two percent-decodings, then the JSURL fields we use."""
    fragment = url.split("#logsV2:logs-insights", 1)[1]
    detail = unquote(unquote(fragment.replace("$", "%")))
    assert detail.startswith("?queryDetail=~(") and detail.endswith("))")

    def field(name):
        return unquote(re.search(rf"{name}~'([^~]*)", detail).group(1).replace("*", "%"))

    sources = re.search(r"source~\((.*)\)\)$", detail).group(1)
    return {
        "query": field("editorString"),
        "start": field("start"),
        "end": field("end"),
        "tz": field("tz"),
        "source": [unquote(s.replace("*", "%")) for s in sources.split("~'")[1:]],
    }


def test_logs_insights_link_round_trips_groups_query_and_window():
    query = 'fields @timestamp | filter @message like /a~b (c)/ and x = "é" | limit 5'
    url = logs_insights_url(
        "eu-west-1",
        ["/aws/apigateway/x_y", "API-Gateway-Execution-Logs_abc/prod"],
        query,
        datetime(2026, 11, 25, 14, 0, tzinfo=UTC),
        datetime(2026, 11, 25, 14, 10, tzinfo=UTC),
    )
    assert url.startswith(
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1"
        "#logsV2:logs-insights$3FqueryDetail$3D$257E$2528end$257E$2527"
    )
    assert not re.search(r"[~'()<>| \"]", url.split("#", 1)[1])  # nothing that breaks the fragment or a link
    decoded = decode_insights(url)
    assert decoded == {
        "query": query,
        "start": "2026-11-25T14:00:00.000Z",
        "end": "2026-11-25T14:10:00.000Z",
        "tz": "UTC",
        "source": ["/aws/apigateway/x_y", "API-Gateway-Execution-Logs_abc/prod"],
    }


def test_alarm_links_point_at_the_alarm_and_a_window_before_the_state_change():
    payload = format_notification(parse_notification(json.dumps(ALARMS["metric_math_error_rate"])), CTX).to_payload()
    buttons = {
        e["text"]["text"]: e["url"]
        for b in payload["attachments"][0]["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    }
    assert buttons["Open alarm"].endswith("#alarmsV2:alarm/gatewatch-orders-prod-5xx-rate")
    insights = decode_insights(buttons["Logs Insights"])
    assert insights["source"] == ["/aws/apigateway/orders-prod-access", "API-Gateway-Execution-Logs_a1b2c3d4e5/prod"]
    assert insights["start"] < "2026-11-25T14:03:12" < insights["end"]
    assert "5\\d\\d" in insights["query"]


def test_dashboard_url_from_the_environment_wins(monkeypatch):
    ctx = LinkContext.from_environ(
        {
            "GATEWATCH_DASHBOARD_URL": "https://example.com/board",
            "AWS_REGION": "eu-west-1",
            "GATEWATCH_APIS": json.dumps({"a1b2c3d4e5": {"name": "orders", "accessLogGroup": "/x"}}),
        }
    )
    assert ctx.groups_for("orders", "prod") == ("/x", "API-Gateway-Execution-Logs_a1b2c3d4e5/prod")
    payload = format_notification(parse_notification(json.dumps(ALARMS["static_alarm"])), ctx).to_payload()
    assert "https://example.com/board" in body_text(payload)
    # the stack sets a prefix ending in '/': the per-API dashboard name is appended
    prefixed = LinkContext(
        region="eu-west-1",
        dashboard_url="https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/",
    )
    payload = format_notification(parse_notification(json.dumps(ALARMS["static_alarm"])), prefixed).to_payload()
    assert "#dashboards/dashboard/gatewatch-orders" in body_text(payload)


def test_mark_resolved_recolours_and_retitles_the_original():
    original = format_notification(parse_notification(json.dumps(ALARMS["static_alarm"])), CTX).to_payload()
    resolved = mark_resolved(original, "2026-11-25 14:21:05 UTC")
    assert resolved["blocks"][0]["text"]["text"].startswith("✅ RESOLVED · 🟠 WARNING")
    assert resolved["attachments"][0]["color"] == Severity.RESOLVED.color
    assert "Resolved at 2026-11-25 14:21:05 UTC" in body_text(resolved)
    assert original["attachments"][0]["color"] == Severity.WARNING.color  # the input is untouched


@pytest.mark.parametrize(
    "region, home",
    [
        ("eu-west-1", "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1"),
        ("ap-southeast-2", "https://ap-southeast-2.console.aws.amazon.com/cloudwatch/home?region=ap-southeast-2"),
        ("us-gov-west-1", "https://console.amazonaws-us-gov.com/cloudwatch/home?region=us-gov-west-1"),
        ("cn-north-1", "https://console.amazonaws.cn/cloudwatch/home?region=cn-north-1"),
        ("us-iso-east-1", None),  # isolated partitions have no public console
        ("evil.example/x?", None),
        ("eu-west-1.evil.example", None),
        ("eu-west-1\n", None),
        ("eu-west-\u0661", None),  # not an ASCII digit
        ("EU-WEST-1", None),
        ("", None),
        (None, None),
    ],
)
def test_console_links_start_from_a_valid_region_code_only(region, home):
    assert console_home(region) == home


def test_account_ids_are_twelve_ascii_digits():
    assert valid_account("111122223333") == "111122223333"
    assert [valid_account(a) for a in ("11112222333", "1111222233334", "11112222333x", "١١١١٢٢٢٢٣٣٣٣", None)] == [
        None
    ] * 5


def test_names_are_encoded_into_links_and_an_unencodable_name_gets_none():
    assert alarm_console_url("eu-west-1", "a/b?c#d e").endswith("#alarmsV2:alarm/a%2Fb%3Fc%23d%20e")
    assert alarm_console_url("eu-west-1", "x\ud800") is None
    assert alarm_console_url("evil.example/x?", "a") is None


def test_log_groups_outside_cloudwatchs_alphabet_are_left_out_of_insights_links():
    moment = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    url = logs_insights_url("eu-west-1", ["/ok/group", "x?#@evil.example"], "fields @message", moment, moment)
    assert decode_insights(url)["source"] == ["/ok/group"]
    assert logs_insights_url("eu-west-1", ["x?#@evil.example"], "q", moment, moment) is None


def every_payload() -> Iterator[tuple[str, dict]]:
    """Every kind of payload the notifier sends: each case as posted, as chat.update marks it resolved, and
    as its text line alone; generic notifications of every shape; and the huge inputs."""
    generic = {
        "generic mapping": parse_notification(json.dumps({f"key{i}": {"nested": [i, "x" * 400]} for i in range(30)})),
        "generic list": parse_notification(json.dumps([[1, 2], {"a": None}, "x" * 5000])),
        "generic empty": parse_notification(""),
        "generic whitespace": parse_notification("   ", subject="   "),
        "generic astral": parse_notification("𝕏" * 4000, subject="🔥" * 200),
    }
    for name, notification in {**CASES, **generic}.items():
        message = format_notification(notification, CTX)
        yield name, message.to_payload()
        yield f"{name} resolved", mark_resolved(message.to_payload(), "2026-11-25 14:21:05 UTC")
        yield f"{name} as text", message.plain_text().to_payload()


@pytest.mark.parametrize("name, payload", list(every_payload()), ids=[n for n, _ in every_payload()])
def test_every_payload_the_notifier_builds_is_valid_block_kit(name, payload):
    assert_valid_block_kit(payload)


def test_headers_are_cut_in_utf16_units_so_emoji_cannot_push_them_past_150():
    # GIVEN an alarm named with 120 emoji (120 characters for Python and slack_sdk, 240 UTF-16 units)
    name = "🔥" * 120
    raw = {
        **ALARMS["static_alarm"],
        "AlarmName": name,
        "Trigger": {**ALARMS["static_alarm"]["Trigger"], "Dimensions": [{"name": "Api", "value": name}]},
    }
    # WHEN it is formatted
    header = format_notification(parse_notification(json.dumps(raw)), CTX).to_payload()["blocks"][0]["text"]["text"]
    # THEN the header is cut to at most 150 UTF-16 units, ending on a whole emoji and the ellipsis
    assert utf16_units(header) <= MAX_HEADER and header.endswith("🔥…")
    assert len(header) < 100  # a cut at 150 Python characters would have sent ~280 units


@pytest.mark.parametrize(
    "text, limit, expected",
    [
        ("ab😀cd", 4, "ab…"),  # the emoji (2 units) would straddle the limit: dropped whole
        ("ab😀cd", 5, "ab😀…"),
        ("👍🏽👍🏽👍🏽", 5, "👍🏽…"),  # never a thumb without its skin tone
        ("a\u200db\u200dc\u200dd", 4, "a…"),  # never a trailing zero-width joiner
    ],
)
def test_truncate_counts_utf16_units_and_keeps_emoji_whole(text, limit, expected):
    out = truncate(text, limit)
    assert out == expected and utf16_units(out) <= limit


@settings(max_examples=100, deadline=None)
@given(
    st.text(max_size=300),
    st.text(alphabet=st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF), min_size=1, max_size=200),
    st.integers(min_value=-10, max_value=10**12),
)
def test_analyzer_alerts_with_any_text_are_valid_block_kit(text, emoji, count):
    alert = analyzer_alert("MALFORMED_RESPONSE", 502, text + emoji, emoji + text, count=count)
    alert = AnalyzerAlert(**{**alert.__dict__, "api_name": emoji * 3, "stage": text, "routes": (text, emoji)})
    assert_valid_block_kit(format_notification(alert, CTX).to_payload())

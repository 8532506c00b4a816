"""Lines read distrustfully are never silent: the suspicious-lines health alarm tells the operator.

API Gateway pastes caller values into access lines unescaped, so a line whose layout is a known clean
layout plus keys right after a caller-controlled field (`userAgent`) is read as forged: it names no
Api, Stage or Route and raises no alert. A team that appends a field after `userAgent` produces
exactly that shape with every line — and would lose its routes and alerts without a word. Minute by
minute through the real handler, its EMF into the demo's metric store, evaluated with the very spec
the stack deploys.
"""

from __future__ import annotations

from gatewatch.constants import DEFAULT_NAMESPACE, METRIC_LINES_SUSPICIOUS
from gatewatch.parse.layouts import forget_layouts
from gatewatch_demo.alarms import AlarmEvaluator
from gatewatch_demo.metrics import MINUTE_MS, MetricStore
from stacks.monitoring.alarm_specs import AlarmSpec, health_alarm_specs
from tests.functional.test_hostile_input import configured, run_handler  # noqa: F401  (fixture)

GROUP = "/aws/apigateway/orders-prod-access"
START_MS = 1764075600000  # 2025-11-25 13:00:00 UTC: a whole minute, and a whole five minutes
MINUTES = 40
CHANGE_AT = 10  # the minute the team appends a field after userAgent
LINES_PER_MINUTE = 60


def _line(i: int, *, appended: bool) -> str:
    """The team's format: no resourcePath, the caller's user agent last; after the change the new field
    (resourcePath) follows the user agent."""
    line = (
        f'{{"requestId":"r{i:07d}","apiId":"a1b2c3d4e5","stage":"prod","httpMethod":"GET","status":"200",'
        f'"responseLatency":"41","userAgent":"curl/8.4.0"'
    )
    return line + (',"resourcePath":"/orders/{id}"}' if appended else "}")


def _suspicious_rate_alarm() -> AlarmSpec:
    specs = health_alarm_specs("Gatewatch", analyzer_function="a", notifier_function="n", dead_letter_queue="q")
    (spec,) = [s for s in specs if s.key == "access-suspicious-rate"]
    return spec


def _minutes_of_deliveries(capsys, *, change_at: int | None) -> tuple[MetricStore, list[tuple[str, int]]]:
    """One delivery per minute through the handler, the alarm evaluated after each; returns the metrics
    and each alarm transition as (new state, minute since the start)."""
    forget_layouts()  # a fresh environment: it learns the group's format from its first lines
    store = MetricStore()
    evaluator = AlarmEvaluator([_suspicious_rate_alarm()], store)
    for minute in range(MINUTES):
        minute_ms = START_MS + minute * MINUTE_MS
        appended = change_at is not None and minute >= change_at
        lines = [_line(minute * LINES_PER_MINUTE + s, appended=appended) for s in range(LINES_PER_MINUTE)]
        docs, _ = run_handler(
            lines, capsys, group=GROUP, timestamps=[minute_ms + s * 1000 for s in range(LINES_PER_MINUTE)]
        )
        for doc in docs:
            store.add_emf(doc)
        evaluator.evaluate(minute_ms + MINUTE_MS)
    return store, [(t.new_state, (t.time_ms - START_MS) // MINUTE_MS) for t in evaluator.transitions]


def _suspicious_lines(store: MetricStore) -> float:
    end_ms = START_MS + (MINUTES + 1) * MINUTE_MS  # line counts carry the analysis time: a minute after the logs
    return sum(store.values(DEFAULT_NAMESPACE, METRIC_LINES_SUSPICIOUS, {"Source": "access"}, START_MS, end_ms))


def test_a_format_change_that_looks_forged_fires_the_suspicious_lines_alarm_within_twenty_minutes(
    configured,  # noqa: F811
    capsys,
):
    # GIVEN a stage whose format gains a field right after the user agent at minute 10
    # WHEN every minute's delivery is analysed and the health alarm evaluated as CloudWatch would
    store, transitions = _minutes_of_deliveries(capsys, change_at=CHANGE_AT)
    # THEN every line after the change was read distrustfully ...
    assert _suspicious_lines(store) == (MINUTES - CHANGE_AT) * LINES_PER_MINUTE
    # ... and the alarm fires once three five-minute periods in a row were mostly suspicious
    assert [state for state, _ in transitions] == ["ALARM"]
    fired_at = transitions[0][1]
    assert CHANGE_AT + 15 <= fired_at <= CHANGE_AT + 20


def test_a_stage_whose_format_stays_the_same_never_fires_it(configured, capsys):  # noqa: F811
    # GIVEN the same traffic without a format change
    store, transitions = _minutes_of_deliveries(capsys, change_at=None)
    # THEN no line is suspicious and the alarm stays OK
    assert _suspicious_lines(store) == 0
    assert transitions == []

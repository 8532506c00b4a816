"""Random mixes of real lines and garbage through the whole engine: nothing escapes, everything is counted."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatewatch.models import LogBatch, LogEvent, LogKind
from gatewatch.pipeline import LogAnalyzer
from tests.helpers import access_corpus_lines, corpus_execution

REAL_LINES = access_corpus_lines() + [e["message"] for e in corpus_execution()]
GARBAGE = st.one_of(
    st.text(min_size=1, max_size=300),
    st.binary(min_size=1, max_size=200).map(lambda b: b.decode("latin-1")),
    st.sampled_from(["{", "{{}}", "<request", '{"status":', "(abc) ", "- - - -", "null", "[]", "\x00" * 10]),
)
LINES = st.lists(st.one_of(st.sampled_from(REAL_LINES), GARBAGE), min_size=1, max_size=60)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=LINES,
    kind=st.sampled_from(list(LogKind)),
    group=st.sampled_from([None, "/aws/apigateway/orders", "API-Gateway-Execution-Logs_a1b2c3/prod", "/team/app"]),
    keep_successes=st.booleans(),
)
def test_every_line_is_parsed_or_counted_with_a_reason(lines, kind, group, keep_successes):
    # GIVEN any mix of real lines and garbage, in any kind of batch, in the CLI's mode or the Lambda's
    analyzer = LogAnalyzer(keep_successes=keep_successes)
    events = tuple(LogEvent(m, 1764075600000 + i, str(i)) for i, m in enumerate(lines))
    # WHEN it goes through the engine
    analyzer.add_batch(LogBatch(events, log_group=group, kind=kind))
    analysis = analyzer.finish(drain_incomplete=True)
    # THEN no exception escaped, each non-blank line is either parsed or counted as unparsed with a reason
    non_blank = sum(1 for m in lines if m.strip())
    counted = sum(analysis.lines_parsed.values()) + sum(analysis.lines_unparsed.values())
    assert non_blank <= counted <= len(lines)
    assert all(r.reason and r.source in ("access", "execution", "input") for r in analysis.rejections)
    # (a group that shows no API Gateway line is set aside whole: counted by group, not line by line)
    set_aside = analysis.lines_unparsed["other"]
    assert set_aside == sum(analysis.other_log_groups.values())
    assert sum(analysis.lines_unparsed.values()) - set_aside == len(analysis.rejections)
    for req in analysis.joined():
        assert req.category is not None and req.route

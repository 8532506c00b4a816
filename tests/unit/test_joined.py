"""`gatewatch classify` joins access and execution logs while it streams (gatewatch_cli.joined)."""

from __future__ import annotations

from gatewatch.models import LogBatch, LogEvent, LogKind
from gatewatch.pipeline import LogAnalyzer
from gatewatch_cli.joined import JoinWindow
from tests.helpers import access_corpus_lines, corpus_execution

EXEC_GROUP = "API-Gateway-Execution-Logs_uwe3g5jm54/Prod"


def _batches() -> list[LogBatch]:
    """The real corpus, execution lines first (ids repeat: the console's `test-request`), then access lines."""
    execution = tuple(LogEvent(e["message"], 1_764_075_600_000 + i) for i, e in enumerate(corpus_execution()))
    access = tuple(LogEvent(line, 1_764_075_700_000 + i) for i, line in enumerate(access_corpus_lines()))
    return [
        LogBatch(execution[:200], log_group=EXEC_GROUP, kind=LogKind.EXECUTION),
        LogBatch(access, kind=LogKind.ACCESS),
        LogBatch(execution[200:], origin="text"),
    ]


def _streamed(window: int) -> list:
    out: list = []
    joiner = JoinWindow(out.append, window=window)
    analyzer = LogAnalyzer()
    for batch in _batches():
        analyzer.add_batch(batch)
        joiner.add(*analyzer.take_requests())
    analysis = analyzer.finish(drain_incomplete=True)
    joiner.add(analysis.access, analysis.execution)
    joiner.flush()
    return out


def test_streaming_gives_exactly_the_joined_answer_when_the_input_fits_the_window():
    # GIVEN the whole corpus analysed at once
    analyzer = LogAnalyzer()
    for batch in _batches():
        analyzer.add_batch(batch)
    expected = analyzer.finish(drain_incomplete=True).joined()
    # WHEN the same input is streamed through the join window  THEN every request comes out once, the same
    streamed = _streamed(window=10_000)
    key = lambda r: (r.request_id or "", r.source, r.category.value, r.status or 0)  # noqa: E731
    assert sorted(map(key, streamed)) == sorted(map(key, expected))
    assert len(streamed) == len(expected) > 30


def test_a_tiny_window_loses_no_request_and_holds_no_more_than_it_may():
    # GIVEN a window of 2 requests  WHEN the corpus streams through  THEN every request is still printed
    assert len(_streamed(window=2)) == len(_streamed(window=10_000))

"""Property tests for the execution-log parser: never raises, groups any interleaving, linear time."""

from __future__ import annotations

import itertools
import timeit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatewatch.models import ExecutionRequest, LogEvent
from gatewatch.parse.execution import (
    MAX_LINE_CHARS,
    ExecutionAssembler,
    ExecutionLine,
    looks_like_execution_line,
    parse_execution_line,
)
from tests.helpers import corpus_execution, s01_payloads

TRAILERS = ("AWS Integration Endpoint RequestId", "X-ray Tracing ID")

# Fragments that exercise every prefix and extraction branch when glued together at random.
FRAGMENTS = [
    "(",
    ")",
    ") ",
    " ",
    "\n",
    "\r\n",
    "\t",
    ".",
    ":",
    "/",
    "*",
    "=",
    "(286364ab-3a83-11e9-8dc8-db3cf4c83204) ",
    "(PDS1PEC4oAMFpyA=) ",
    "Thu Aug 31 01:07:25 UTC 2017 : ",
    "2016-10-01T10:55:45.611Z ",
    "2020-07-02T11:34:31.881-04:00 ",
    "[2b4492] [2016-10-11 15:26:57] ",
    "17:04:28 ",
    "2024-06-04 18:49:51.785\t",
    "Method completed with status: ",
    "HTTP Method: ",
    ", Resource Path: ",
    "Received response. ",
    "Status: ",
    "Integration latency: ",
    " ms",
    "Verifying Usage Plan for request: ",
    "API Key: ",
    " API Stage: ",
    "Usage Plan check succeeded for API Key ",
    "and API Stage ",
    "Starting execution for request: ",
    "Starting authorizer: ",
    " for request: ",
    "Unauthorized request: ",
    "Execution log for request ",
    "Gateway response type: ",
    "with status code: ",
    "Extended Request Id: ",
    "X-ray Tracing ID : ",
    " [TRUNCATED]",
    "502",
    "200",
    "4294967296",
    "GET",
    "/echo",
    "uwe3g5jm54/Prod",
    "test-request",
]
line_strategy = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join),
)


def s01_requests() -> list[list[LogEvent]]:
    """The real S01 requests, each as its own list of events in log order."""
    by_id: dict[str, list[LogEvent]] = {}
    for payload in s01_payloads():
        for e in payload["logEvents"]:
            by_id.setdefault(e["message"][1:37], []).append(LogEvent(e["message"], e["timestamp"], e["id"]))
    return list(by_id.values())


REQUESTS = s01_requests()


@settings(max_examples=200, deadline=None)
@given(line_strategy)
def test_any_text_parses_without_exception_and_text_is_part_of_the_message(message):
    line = parse_execution_line(message)
    assert isinstance(line, ExecutionLine)
    assert line.text in message
    if line.request_id is not None:
        assert line.request_id and " " not in line.request_id
        assert f"({line.request_id}) " in message
    assert isinstance(looks_like_execution_line(message), bool)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(line_strategy, max_size=40), st.integers(min_value=1, max_value=5), st.integers(min_value=1, max_value=6)
)
def test_any_sequence_of_lines_is_assembled_without_exception_and_within_bounds(messages, max_pending, max_lines):
    assembler = ExecutionAssembler(max_pending=max_pending, max_lines_per_request=max_lines)
    out: list[ExecutionRequest] = []
    for i, m in enumerate(messages):
        out.extend(assembler.add(LogEvent(m, timestamp=i)))
        assert assembler.pending <= max_pending
    out.extend(assembler.drain())
    assert assembler.pending == 0
    for r in out:
        assert isinstance(r, ExecutionRequest)
        assert len(r.lines) <= 2 * max_lines
        assert all(len(line) <= MAX_LINE_CHARS for line in r.lines)
        if r.complete:
            assert r.status is not None


@settings(max_examples=150, deadline=None)
@given(st.permutations([i for i, req in enumerate(REQUESTS) for _ in req]), st.lists(st.integers(0, 200), max_size=6))
def test_any_interleaving_of_real_requests_across_batches_groups_each_request(order, cuts):
    # GIVEN the six real S01 requests interleaved at random (each keeps its own order) and cut into batches
    queues = [list(req) for req in REQUESTS]
    stream = [queues[i].pop(0) for i in order]
    bounds = sorted({0, len(stream), *[c % (len(stream) + 1) for c in cuts]})
    assembler = ExecutionAssembler()
    done: list[ExecutionRequest] = []
    for start, end in itertools.pairwise(bounds):
        for event in stream[start:end]:
            done.extend(assembler.add(event, log_group="API-Gateway-Execution-Logs_uwe3g5jm54/Prod"))
    # THEN each request completes once, with its own status and exactly its own lines in order
    assert assembler.pending == 0
    assert len(done) == len(REQUESTS)
    by_id = {r.request_id: r for r in done}
    for req in REQUESTS:
        texts = [parse_execution_line(e.message).text for e in req]
        got = by_id[req[0].message[1:37]]
        assert list(got.lines) == [t for t in texts if not t.startswith(TRAILERS)]
        assert got.status == int(next(t for t in texts if t.startswith("Method completed"))[-3:])


@settings(max_examples=100, deadline=None)
@given(st.permutations([i for i, req in enumerate(REQUESTS) for _ in req]), st.integers(min_value=1, max_value=4))
def test_eviction_under_any_interleaving_loses_no_line(order, max_pending):
    # GIVEN a tiny max_pending, so requests get evicted mid-flight
    queues = [list(req) for req in REQUESTS]
    stream = [queues[i].pop(0) for i in order]
    assembler = ExecutionAssembler(max_pending=max_pending)
    out = [r for e in stream for r in assembler.add(e)] + assembler.drain()
    # THEN every non-trailer line comes out in some request (complete or not) exactly once
    emitted = sorted(line for r in out for line in r.lines)
    fed = sorted(t for t in (parse_execution_line(e.message).text for e in stream) if not t.startswith(TRAILERS))
    assert emitted == fed
    # AND every completion line still yields a complete request
    assert sum(r.complete for r in out) == len(REQUESTS)


@settings(max_examples=20, deadline=None)
@given(st.sampled_from([m["message"] for m in corpus_execution()]), st.sampled_from(["x", "(", " ", "\n", "é"]))
def test_one_megabyte_lines_never_raise_and_are_stored_bounded(real, filler):
    message = real + filler * 1_000_000
    assert isinstance(parse_execution_line(message), ExecutionLine)
    assembler = ExecutionAssembler()
    out = assembler.add(LogEvent(message)) + assembler.drain()
    assert all(len(line) <= MAX_LINE_CHARS for r in out for line in r.lines)


ADVERSARIAL = {
    "open-parens": lambda n: "(" * n,
    "unclosed-id": lambda n: "(" + "a" * n,
    "close-parens": lambda n: "(" + ") " * (n // 2),
    "console-prefixes": lambda n: "Thu Aug 31 01:07:25 UTC 2017 : " * (n // 31),
    "iso-prefixes": lambda n: "2016-10-01T10:55:45.611Z " * (n // 25),
    "zappa-prefixes": lambda n: "[2b4492] [2016-10-11 15:26:57] " * (n // 31),
    "digits": lambda n: "1" * n,
    "latency": lambda n: "Received response. Integration latency: " + "9" * n,
    "usage-plan": lambda n: "Verifying Usage Plan for request: " + "API Stage: a" * (n // 12),
    "http-method": lambda n: "HTTP Method: " + "GET, Resource Path: " * (n // 20),
    "authorizer": lambda n: "Starting authorizer: " + " for request: " * (n // 14),
    "header": lambda n: "Execution log for request " + " " * n,
    "gateway": lambda n: "Gateway response type: " + "with status code: " * (n // 18),
    "completed": lambda n: "Method completed with status: " + " " * n,
    "truncated": lambda n: " [TRUNCATED]" * (n // 12),
    "newlines": lambda n: "\n" * n,
}


def _cost(message: str) -> float:
    def run() -> None:
        parse_execution_line(message)
        looks_like_execution_line(message)
        assembler = ExecutionAssembler()
        assembler.add(LogEvent(message))
        assembler.add(LogEvent(message))
        assembler.drain()

    return min(timeit.repeat(run, number=5, repeat=5)) / 5


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_adversarial_100kb_line_costs_linear_time(name):
    # GIVEN the same pathological pattern at 10 KB and at 100 KB
    make = ADVERSARIAL[name]
    small, big = _cost(make(10_000)), _cost(make(100_000))
    # THEN ten times the input costs far less than a hundred times the time (quadratic would), and stays fast
    assert big <= 30 * small + 0.002, (name, small, big)
    assert big < 0.05, (name, big)

"""Execution-log parsing and request grouping, on the real lines of tests/events/corpus.

Corpus line numbers (n) are those of corpus_execution.txt; the messages come from the lossless .jsonl.
"""

from __future__ import annotations

import pytest

from gatewatch.models import ExecutionRequest, LogEvent
from gatewatch.parse.execution import (
    MAX_LINE_CHARS,
    ExecutionAssembler,
    ExecutionLine,
    looks_like_execution_line,
    parse_execution_line,
)
from tests.helpers import access_corpus_lines, corpus_access, corpus_execution, s01_payloads

COMPLETED = "Method completed with status: "
TRAILERS = ("AWS Integration Endpoint RequestId", "X-ray Tracing ID")


def msg(n: int) -> str:
    """The exact message of corpus line n."""
    entry = corpus_execution()[n - 1]
    assert entry["n"] == n
    return entry["message"]


def msgs(first: int, last: int) -> list[str]:
    return [msg(n) for n in range(first, last + 1)]


def feed(assembler: ExecutionAssembler, messages: list[str], **kw) -> list[ExecutionRequest]:
    out: list[ExecutionRequest] = []
    for i, m in enumerate(messages):
        out.extend(assembler.add(LogEvent(m, timestamp=1_000 + i), **kw))
    return out


def payload_events(payload: dict) -> list[LogEvent]:
    return [LogEvent(e["message"], e["timestamp"], e["id"]) for e in payload["logEvents"]]


def statuses_in(messages: list[str]) -> list[int]:
    """The oracle: the N of every 'Method completed with status: N' text, in order."""
    found = []
    for m in messages:
        i = m.find(COMPLETED)
        if i >= 0:
            found.append(int(m[i + len(COMPLETED) :].strip()))
    return found


def request_id_of(message: str) -> str:
    return message[1 : message.index(") ")]


# ---------------------------------------------------------------------------------------------------
# parse_execution_line
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "request_id", "text_start"),
    [
        (19, "286364ab-3a83-11e9-8dc8-db3cf4c83204", "Method completed with status: 502"),  # CloudWatch message
        (219, "PDS1PEC4oAMFpyA=", "Execution failed due to configuration error: Invalid"),  # ISO-offset + WebSocket id
        (193, None, "Method completed with status: 200"),  # console Test output
        (139, None, "Verifying Usage Plan for request: 9ac0eacd"),  # 2016 export, ISO Z
        (243, None, "Verifying Usage Plan for request: 25bdd356"),  # zappa tail
        (291, "c33ca9d6-f3cc-11e7-a02a-99f47037d008", "HTTP Method: GET"),  # CloudWatch console hh:mm:ss
        (175, None, "Execution log for request test-request"),  # console header
        (305, "XXX", "Extended Request Id: Dt6vFHHzNjMFahw="),  # id masked by the author
        (246, None, "Extended Request Id: d4qiDGxbBcwFXJw="),  # bare
    ],
)
def test_given_real_line_when_parsed_then_prefixes_are_stripped_and_id_kept(n, request_id, text_start):
    # GIVEN a real line with its era's prefix  WHEN parsed
    line = parse_execution_line(msg(n))
    # THEN the request id comes from "(id) " only and the text starts with the API Gateway message
    assert isinstance(line, ExecutionLine)
    assert line.request_id == request_id
    assert line.text.startswith(text_start)
    assert not line.truncated


def test_given_logs_insights_export_when_parsed_then_tab_timestamp_and_id_are_stripped():
    # GIVEN a real CloudWatch message as a Logs Insights export prints it ("<time>\t<message>")
    exported = "2024-06-04 18:49:51.785\t" + msg(19)
    # WHEN parsed
    line = parse_execution_line(exported)
    # THEN it reads exactly like the original message
    assert line == parse_execution_line(msg(19))


def test_given_truncated_line_when_parsed_then_marker_removed_and_flagged():
    # GIVEN corpus line 12, which API Gateway cut at 1 KB and marked " [TRUNCATED]"
    raw = msg(12)
    assert raw.endswith(" [TRUNCATED]")
    # WHEN parsed
    line = parse_execution_line(raw)
    # THEN the flag is set and the text is the message without prefix and marker
    assert line.truncated
    assert line.text == raw[len("(286364ab-3a83-11e9-8dc8-db3cf4c83204) ") : -len(" [TRUNCATED]")]


def test_given_multiline_message_when_parsed_then_it_stays_one_text_with_newlines():
    # GIVEN line 211: a pretty-printed Lambda 429 body inside one CloudWatch event
    line = parse_execution_line(msg(211))
    # THEN its newlines are kept in one text
    assert line.text.startswith("Endpoint response body before transformations:\n{\n")
    assert line.text.count("\n") == msg(211).count("\n")


def test_given_plain_text_file_line_when_parsed_then_line_ending_is_dropped():
    line = parse_execution_line(msg(25) + "\r\n")
    assert line.text == "Method completed with status: 429"


@pytest.mark.parametrize(
    ("bad", "text", "truncated"),
    [
        ("", "", False),
        ("(", "(", False),
        ("()", "()", False),
        ("() x", "() x", False),
        ("(a b) Method completed with status: 200", "(a b) Method completed with status: 200", False),
        (" [TRUNCATED]", "", True),
        ("Thu Aug 31 01:07:25 UTC 2017 : ", "", False),
        ("(" * 300 + ") x", "(" * 300 + ") x", False),
    ],
)
def test_given_odd_input_when_parsed_then_no_bogus_id_and_the_text_is_kept(bad, text, truncated):
    # GIVEN a line with no well-formed "(id) " prefix WHEN parsed
    line = parse_execution_line(bad)
    # THEN no request id is made up, the text is the line (a recognised prefix or marker removed, nothing else)
    assert (line.request_id, line.text, line.truncated) == (None, text, truncated)


# ---------------------------------------------------------------------------------------------------
# looks_like_execution_line
# ---------------------------------------------------------------------------------------------------


def test_given_every_real_execution_line_when_sniffed_then_recognised():
    missed = [e["n"] for e in corpus_execution() if not looks_like_execution_line(e["message"])]
    assert missed == []


def test_given_real_access_lines_when_sniffed_then_not_execution():
    # GIVEN every real access record (JSON, CLF), flattened and as pretty-printed in its source
    raws = access_corpus_lines() + [r["raw"] for r in corpus_access()]
    # WHEN sniffed  THEN none is taken for execution-log text
    assert [r for r in raws if looks_like_execution_line(r)] == []


def test_given_csv_and_xml_access_lines_when_sniffed_then_not_execution():
    # GIVEN the console's CSV and XML access formats filled with the values of real record A01
    a01 = corpus_access()[0]
    assert a01["format"] == "json"
    csv_line = (
        "1.128.0.0,-,-,10/Jun/2023:15:36:28 +0000,GET,/pets,HTTP/1.1,200,184,48752d0f-c99d-4cfa-a5a7-f3c6834d19e5,-"
    )
    xml_line = (
        '<request id="48752d0f-c99d-4cfa-a5a7-f3c6834d19e5"> <ip>1.128.0.0</ip> <caller>-</caller> '
        "<user>-</user> <requestTime>10/Jun/2023:15:36:28 +0000</requestTime> <httpMethod>GET</httpMethod> "
        "<resourcePath>/pets</resourcePath> <status>200</status> <protocol>HTTP/1.1</protocol> "
        "<responseLength>184</responseLength> </request>"
    )
    assert "48752d0f-c99d-4cfa-a5a7-f3c6834d19e5" in a01["raw"]
    # THEN neither is execution-log text
    assert not looks_like_execution_line(csv_line)
    assert not looks_like_execution_line(xml_line)


# ---------------------------------------------------------------------------------------------------
# ExecutionAssembler on the real S01 subscription payloads
# ---------------------------------------------------------------------------------------------------


def run_payload(payload: dict, **kw) -> tuple[list[ExecutionRequest], ExecutionAssembler]:
    assembler = ExecutionAssembler()
    done: list[ExecutionRequest] = []
    for event in payload_events(payload):
        done.extend(assembler.add(event, log_group=payload["logGroup"], **kw))
    return done, assembler


@pytest.mark.parametrize("index", range(4))
def test_given_s01_payload_when_assembled_then_each_request_completes_once_with_its_status(index):
    # GIVEN a real subscription payload from an execution-log group
    payload = s01_payloads()[index]
    messages = [e["message"] for e in payload["logEvents"]]
    # WHEN every event is added
    done, assembler = run_payload(payload)
    # THEN one complete request per "Method completed" line, with that status, in order
    assert [r.status for r in done] == statuses_in(messages)
    assert all(r.complete for r in done)
    assert [r.request_id for r in done] == list(dict.fromkeys(request_id_of(m) for m in messages))
    # AND the lines API Gateway writes after completion leave nothing open behind
    assert assembler.pending == 0
    assert assembler.drain() == []
    # AND every request knows its log group, timestamps and stage
    for r in done:
        assert r.log_group == payload["logGroup"]
        assert r.stage == "Prod"
        assert r.first_timestamp <= r.last_timestamp


def test_given_lambda_timeout_payload_when_assembled_then_fields_and_cause_line_are_extracted():
    payload = s01_payloads()[0]
    done, _ = run_payload(payload)
    (req,) = done
    assert (req.status, req.http_method, req.resource_path) == (502, "GET", "/echo")
    assert req.integration_latency_ms == 11029.0
    assert (req.api_id, req.stage) == ("uwe3g5jm54", "Prod")  # from "Verifying Usage Plan ... API Stage:"
    assert req.first_timestamp == payload["logEvents"][0]["timestamp"]
    assert any(
        line.startswith("Lambda execution failed with status 200 due to customer function error")
        and "Task timed out after 10.00 seconds" in line
        for line in req.lines
    )
    # lines keep the text only: no "(id) " prefix, no [TRUNCATED] marker, in arrival order
    assert req.lines[0] == "Extended Request Id: Vwc2MGFUrPEFV_g="
    assert req.lines[-1] == "Method completed with status: 502"
    assert not any(line.startswith("(") or line.endswith("[TRUNCATED]") for line in req.lines)


def test_given_key_throttle_payload_when_assembled_then_429_with_throttle_line():
    done, _ = run_payload(s01_payloads()[1])
    (req,) = done
    assert req.status == 429
    assert req.lines[-2].startswith("Key throttle limit exceeded for RestApi uwe3g5jm54, Stage Prod")


def test_given_multi_request_payload_when_assembled_then_four_requests_malformed_502_first():
    done, _ = run_payload(s01_payloads()[3])
    assert len(done) == 4
    assert [r.status for r in done] == [502, 200, 200, 200]
    assert "Execution failed due to configuration error: Malformed Lambda proxy response" in done[0].lines
    assert [(r.http_method, r.resource_path) for r in done] == [
        ("POST", "/receipt"),
        ("POST", "/receipt"),
        ("POST", "/echo"),
        ("POST", "/receipt"),
    ]


def test_given_api_and_stage_arguments_when_assembled_then_they_win_over_the_text():
    done, _ = run_payload(s01_payloads()[2], api_id="myapi", stage="live")
    assert (done[0].api_id, done[0].stage) == ("myapi", "live")
    done, _ = run_payload(s01_payloads()[2])
    assert (done[0].api_id, done[0].stage) == ("h733q2j6gb", "Prod")


# ---------------------------------------------------------------------------------------------------
# Other eras and API types
# ---------------------------------------------------------------------------------------------------


def test_given_websocket_lines_when_drained_then_grouped_under_websocket_id_with_gateway_status():
    # GIVEN S07: a WebSocket authorizer failure (no "Method completed" line)
    assembler = ExecutionAssembler()
    assert feed(assembler, msgs(219, 221)) == []
    # WHEN the input ends
    (req,) = assembler.drain()
    # THEN the request is incomplete, under its WebSocket id, with the gateway response's status
    assert req.request_id == "PDS1PEC4oAMFpyA="
    assert not req.complete
    assert req.status == 500
    assert req.lines[-1] == "Gateway response type: AUTHORIZER_CONFIGURATION_ERROR with status code: 500"


def test_given_2016_lines_without_prefix_when_assembled_then_grouped_by_id_in_text():
    # GIVEN S02: two 2016-era requests whose lines carry no request-id prefix
    lines = msgs(139, 174)
    assembler = ExecutionAssembler()
    done = feed(assembler, lines)
    # THEN each is one request, named by "Verifying Usage Plan for request: {id}."
    assert [(r.request_id, r.status) for r in done] == [
        ("9ac0eacd-87c5-11e6-b30c-19c3d9849330", 200),
        ("9537d573-87c5-11e6-b3e4-6f23bc206746", 400),
    ]
    assert [len(r.lines) for r in done] == [18, 18]
    assert all(
        (r.api_id, r.stage, r.http_method, r.resource_path) == ("ulhoxnm2x2", "dev", "POST", "/repos/hello")
        for r in done
    )
    assert done[1].lines[4] == "API Key: **********************************bMZHBg"
    assert assembler.pending == 0


def test_given_console_test_output_when_assembled_then_grouped_by_header_id():
    # GIVEN S03: the console's Test output (header + "Thu Aug 31 ... : " lines)
    done = feed(ExecutionAssembler(), msgs(175, 193))
    (req,) = done
    # THEN one request named by its header, with the fields of its lines
    assert req.request_id == "test-request"
    assert (req.status, req.http_method, req.resource_path, req.integration_latency_ms) == (
        200,
        "POST",
        "/Seattle",
        328.0,
    )
    assert req.lines[0] == "Execution log for request test-request"
    assert req.lines[1] == "Starting execution for request: test-invoke-request"
    assert len(req.lines) == 19


def test_given_two_console_runs_when_second_header_arrives_then_first_is_returned_incomplete():
    # GIVEN S17 (a Test run cut short) followed by S18's header
    assembler = ExecutionAssembler()
    assert feed(assembler, msgs(265, 272)) == []
    # WHEN the next header arrives
    out = assembler.add(LogEvent(msg(273)))
    # THEN the first run is handed back, incomplete, with all its lines
    (first,) = out
    assert (first.request_id, first.complete, first.http_method, first.resource_path) == (
        "test-request",
        False,
        "GET",
        "/helloWorld",
    )
    assert len(first.lines) == 8
    assert assembler.pending == 1


def test_given_bare_lines_when_previous_request_completed_then_next_line_starts_a_new_request():
    # GIVEN S13 and S14 back to back: bare / console lines without ids, each ending in "Method completed"
    done = feed(ExecutionAssembler(), msgs(246, 253))
    # THEN two requests, split at the first completion
    assert [(r.request_id, r.status, len(r.lines)) for r in done] == [(None, 500, 5), (None, 500, 3)]
    assert done[0].lines[0] == "Extended Request Id: d4qiDGxbBcwFXJw="


def test_given_header_with_uuid_when_test_run_has_no_completion_then_drained_with_that_id():
    assembler = ExecutionAssembler()
    feed(assembler, msgs(233, 240))
    (req,) = assembler.drain()
    assert (req.request_id, req.complete, req.resource_path) == (
        "92b94364-453e-48ac-8995-356d0d1973f3",
        False,
        "/booking/lorem/lorem",
    )


# ---------------------------------------------------------------------------------------------------
# Multi-line messages and [TRUNCATED]
# ---------------------------------------------------------------------------------------------------


def test_given_multiline_events_when_assembled_then_each_message_is_one_line_of_its_request():
    # GIVEN S05 (line 211 holds a pretty-printed body) and S09 (lines 231-232, "Method request path:\n{}")
    assembler = ExecutionAssembler()
    (s05,) = feed(assembler, msgs(209, 214))
    feed(assembler, msgs(225, 232))
    (s09,) = assembler.drain()
    # THEN the multi-line texts are single entries of `lines`
    assert parse_execution_line(msg(211)).text in s05.lines
    assert s05.status == 502 and len(s05.lines) == 6
    assert s09.lines[-2:] == ("Method request path:\n{}", "Method request query string:\n{}")


@pytest.mark.parametrize("n", [211, 319, 366])
def test_given_plain_text_file_when_message_spans_lines_then_continuations_join_the_previous_line(n):
    # GIVEN a multi-line message as a plain-text file shows it: one file line per physical line
    original = msg(n)
    first, *continuations = original.split("\n")
    assert continuations
    assembler = ExecutionAssembler()
    feed(assembler, [first, *continuations, msg(n + 1)])
    # WHEN the input ends
    requests = assembler.drain()
    # THEN the pieces are rejoined into the one line they were, and the next message is its own line
    lines = [line for r in requests for line in r.lines]
    assert parse_execution_line(original).text in lines
    assert parse_execution_line(msg(n + 1)).text in lines
    assert len(requests) == 1


def test_given_truncated_line_when_assembled_then_text_kept_without_marker():
    done, _ = run_payload(s01_payloads()[0])
    headers = [line for line in done[0].lines if line.startswith("Endpoint request headers:")]
    assert headers == [parse_execution_line(msg(12)).text]
    assert not headers[0].endswith("[TRUNCATED]")


# ---------------------------------------------------------------------------------------------------
# Interleaving, batches, drain, bounds
# ---------------------------------------------------------------------------------------------------


def test_given_two_requests_interleaved_when_assembled_then_each_keeps_its_own_lines():
    # GIVEN the 502 and the first 200 of the multi-request payload, alternated line by line
    events = payload_events(s01_payloads()[3])
    a = [e for e in events if e.message.startswith("(5cb7ee58")]
    b = [e for e in events if e.message.startswith("(6015718a")]
    mixed = [e for pair in zip(a, b, strict=False) for e in pair] + a[len(b) :] + b[len(a) :]
    assembler = ExecutionAssembler()
    done = [r for e in mixed for r in assembler.add(e)]
    # THEN both complete, each with exactly its own lines in its own order
    by_id = {r.request_id: r for r in done}
    assert by_id["5cb7ee58-39e6-11e9-be7e-29aff96747f2"].status == 502
    assert by_id["6015718a-39e6-11e9-be7e-29aff96747f2"].status == 200
    for reqs, r in (
        (a, by_id["5cb7ee58-39e6-11e9-be7e-29aff96747f2"]),
        (b, by_id["6015718a-39e6-11e9-be7e-29aff96747f2"]),
    ):
        expected = [parse_execution_line(e.message).text for e in reqs]
        assert list(r.lines) == [t for t in expected if not t.startswith(TRAILERS)]


def test_given_request_split_across_two_batches_when_assembled_then_it_completes_in_the_second():
    payload = s01_payloads()[0]
    events = payload_events(payload)
    assembler = ExecutionAssembler()
    # WHEN the first batch ends mid-request
    assert [r for e in events[:10] for r in assembler.add(e, log_group=payload["logGroup"])] == []
    assert assembler.pending == 1
    # THEN the second batch completes it with every line
    done = [r for e in events[10:] for r in assembler.add(e, log_group=payload["logGroup"])]
    (req,) = done
    assert req.status == 502 and req.complete
    assert len(req.lines) == 19
    assert (req.first_timestamp, req.last_timestamp) == (events[0].timestamp, events[18].timestamp)


def test_given_open_requests_at_end_when_drained_then_returned_incomplete_oldest_first_and_cleared():
    assembler = ExecutionAssembler()
    feed(assembler, msgs(1, 10))  # 286364ab, cut short
    feed(assembler, msgs(22, 25))  # 4f3e3b0f, completes
    feed(assembler, msgs(303, 304))  # a1335dfd, cut short
    drained = assembler.drain()
    assert [(r.request_id, r.complete, len(r.lines)) for r in drained] == [
        ("286364ab-3a83-11e9-8dc8-db3cf4c83204", False, 10),
        ("a1335dfd-5bcc-4e1b-aa45-f6726cb95816", False, 2),
    ]
    assert drained[1].api_id is None and drained[1].stage == "test_stage"  # masked api id is not an id
    assert assembler.pending == 0 and assembler.drain() == []


def test_given_more_open_requests_than_max_pending_when_adding_then_oldest_is_returned_incomplete():
    assembler = ExecutionAssembler(max_pending=2)
    assert assembler.add(LogEvent(msg(1))) == []
    assert assembler.add(LogEvent(msg(22))) == []
    # WHEN a third request opens
    out = assembler.add(LogEvent(msg(26)))
    # THEN the oldest comes back incomplete (nothing silently lost) and two stay open
    assert [(r.request_id, r.complete, r.lines) for r in out] == [
        ("286364ab-3a83-11e9-8dc8-db3cf4c83204", False, ("Extended Request Id: Vwc2MGFUrPEFV_g=",))
    ]
    assert assembler.pending == 2


def test_given_long_request_when_line_cap_reached_then_first_lines_and_outcome_lines_are_kept():
    assembler = ExecutionAssembler(max_lines_per_request=5)
    done = feed(assembler, msgs(1, 21))
    (req,) = done
    assert req.status == 502
    assert list(req.lines[:5]) == [parse_execution_line(m).text for m in msgs(1, 5)]
    assert req.lines[-1] == "Method completed with status: 502"
    assert any(line.startswith("Lambda execution failed") for line in req.lines)
    assert len(req.lines) <= 10


def test_given_huge_line_when_assembled_then_stored_text_is_bounded():
    assembler = ExecutionAssembler()
    assembler.add(LogEvent(msg(16)[:-2] + "x" * 1_000_000 + '"}'))
    (req,) = assembler.drain()
    assert len(req.lines[0]) == MAX_LINE_CHARS


def test_given_completed_request_when_its_id_starts_again_then_a_new_request_is_assembled():
    # GIVEN the key-throttle request delivered twice (same id, e.g. a replayed export)
    assembler = ExecutionAssembler()
    first = feed(assembler, msgs(22, 25))
    second = feed(assembler, msgs(22, 25))
    assert [r.status for r in first + second] == [429, 429]


def test_given_only_trailing_lines_of_an_unseen_request_when_added_then_nothing_is_opened():
    assembler = ExecutionAssembler()
    assert feed(assembler, msgs(20, 21)) == []
    assert assembler.pending == 0


# ---------------------------------------------------------------------------------------------------
# The whole corpus
# ---------------------------------------------------------------------------------------------------


def test_given_whole_corpus_when_assembled_then_every_completion_line_yields_exactly_one_request():
    assembler = ExecutionAssembler()
    complete: list[ExecutionRequest] = []
    emitted: list[ExecutionRequest] = []
    for entry in corpus_execution():
        out = assembler.add(LogEvent(entry["message"]))
        emitted.extend(out)
        done = [r for r in out if r.complete]
        complete.extend(done)
        expected = statuses_in([entry["message"]])
        # THEN a "Method completed with status: N" line completes exactly one request, with status N
        assert [r.status for r in done] == expected, entry["n"]
    emitted.extend(assembler.drain())
    assert len(complete) == len(statuses_in([e["message"] for e in corpus_execution()])) == 29
    # AND no line is lost: every line except post-completion trailers is in some request
    kept = {line for r in emitted for line in r.lines}
    missing = [
        e["n"]
        for e in corpus_execution()
        if not parse_execution_line(e["message"]).text.startswith(TRAILERS)
        and parse_execution_line(e["message"]).text not in kept
    ]
    assert missing == []
    assert assembler.pending == 0

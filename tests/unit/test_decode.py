"""Decoding: every input a user can hand gatewatch becomes batches of the real log events — or a clear rejection."""

from __future__ import annotations

import base64
import copy
import csv
import gzip
import io
import json
import zlib

import pytest

from gatewatch.ingest import lambda_events
from gatewatch.ingest.codec import is_compressed
from gatewatch.ingest.lambda_events import batches_from_lambda_event, decode_subscription_data
from gatewatch.ingest.payloads import batch_from_payload, kind_for_log_group
from gatewatch.ingest.rejections import Reason
from gatewatch.models import LogBatch, LogEvent, LogKind, Rejection
from gatewatch.naming import execution_log_group_ids
from gatewatch_cli import inputs
from gatewatch_cli.inputs import iter_input_batches
from tests.helpers import (
    CORPUS,
    access_corpus_lines,
    corpus_execution,
    encode_payload,
    kinesis_event,
    s01_payloads,
    subscription_event,
    subscription_payload,
)

PAYLOADS = CORPUS / "payloads"
EXEC_GROUP = "API-Gateway-Execution-Logs_uwe3g5jm54/Prod"

# VERBATIM decoded control message (reference §1.3, openobserve#505).
CONTROL_MESSAGE = {
    "messageType": "CONTROL_MESSAGE",
    "owner": "CloudwatchLogs",
    "logGroup": "",
    "logStream": "",
    "subscriptionFilters": [],
    "logEvents": [
        {
            "id": "",
            "timestamp": 1680683189085,
            "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose.",
        }
    ],
}


def _fixture(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_text())


def _events_of(payload: dict) -> list[tuple]:
    return [(e["message"], e["timestamp"], e["id"]) for e in payload["logEvents"]]


def _as_tuples(batch: LogBatch) -> list[tuple]:
    return [(e.message, e.timestamp, e.event_id) for e in batch.events]


def _batches(items) -> list[LogBatch]:
    return [i for i in items if isinstance(i, LogBatch)]


def _rejections(items) -> list[Rejection]:
    return [i for i in items if isinstance(i, Rejection)]


def _gzip_b64(raw: bytes) -> str:
    return base64.b64encode(gzip.compress(raw)).decode()


# ---------------------------------------------------------------------------------------------------
# Log group names
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "group,expected",
    [
        ("API-Gateway-Execution-Logs_uwe3g5jm54/Prod", ("uwe3g5jm54", "Prod")),
        ("/API-Gateway-Execution-Logs_a1b2c3d4e5/dev-2", ("a1b2c3d4e5", "dev-2")),
        ("API-Gateway-Execution-Logs_abc/", None),
        ("API-Gateway-Execution-Logs_/prod", None),
        ("API-Gateway-Execution-Logs_abc", None),
        ("API-Gateway-Execution-Logs_abc/prod/extra", None),
        ("/aws/apigateway/access-logs", None),
        ("testLogGroup", None),
        ("", None),
        (None, None),
    ],
)
def test_execution_log_group_names_give_api_and_stage(group, expected):
    # GIVEN a log group name WHEN it is read THEN only execution-log groups yield (apiId, stage)
    assert execution_log_group_ids(group) == expected
    assert kind_for_log_group(group) is (LogKind.EXECUTION if expected else LogKind.UNKNOWN)


# ---------------------------------------------------------------------------------------------------
# Subscription deliveries (the Lambda path)
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("index", range(4))
@pytest.mark.parametrize("compression", ["gzip", "zlib"])
def test_real_execution_payloads_decode_to_their_events(index, compression):
    # GIVEN a real S01 execution-log payload delivered as CloudWatch Logs does (gzip, or zlib)
    payload = s01_payloads()[index]
    event = subscription_event(payload, compression=compression)
    # WHEN the Lambda event is decoded
    items = list(batches_from_lambda_event(event))
    # THEN one batch carries every event verbatim, with group, stream, owner and the execution kind
    assert [i for i, _ in items] == [None]
    batch = items[0][1]
    assert isinstance(batch, LogBatch)
    assert _as_tuples(batch) == _events_of(payload)
    assert (batch.log_group, batch.log_stream, batch.owner) == (
        payload["logGroup"],
        payload["logStream"],
        payload["owner"],
    )
    assert batch.kind is LogKind.EXECUTION
    assert batch.origin == "subscription"


def test_powertools_zlib_event_with_policy_level_decodes():
    # GIVEN the Powertools fixture whose awslogs.data is zlib (eNq...) and carries policyLevel
    fixture = _fixture("powertools_cloudWatchLogEventWithPolicyLevel.json")
    # WHEN decoded
    [(_item_id, batch)] = list(batches_from_lambda_event(fixture["event"]))
    # THEN both events come out, policyLevel is tolerated, and the kind is unknown (not an execution group)
    expected = json.loads(fixture["decoded_text_verbatim"])
    assert _as_tuples(batch) == _events_of(expected)
    assert batch.log_group == "testLogGroup" and batch.kind is LogKind.UNKNOWN


def test_lambda_console_sample_event_decodes_to_the_documented_payload():
    fixture = _fixture("lambda_console_sample_cloudwatch_logs_event.json")
    [batch] = list(decode_subscription_data(fixture["event"]["awslogs"]["data"]))
    assert _as_tuples(batch) == _events_of(fixture["decoded"])
    assert batch.log_stream == "testLogStream" and batch.owner == "123456789123"


def test_real_kinesis_records_are_identified_by_sequence_number():
    # GIVEN the real Powertools Kinesis records (CloudWatch Logs -> Kinesis Data Streams)
    records = _fixture("powertools_kinesisStreamCloudWatchLogsEvent_decoded.json")["records"]
    event = {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r["partitionKey"],
                    "sequenceNumber": r["sequenceNumber"],
                    "data": r["data_b64_gzip"],
                    "approximateArrivalTimestamp": r["approximateArrivalTimestamp"],
                },
                "eventSource": "aws:kinesis",
                "eventID": f"shardId-000000000000:{r['sequenceNumber']}",
            }
            for r in records
        ]
    }
    # WHEN decoded
    items = list(batches_from_lambda_event(event))
    # THEN each batch is paired with its record's sequenceNumber (what batchItemFailures names)
    assert [i for i, _ in items] == [r["sequenceNumber"] for r in records]
    for (_, batch), record in zip(items, records, strict=False):
        assert _as_tuples(batch) == _events_of(record["decoded"])
        assert batch.origin == "kinesis"
        assert batch.events[0].message.endswith("\n")  # Lambda's own lines keep their newline


def test_kinesis_record_with_bad_data_fails_only_that_record():
    event = kinesis_event(s01_payloads()[:2])
    event["Records"][0]["kinesis"]["data"] = "not base64!"
    items = list(batches_from_lambda_event(event))
    first_seq = event["Records"][0]["kinesis"]["sequenceNumber"]
    second_seq = event["Records"][1]["kinesis"]["sequenceNumber"]
    assert [(i, type(x).__name__) for i, x in items] == [(first_seq, "Rejection"), (second_seq, "LogBatch")]
    assert items[0][1].reason == Reason.INVALID_BASE64


def test_firehose_records_are_identified_by_record_id():
    payloads = s01_payloads()[:2]
    event = {
        "invocationId": "inv",
        "records": [
            {"recordId": f"rec-{i}", "approximateArrivalTimestamp": 1, "data": encode_payload(p)}
            for i, p in enumerate(payloads)
        ],
    }
    items = list(batches_from_lambda_event(event))
    assert [i for i, _ in items] == ["rec-0", "rec-1"]
    assert [_as_tuples(b) for _, b in items] == [_events_of(p) for p in payloads]
    assert {b.origin for _, b in items} == {"firehose"}


def test_firehose_http_endpoint_body_and_uncompressed_record_data_are_read():
    # GIVEN a Firehose HTTP-endpoint body: one gzip record, one record Firehose already decompressed
    payload = s01_payloads()[1]
    plain = base64.b64encode(json.dumps(payload).encode()).decode()
    body = {"requestId": "r", "timestamp": 1, "records": [{"data": encode_payload(payload)}, {"data": plain}]}
    items = list(batches_from_lambda_event(body))
    assert [(i, _as_tuples(b)) for i, b in items] == [(None, _events_of(payload))] * 2


def test_control_message_is_acknowledged_and_skipped():
    # GIVEN the verbatim CONTROL_MESSAGE, via subscription, Kinesis and as a decoded payload
    assert list(decode_subscription_data(encode_payload(CONTROL_MESSAGE))) == []
    assert list(batches_from_lambda_event(kinesis_event([CONTROL_MESSAGE]))) == []
    assert batch_from_payload(CONTROL_MESSAGE, origin="subscription") is None


@pytest.mark.parametrize("event", [{}, {"foo": 1}, {"Records": [{"Sns": {"Message": "x"}}]}, [], "awslogs", None, 42])
def test_unknown_lambda_event_shapes_are_rejected(event):
    [(item_id, rejection)] = list(batches_from_lambda_event(event))
    assert item_id is None
    assert (rejection.source, rejection.reason) == ("input", Reason.UNKNOWN_EVENT_SHAPE)


def _bad_inputs() -> list[tuple[str, object, str]]:
    good = json.dumps(s01_payloads()[0]).encode()
    truncated = gzip.compress(good)[:-20]
    return [
        ("garbage", "this is not base64 at all!", Reason.INVALID_BASE64),
        ("non-ascii", "H4sI\u00e9\u00e9", Reason.INVALID_BASE64),
        ("uncompressed json", base64.b64encode(good).decode(), Reason.NOT_COMPRESSED),
        ("uncompressed bytes", base64.b64encode(b"\x00\x01\x02\x03").decode(), Reason.NOT_COMPRESSED),
        ("truncated gzip", base64.b64encode(truncated).decode(), Reason.TRUNCATED),
        ("corrupt gzip", base64.b64encode(gzip.compress(good)[:12] + b"\xff" * 40).decode(), Reason.CORRUPT),
        ("bad json", _gzip_b64(b'{"messageType": "DATA_MESSAGE", "logEvents": [}'), Reason.INVALID_JSON),
        ("json not payload", _gzip_b64(b'{"hello": "world"}'), Reason.NOT_A_PAYLOAD),
        ("json list of numbers", _gzip_b64(b"[1, 2]"), Reason.NOT_A_PAYLOAD),
        ("none", None, Reason.MISSING_DATA),
    ]


@pytest.mark.parametrize("label,data,reason", _bad_inputs(), ids=[b[0] for b in _bad_inputs()])
def test_bad_subscription_data_becomes_a_rejection_with_a_clear_reason(label, data, reason):
    items = list(decode_subscription_data(data))
    assert items and all(isinstance(i, Rejection) for i in items)
    rejection = items[0]
    assert rejection.reason == reason
    assert rejection.source == "input" and rejection.origin == "subscription"
    assert rejection.detail and len(rejection.sample) <= 80
    assert rejection.sample.isprintable()


def test_decompression_bomb_is_rejected_as_too_large(monkeypatch):
    # GIVEN a cap of 1 MB and 3 MB of zeros that compress to a few KB
    monkeypatch.setattr(lambda_events, "MAX_SUBSCRIPTION_BYTES", 1024 * 1024)
    bomb = base64.b64encode(gzip.compress(b"0" * (3 * 1024 * 1024))).decode()
    [rejection] = list(decode_subscription_data(bomb))
    assert rejection.reason == Reason.TOO_LARGE


def _tiny_events_record(n: int) -> str:
    body = b",".join([b'{"id":"","timestamp":0,"message":"x"}'] * n)
    return _gzip_b64(b'{"messageType":"DATA_MESSAGE","logGroup":"g","logEvents":[' + body + b"]}")


def test_a_record_with_exactly_the_documented_event_cap_is_read_and_one_more_is_rejected():
    # GIVEN records of tiny events at the cap docs/limits.md states, and one event over it
    cap = lambda_events.MAX_EVENTS_PER_RECORD
    # WHEN each is decoded
    [batch] = list(decode_subscription_data(_tiny_events_record(cap)))
    [rejection] = list(decode_subscription_data(_tiny_events_record(cap + 1)))
    # THEN the one at the cap keeps every event, the one over it is a counted too-many-events rejection
    assert isinstance(batch, LogBatch) and len(batch.events) == cap
    assert isinstance(rejection, Rejection) and rejection.reason == Reason.TOO_MANY_EVENTS
    assert rejection.source == "input" and f"{cap + 1} events" in rejection.detail


def test_several_gzip_members_and_glued_documents_all_decode():
    # GIVEN a Firehose->S3 style blob: member 1 = payload A, member 2 = payloads B and C glued "}{"
    a, b, c = s01_payloads()[:3]
    blob = gzip.compress(json.dumps(a).encode()) + gzip.compress((json.dumps(b) + json.dumps(c)).encode())
    batches = list(decode_subscription_data(base64.b64encode(blob).decode()))
    assert [_as_tuples(x) for x in batches] == [_events_of(p) for p in (a, b, c)]


def test_newline_separated_payloads_and_a_broken_one_in_between():
    a, b = s01_payloads()[:2]
    raw = (json.dumps(a) + "\n" + '{"messageType": "DATA_MESSAGE", "logEvents": [1,,]}' + "\n" + json.dumps(b)).encode()
    items = list(decode_subscription_data(_gzip_b64(raw)))
    assert [type(i).__name__ for i in items] == ["LogBatch", "Rejection", "LogBatch"]
    assert items[1].reason == Reason.INVALID_JSON
    assert _as_tuples(items[2]) == _events_of(b)


def test_message_containing_brace_boundaries_is_not_split():
    # GIVEN glued payloads whose messages contain "}{" and "} {" (not document boundaries)
    messages = ['{"a":1}{"b":2}', "x} {y", "}" + "{" * 3] * 20
    p1 = subscription_payload("gatewatch-access", messages)
    p2 = subscription_payload("gatewatch-access", ["last"])
    batches = list(decode_subscription_data(_gzip_b64((json.dumps(p1) + json.dumps(p2)).encode())))
    assert [[e.message for e in b.events] for b in batches] == [messages, ["last"]]


def test_invalid_utf8_in_a_message_keeps_the_batch():
    raw = json.dumps(subscription_payload("g", ["caf\u00e9", "ok"])).encode().replace(b"caf\\u00e9", b"caf\xe9")
    [batch] = list(decode_subscription_data(_gzip_b64(raw)))
    assert [e.message for e in batch.events] == ["caf\ufffd", "ok"]


# ---------------------------------------------------------------------------------------------------
# batch_from_payload
# ---------------------------------------------------------------------------------------------------


def test_odd_event_values_are_coerced_not_dropped():
    # GIVEN a payload whose events carry a number, an object, null and a missing message, odd timestamps
    payload = {
        "messageType": "DATA_MESSAGE",
        "logGroup": EXEC_GROUP,
        "logStream": "s",
        "owner": "1",
        "logEvents": [
            {"id": "1", "timestamp": 1, "message": "plain", "extractedFields": {"a": "b"}},
            {"id": 2, "timestamp": "1700000000000", "message": 42},
            {"id": "3", "timestamp": 1.5e12, "message": {"status": "502"}},
            {"id": "4", "timestamp": None, "message": None},
            {"id": "5"},
            "a bare string",
        ],
    }
    batch = batch_from_payload(payload, origin="test")
    # THEN every entry is one event; values are text; timestamps are ints or None
    assert _as_tuples(batch) == [
        ("plain", 1, "1"),
        ("42", 1700000000000, "2"),
        ('{"status":"502"}', 1500000000000, "3"),
        ("", None, "4"),
        ("", None, "5"),
        ("a bare string", None, None),
    ]
    assert batch.kind is LogKind.EXECUTION and batch.origin == "test"


def test_payload_without_message_type_is_read_as_data():
    batch = batch_from_payload(
        {"logGroup": "g", "logEvents": [{"id": "1", "timestamp": 5, "message": "m"}]}, origin="o"
    )
    assert _as_tuples(batch) == [("m", 5, "1")]


@pytest.mark.parametrize(
    "payload",
    [
        {"hello": "world"},
        {"messageType": "DATA_MESSAGE", "logEvents": "nope"},
        {"messageType": "DATA_MESSAGE"},
        {"messageType": 7, "logEvents": []},
        ["not", "a", "mapping"],
    ],
)
def test_wrong_payload_shapes_are_rejected(payload):
    rejection = batch_from_payload(payload, origin="o")
    assert isinstance(rejection, Rejection)
    assert rejection.reason == Reason.NOT_A_PAYLOAD and rejection.detail


# ---------------------------------------------------------------------------------------------------
# iter_input_batches (the CLI)
# ---------------------------------------------------------------------------------------------------


def _read(path, **kw) -> list:
    return list(iter_input_batches(path.read_bytes(), name=path.name, **kw))


def test_subscription_event_file_and_list_of_events(tmp_path):
    a, b = s01_payloads()[:2]
    one = tmp_path / "event.json"
    one.write_text(json.dumps(subscription_event(a), indent=2))
    many = tmp_path / "events.json"
    many.write_text(json.dumps([subscription_event(a), subscription_event(b)]))
    assert [_as_tuples(x) for x in _read(one)] == [_events_of(a)]
    assert [_as_tuples(x) for x in _read(many)] == [_events_of(a), _events_of(b)]


def test_kinesis_and_firehose_event_files(tmp_path):
    a, b = s01_payloads()[:2]
    kin = tmp_path / "kinesis.json"
    kin.write_text(json.dumps(kinesis_event([a, b])))
    fh = tmp_path / "firehose.json"
    fh.write_text(json.dumps({"records": [{"recordId": "1", "data": encode_payload(b)}]}))
    assert [(x.origin, _as_tuples(x)) for x in _read(kin)] == [("kinesis", _events_of(a)), ("kinesis", _events_of(b))]
    assert [(x.origin, _as_tuples(x)) for x in _read(fh)] == [("firehose", _events_of(b))]


def test_decoded_payload_files_pretty_jsonl_and_concatenated(tmp_path):
    payloads = list(s01_payloads())
    expected = [_events_of(p) for p in payloads]
    pretty = tmp_path / "payload.json"
    pretty.write_text(json.dumps(payloads[0], indent=2))
    jsonl = tmp_path / "payloads.jsonl"
    jsonl.write_text("\n".join(json.dumps(p) for p in payloads) + "\n")
    glued = tmp_path / "firehose-s3-object"
    glued.write_text("".join(json.dumps(p) for p in payloads))
    pretty_many = tmp_path / "pretty-many.json"
    pretty_many.write_text("\n".join(json.dumps(p, indent=2) for p in payloads))
    assert [_as_tuples(x) for x in _read(pretty)] == expected[:1]
    for f in (jsonl, glued, pretty_many):
        batches = _read(f)
        assert [_as_tuples(x) for x in batches] == expected, f.name
        assert {(x.origin, x.kind) for x in batches} == {("payload", LogKind.EXECUTION)}


def test_multi_member_gzip_file_from_s3(tmp_path):
    # GIVEN an S3 object Firehose wrote: one gzip member per record, a control message among them
    payloads = list(s01_payloads())
    blob = b"".join(gzip.compress(json.dumps(p).encode()) for p in [payloads[0], CONTROL_MESSAGE, *payloads[1:]])
    path = tmp_path / "obj.gz"
    path.write_bytes(blob)
    assert [_as_tuples(x) for x in _read(path)] == [_events_of(p) for p in payloads]


def test_gzip_of_plain_text_and_a_truncated_one(tmp_path):
    lines = [e["message"] for e in corpus_execution()[:40] if "\n" not in e["message"]]
    whole = gzip.compress(("\n".join(lines) + "\n").encode())
    ok = tmp_path / "exec.log.gz"
    ok.write_bytes(whole)
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    assert [e.message for b in _read(ok) for e in b.events] == lines
    items = _read(cut)
    # THEN the readable half is kept and the truncation is reported
    kept = [e.message for b in _batches(items) for e in b.events]
    assert kept and all(line in lines or lines[len(kept) - 1].startswith(line) for line in kept)
    assert [r.reason for r in _rejections(items)] == [Reason.TRUNCATED]
    assert _rejections(items)[0].origin == "cut.log.gz"


def test_filter_log_events_output_is_grouped_by_stream(tmp_path):
    msgs = [e["message"] for e in corpus_execution() if e["src"] == "S01"][:6]
    out = {
        "events": [
            {
                "logStreamName": f"stream-{i % 2}",
                "timestamp": 1551267060425 + i,
                "message": m,
                "ingestionTime": 1551267061000,
                "eventId": f"3459{i}",
            }
            for i, m in enumerate(msgs)
        ],
        "searchedLogStreams": [],
    }
    path = tmp_path / "filter.json"
    path.write_text(json.dumps(out))
    batches = _read(path)
    assert [(b.origin, b.log_stream, b.kind) for b in batches] == [
        ("filter-log-events", "stream-0", LogKind.UNKNOWN),
        ("filter-log-events", "stream-1", LogKind.UNKNOWN),
    ]
    assert [e.message for e in batches[0].events] == msgs[0::2]
    assert batches[1].events[0].timestamp == 1551267060426 and batches[1].events[0].event_id == "34591"
    # WHEN the CLI names the log group THEN the kind follows from it
    assert {b.kind for b in _read(path, log_group=EXEC_GROUP)} == {LogKind.EXECUTION}


def test_get_log_events_output(tmp_path):
    out = {
        "events": [
            {"timestamp": 1, "message": "a", "ingestionTime": 2},
            {"timestamp": 3, "message": "b", "ingestionTime": 4},
        ],
        "nextForwardToken": "f/1",
        "nextBackwardToken": "b/1",
    }
    path = tmp_path / "get.json"
    path.write_text(json.dumps(out))
    [batch] = _read(path)
    assert (batch.origin, _as_tuples(batch)) == ("get-log-events", [("a", 1, None), ("b", 3, None)])


def test_insights_json_export_with_log_and_descending_order(tmp_path):
    # GIVEN an Insights JSON export, newest first, with "@log" = "account:group"
    rows = [
        {
            "@timestamp": "2019-02-27 11:31:00.428",
            "@message": "(286364ab) Method completed with status: 504",
            "@logStream": "e369",
            "@log": f"958845080241:{EXEC_GROUP}",
        },
        {
            "@timestamp": "2019-02-27 11:31:00.425",
            "@message": "(286364ab) Extended Request Id: Vwc2MGFUrPEFV_g=",
            "@logStream": "e369",
            "@log": f"958845080241:{EXEC_GROUP}",
        },
    ]
    path = tmp_path / "insights.json"
    path.write_text(json.dumps(rows))
    [batch] = _read(path)
    # THEN lines come back in arrival order with the group, owner, stream and execution kind
    assert [e.message for e in batch.events] == [rows[1]["@message"], rows[0]["@message"]]
    assert batch.events[0].timestamp == 1551267060425
    assert (batch.log_group, batch.owner, batch.log_stream, batch.kind, batch.origin) == (
        EXEC_GROUP,
        "958845080241",
        "e369",
        LogKind.EXECUTION,
        "insights",
    )


def test_insights_csv_export_with_commas_quotes_and_newlines(tmp_path):
    # GIVEN real access lines (commas and quotes everywhere) and a multi-line execution message
    access = access_corpus_lines()[:5]
    multiline = next(e["message"] for e in corpus_execution() if "\n" in e["message"])
    messages = access + [multiline]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["@timestamp", "@message", "@logStream"])
    for i, m in enumerate(messages):
        writer.writerow([f"2023-06-10 15:36:{i:02d}.000", m, "stream"])
    path = tmp_path / "insights.csv"
    path.write_text(buf.getvalue())
    [batch] = _read(path)
    assert [e.message for e in batch.events] == messages
    assert batch.events[0].timestamp == 1686411360000
    assert (batch.origin, batch.log_stream) == ("insights", "stream")


def test_plain_text_execution_log(tmp_path):
    path = tmp_path / "corpus_execution.txt"
    path.write_bytes((CORPUS / "corpus_execution.txt").read_bytes())
    [batch] = _read(path)
    expected = [line for line in (CORPUS / "corpus_execution.txt").read_text().split("\n") if line.strip()]
    assert [e.message for e in batch.events] == expected
    assert (batch.origin, batch.kind, batch.events[0].timestamp) == ("text", LogKind.UNKNOWN, None)
    # A line starting "(4f..." looks like a zlib header; it must still be read as text
    assert any(e.message.startswith("(4f3e3b0f") for e in batch.events)


def test_text_starting_like_a_zlib_header_is_text(tmp_path):
    line = "(4f3e3b0f-39db-11e9-9c2e-5bd7c2de5998) Method completed with status: 429"
    assert is_compressed(line.encode())  # the trap this guards against
    assert [e.message for b in iter_input_batches((line + "\r\n\r\n").encode()) for e in b.events] == [line]


def test_json_access_log_lines_are_plain_text_not_documents(tmp_path):
    # GIVEN a file of real JSON access-log lines (JSON objects, but not CloudWatch payloads)
    lines = [line for line in access_corpus_lines() if line.lstrip().startswith("{")]
    path = tmp_path / "access.jsonl"
    path.write_text("\n".join(lines) + "\n")
    [batch] = _read(path)
    assert [e.message for e in batch.events] == lines
    assert batch.origin == "text"


def test_single_pretty_printed_access_entry_is_one_entry(tmp_path):
    entry = json.loads(access_corpus_lines()[0])
    path = tmp_path / "one.json"
    path.write_text(json.dumps(entry, indent=2))
    [batch] = _read(path)
    assert [json.loads(e.message) for e in batch.events] == [entry]


def test_large_text_is_yielded_in_bounded_batches(tmp_path):
    n = inputs.TEXT_BATCH_EVENTS * 2 + 5
    data = "".join(f"line {i}\n" for i in range(n)).encode()
    batches = list(iter_input_batches(data, name="big.log"))
    assert [len(b.events) for b in batches] == [inputs.TEXT_BATCH_EVENTS, inputs.TEXT_BATCH_EVENTS, 5]
    assert batches[-1].events[-1].message == f"line {n - 1}"


def test_long_lines_across_text_windows(monkeypatch):
    monkeypatch.setattr(inputs, "TEXT_WINDOW_BYTES", 64)
    lines = ["a" * 10, "é" * 200, "b" * 3, "c" * 70]
    got = [e.message for b in iter_input_batches(("\n".join(lines)).encode()) for e in b.events]
    assert got == lines


def test_utf8_bom_blank_lines_and_empty_input():
    assert list(iter_input_batches(b"")) == []
    assert list(iter_input_batches(b"  \n\n")) == []
    [batch] = list(iter_input_batches(b"\xef\xbb\xbfhello\n\n  \nworld\n\n"))
    # blank lines between entries are one boundary event (requests without an id end there), never at the ends
    assert [e.message for e in batch.events] == ["hello", "", "world"]


def test_binary_input_is_unrecognised():
    [rejection] = list(iter_input_batches(bytes(range(256)) * 4, name="blob.bin"))
    assert (rejection.reason, rejection.origin, rejection.source) == (Reason.UNRECOGNISED_INPUT, "blob.bin", "input")
    assert len(rejection.sample) <= 80


def test_rejections_in_files_name_the_file(tmp_path):
    path = tmp_path / "bad-event.json"
    path.write_text(json.dumps({"awslogs": {"data": "%%%not base64%%%"}}))
    [rejection] = _read(path)
    assert (rejection.reason, rejection.origin) == (Reason.INVALID_BASE64, "bad-event.json")


def test_json_array_of_access_objects_becomes_one_entry_each():
    entries = [json.loads(line) for line in access_corpus_lines()[:3]]
    [batch] = list(iter_input_batches(json.dumps(entries, indent=1).encode()))
    assert [json.loads(e.message) for e in batch.events] == entries
    assert batch.origin == "json"


def test_an_event_without_an_id_keeps_its_message_and_time():
    # GIVEN a payload whose second event has no id and whose third has a numeric one
    payload = copy.deepcopy(s01_payloads()[0])
    del payload["logEvents"][1]["id"]
    payload["logEvents"][2]["id"] = 42
    # WHEN decoded  THEN every event is there, the ids as far as they exist (as text)
    batch = batch_from_payload(payload, origin="o")
    expected = [(e["message"], e["timestamp"]) for e in payload["logEvents"]]
    assert [(e.message, e.timestamp) for e in batch.events] == expected
    assert [e.event_id for e in batch.events][:3] == [payload["logEvents"][0]["id"], None, "42"]


def test_decoded_batches_do_not_share_mutable_state():
    # GIVEN a payload decoded twice WHEN the source dict changes THEN the batch does not
    payload = copy.deepcopy(s01_payloads()[0])
    batch = batch_from_payload(payload, origin="o")
    payload["logEvents"][0]["message"] = "changed"
    payload["logEvents"][0]["id"] = "changed"
    assert batch.events[0].message == s01_payloads()[0]["logEvents"][0]["message"]
    assert batch.events[0].event_id == s01_payloads()[0]["logEvents"][0]["id"]
    assert len(batch.events) == len(s01_payloads()[0]["logEvents"]) and isinstance(batch.events[0], LogEvent)


def test_zlib_file_is_read():
    raw = zlib.compress(json.dumps(s01_payloads()[2]).encode())
    [batch] = list(iter_input_batches(raw))
    assert _as_tuples(batch) == _events_of(s01_payloads()[2])


def test_a_few_stray_bytes_do_not_make_a_log_file_binary():
    # GIVEN a text log whose first line is damaged by a few control/invalid bytes
    good = access_corpus_lines()[17]
    data = b"\x00\x01\xffnot a log line at all\n" + good.encode() + b"\n"
    [batch] = list(iter_input_batches(data, name="mixed.log"))
    # THEN both lines are entries (the damaged one is counted downstream), nothing is rejected
    assert [e.message for e in batch.events] == ["\x00\x01\ufffdnot a log line at all", good]

"""The analyzer Lambda's events in; (item id, `LogBatch` or `Rejection`) pairs out.

- CloudWatch Logs subscription: `{"awslogs": {"data": base64(gzip(payload JSON))}}`.
- Kinesis Data Streams: `{"Records": [{"kinesis": {"data", "sequenceNumber"}}]}`, each record one
  base64 gzip payload; the sequence number is what a `batchItemFailures` response names.
- Firehose: `{"records": [{"recordId", "data"}]}` (also the HTTP-endpoint body, without recordId);
  a record may also hold uncompressed payload JSON or extracted message text.

Hot path (one subscription delivery): one strict `a2b_base64`, one `zlib` pass with a size cap, one
`orjson.loads` of the whole buffer, the payload's events as columns. Everything else (several gzip
members, several JSON documents, invalid UTF-8, odd shapes) runs only after the fast path failed.
Nothing here raises: one bad record costs that record, counted, never the others.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from gatewatch.ingest.codec import (
    BROKEN,
    b64decode,
    inflate,
    is_compressed,
    iter_documents,
    loads,
    skip_whitespace,
)
from gatewatch.ingest.payloads import as_text, is_cwl_payload, payload_items
from gatewatch.ingest.rejections import Reason, input_rejection
from gatewatch.models import LogBatch, LogEvent, Rejection

#: Decompressed size cap for one subscription/Kinesis/Firehose record (decompression-bomb guard): 16 MiB,
#: 16 times the largest PutLogEvents batch CloudWatch Logs accepts (1 MiB of messages). Beyond it the
#: record is rejected as `too-large` (counted, logged) before anything is parsed.
MAX_SUBSCRIPTION_BYTES = 16 * 1024 * 1024
#: Events per record: 50,000, five times PutLogEvents' 10,000. More is rejected as `too-many-events`
#: before a single event object is made (a few MB of tiny events would otherwise cost hundreds of MB).
MAX_EVENTS_PER_RECORD = 50_000
_MIN_EVENT_BYTES = len(b'{"message":""}')
_MAX_NESTING = 3  # gzip inside gzip inside ... (Firehose compression over CloudWatch's own gzip)

# Batch origins (LogBatch.origin) of Lambda events.
ORIGIN_SUBSCRIPTION = "subscription"
ORIGIN_KINESIS = "kinesis"
ORIGIN_FIREHOSE = "firehose"


def decode_subscription_data(data: str | bytes, *, origin: str = "subscription") -> Iterator[LogBatch | Rejection]:
    """`awslogs.data` (or a Kinesis record's data) -> LogBatch per DATA_MESSAGE payload.

    base64 -> gzip or zlib (auto-detected, several members allowed) -> one or several JSON payloads.
    CONTROL_MESSAGE payloads yield nothing. Failures yield one Rejection each (reasons: invalid-base64,
    not-compressed, truncated-compressed-data, corrupt-compressed-data, too-large (over
    MAX_SUBSCRIPTION_BYTES decompressed), invalid-json, not-a-cloudwatch-payload). Never raises.
    """
    try:
        yield from decode_record(data, origin, origin, lenient=False)
    except Exception as exc:  # last-resort guard: a bug must cost one record, not the invocation
        yield input_rejection(
            Reason.INTERNAL_ERROR,
            data if isinstance(data, (str, bytes)) else None,
            f"unexpected {type(exc).__name__} while decoding",
            origin,
        )


def decode_record(data: Any, origin: str, where: str, *, lenient: bool) -> Iterator[LogBatch | Rejection]:
    """One base64 record. `lenient` (Firehose) also accepts uncompressed JSON or text in the record."""
    raw, strict_ok, rejection = b64decode(data, where)
    if raw is None:
        if rejection is not None:
            yield rejection
        return
    if not is_compressed(raw):
        if lenient and raw.strip():
            yield from _loose_record(raw, origin, where, depth=1)
        elif not strict_ok:
            yield input_rejection(Reason.INVALID_BASE64, data, "not valid base64", where)
        elif not raw:
            yield input_rejection(Reason.MISSING_DATA, data, "the record's data is empty", where)
        else:
            detail = (
                "base64 decodes to uncompressed JSON, expected gzip"
                if raw.lstrip()[:1] in (b"{", b"[")
                else "base64 decodes to data that is neither gzip nor zlib"
            )
            yield input_rejection(Reason.NOT_COMPRESSED, raw, detail, where)
        return
    inflated = inflate(raw, MAX_SUBSCRIPTION_BYTES)
    if lenient and inflated.problem != Reason.TOO_LARGE and inflated.data:
        # Firehose: whatever the record holds (payloads, or text after message extraction).
        yield from _loose_record(inflated.data, origin, where, depth=1)
        if inflated.problem:
            yield input_rejection(inflated.problem, data, inflated.detail, where)
        return
    if inflated.problem is None:
        buf = inflated.data
        events = events_before_parsing(buf)
        if events > MAX_EVENTS_PER_RECORD:
            yield input_rejection(
                Reason.TOO_MANY_EVENTS, data, f"about {events} events, more than {MAX_EVENTS_PER_RECORD}", where
            )
            return
        try:
            doc = loads(buf)  # the fast path: one JSON document
        except (ValueError, RecursionError):
            yield from _payload_documents(buf, origin, where)
            return
        yield from payload_items(doc, origin, where)
        return
    if inflated.complete:
        yield from _payload_documents(inflated.data[: inflated.complete], origin, where)
    yield input_rejection(inflated.problem, data, inflated.detail, where)


def events_before_parsing(buf: bytes) -> int:
    """How many log events a decompressed record holds, counted before it is parsed (0 when it is too
    small to hold more than MAX_EVENTS_PER_RECORD).

    Every event has a message key. Counting them costs ~0.4 ms per MB, so only a buffer big enough to hold
    more events than the cap (each at least _MIN_EVENT_BYTES) is counted.
    """
    return buf.count(b'"message"') if len(buf) > MAX_EVENTS_PER_RECORD * _MIN_EVENT_BYTES else 0


def _payload_documents(buf: Any, origin: str, where: str) -> Iterator[LogBatch | Rejection]:
    """Slow path: several concatenated payloads, invalid UTF-8, or broken JSON."""
    for doc, start, end, error in iter_documents(buf):
        if doc is BROKEN:
            yield input_rejection(Reason.INVALID_JSON, memoryview(buf)[start:end], f"invalid JSON: {error}", where)
        else:
            yield from payload_items(doc, origin, where)


def batches_from_lambda_event(event: Any) -> Iterator[tuple[str | None, LogBatch | Rejection]]:
    """The analyzer Lambda's input -> (item id, batch or rejection) pairs.

    - `{"awslogs": {"data": ...}}` -> (None, ...) per payload.
    - Kinesis `{"Records": [{"kinesis": {"data", "sequenceNumber"}}]}` -> (sequenceNumber, ...): the
      identifier a `batchItemFailures` response names.
    - Firehose `{"records": [{"recordId", "data"}]}` (also the Firehose HTTP-endpoint body, whose
      records carry no recordId) -> (recordId, ...). Firehose records may also hold uncompressed JSON
      or text (Firehose decompression / message extraction).
    - Anything else -> (None, Rejection(reason="unknown-event-shape")).
    A record that only holds a CONTROL_MESSAGE yields nothing. Never raises.
    """
    try:
        yield from lambda_event_items(event, None)
    except Exception as exc:  # last-resort guard
        yield None, input_rejection(Reason.INTERNAL_ERROR, None, f"unexpected {type(exc).__name__} while decoding", "-")


def lambda_event_items(event: Any, where: str | None) -> Iterator[tuple[str | None, LogBatch | Rejection]]:
    """`where` names the input in rejections (a file name); None means "use the record's origin"."""
    if isinstance(event, Mapping):
        awslogs = event.get("awslogs")
        if isinstance(awslogs, Mapping):
            at = where or ORIGIN_SUBSCRIPTION
            data = awslogs.get("data")
            if data is None:
                yield None, input_rejection(Reason.MISSING_DATA, awslogs, "awslogs has no data", at)
                return
            for item in decode_record(data, ORIGIN_SUBSCRIPTION, at, lenient=False):
                yield None, item
            return
        records = event.get("Records")
        if isinstance(records, list) and records and isinstance(records[0], Mapping) and "kinesis" in records[0]:
            for record in records:
                yield from _kinesis_record(record, where or ORIGIN_KINESIS)
            return
        records = event.get("records")
        if isinstance(records, list):
            for record in records:
                yield from _firehose_record(record, where or ORIGIN_FIREHOSE)
            return
    yield (
        None,
        input_rejection(
            Reason.UNKNOWN_EVENT_SHAPE, event, "expected an awslogs, Kinesis or Firehose event", where or "-"
        ),
    )


def _kinesis_record(record: Any, where: str) -> Iterator[tuple[str | None, LogBatch | Rejection]]:
    kinesis = record.get("kinesis") if isinstance(record, Mapping) else None
    if not isinstance(kinesis, Mapping):
        yield (
            None,
            input_rejection(Reason.UNKNOWN_EVENT_SHAPE, record, "a Records entry is not a Kinesis record", where),
        )
        return
    seq = as_text(kinesis.get("sequenceNumber"))
    if seq is None:
        event_id = as_text(record.get("eventID"))
        seq = event_id.rpartition(":")[2] if event_id else None
    data = kinesis.get("data")
    if data is None:
        yield seq, input_rejection(Reason.MISSING_DATA, kinesis, "Kinesis record has no data", where)
        return
    for item in decode_record(data, ORIGIN_KINESIS, where, lenient=False):
        yield seq, item


def _firehose_record(record: Any, where: str) -> Iterator[tuple[str | None, LogBatch | Rejection]]:
    if not isinstance(record, Mapping):
        yield None, input_rejection(Reason.MISSING_DATA, record, "Firehose record is not an object", where)
        return
    record_id = as_text(record.get("recordId"))
    data = record.get("data")
    if data is None:
        yield record_id, input_rejection(Reason.MISSING_DATA, record, "Firehose record has no data", where)
        return
    for item in decode_record(data, ORIGIN_FIREHOSE, where, lenient=True):
        yield record_id, item


def _loose_record(buf: Any, origin: str, where: str, *, depth: int) -> Iterator[LogBatch | Rejection]:
    """What a Firehose record may hold besides a gzip payload: another compression layer (Firehose's
    own over CloudWatch's), payload JSON Firehose already decompressed, or message text after
    Firehose's message extraction (one log event per non-blank line)."""
    if is_compressed(buf) and depth < _MAX_NESTING:
        inflated = inflate(buf, MAX_SUBSCRIPTION_BYTES)
        if inflated.data and inflated.problem != Reason.TOO_LARGE:
            yield from _loose_record(inflated.data, origin, where, depth=depth + 1)
        if inflated.problem:
            yield input_rejection(inflated.problem, buf, inflated.detail, where)
        return
    start = skip_whitespace(buf, 0)
    if buf[start : start + 1] in (b"{", b"["):
        documents = list(iter_documents(buf, start))
        if all(doc is not BROKEN and _is_payload_document(doc) for doc, _, _, _ in documents):
            for doc, _, _, _ in documents:
                yield from payload_items(doc, origin, where)
            return
    lines = [line for line in str(buf, "utf-8", "replace").splitlines() if line.strip()]
    if lines:
        yield LogBatch(events=tuple(map(LogEvent, lines)), origin=origin)


def _is_payload_document(doc: Any) -> bool:
    return is_cwl_payload(doc) or (isinstance(doc, list) and bool(doc) and all(map(is_cwl_payload, doc)))

"""Files, stdin and exports in; `LogBatch`es out — what the `gatewatch` command reads besides Lambda events.

Auto-detected, in this order: gzip/zlib (several members, nested up to three layers), JSON documents
(CloudWatch Logs payloads, subscription/Kinesis/Firehose events, `aws logs filter-log-events` /
`get-log-events` output, Logs Insights JSON and `get-query-results`, a JSON array of entries),
a Logs Insights CSV export, and plain text (one log entry per line). Anything unreadable becomes a
counted `Rejection(source="input")` naming the file; nothing raises.

The Lambda never runs this module: the analyzer's input is only ever a Lambda event
(`gatewatch.ingest.lambda_events`), so these formats stay out of its asset.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Generator, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any, BinaryIO

from gatewatch.ingest.codec import BROKEN, dumps, inflate, is_compressed, iter_documents, skip_whitespace
from gatewatch.ingest.lambda_events import lambda_event_items
from gatewatch.ingest.payloads import as_epoch_ms, as_message, as_text, is_cwl_payload, kind_for_log_group, read_payload
from gatewatch.ingest.rejections import Reason, input_rejection
from gatewatch.models import LogBatch, LogEvent, LogKind, Rejection
from gatewatch.naming import execution_log_group_ids
from gatewatch_cli.pasted import PastedLine, normalize_lines, table_rows
from gatewatch_cli.streams import (
    MAX_FILE_BYTES,
    MAX_LINE_BYTES,
    MAX_WHOLE_INPUT,
    Inflating,
    Peeking,
    first_line_is_json,
)

#: Plain text, filter-log-events and Insights inputs are yielded in batches of at most this many events.
TEXT_BATCH_EVENTS = 10_000

# Batch origins (LogBatch.origin) of file inputs.
ORIGIN_PAYLOAD = "payload"  # a decoded CloudWatch Logs payload read from a file
ORIGIN_FILTER_LOG_EVENTS = "filter-log-events"
ORIGIN_GET_LOG_EVENTS = "get-log-events"
ORIGIN_INSIGHTS = "insights"
ORIGIN_INSIGHTS_PROJECTION = "insights-projection"  # rows of access-log fields a query projected
ORIGIN_JSON = "json"  # a JSON array of log entries (objects or strings)
ORIGIN_TEXT = "text"
ORIGIN_TEST_INVOKE = "test-invoke"  # the JSON `aws apigateway test-invoke-method` prints
ORIGIN_FRAGMENT = "fragment"  # "key": "value" pairs out of JSON access lines, pasted alone

_UTF8_BOM = b"\xef\xbb\xbf"
_SNIFF_BYTES = 8192
_MAX_REJOINED_DOCUMENT = 1 << 20  # a single pretty-printed JSON object up to this size is kept as one entry
_MAX_CSV_ERRORS = 10
_CSV_FIELD_LIMIT = 16 * 1024 * 1024
_MAX_NESTING = 3  # gzip inside gzip inside ...
_MAX_PASTED_TABLE = 64 * 1024 * 1024  # a table pasted from the console is read whole


def iter_input_batches(data: bytes, *, name: str = "-", log_group: str | None = None) -> Iterator[LogBatch | Rejection]:
    """Auto-detect what a file or stdin holds and yield its batches (see the module docstring).

    `log_group` (optional) names the group for inputs that do not carry one (filter-log-events,
    get-log-events, Insights exports without `@log`, plain text); it also sets the kind. Rejections
    carry `origin=name`. Never raises.
    """
    try:
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogatepass")
        elif isinstance(data, memoryview):
            data = data.tobytes()
        elif not isinstance(data, (bytes, bytearray)):
            data = bytes(data)
        yield from _iter_input(
            data, where=name, log_group=log_group, depth=0, text_origin=ORIGIN_TEXT, payload_origin=ORIGIN_PAYLOAD
        )
    except Exception as exc:  # last-resort guard
        yield input_rejection(
            Reason.INTERNAL_ERROR, None, f"unexpected {type(exc).__name__} while reading the input", name
        )


def iter_path_batches(path: str, *, log_group: str | None = None) -> Iterator[LogBatch | Rejection]:
    """A file (or "-" for stdin) read as a stream: memory bounded, whatever its size (see gatewatch_cli.streams).
    Raises OSError when the file cannot be opened; never for what it holds."""
    if path == "-":
        yield from iter_stream_batches(sys.stdin.buffer, name="-", log_group=log_group)
        return
    with open(path, "rb") as stream:
        yield from iter_stream_batches(stream, name=path, log_group=log_group)


def iter_stream_batches(
    stream: BinaryIO, *, name: str = "-", log_group: str | None = None
) -> Iterator[LogBatch | Rejection]:
    """`iter_input_batches` for a binary stream, read window by window. Never raises."""
    try:
        yield from _stream_input(Peeking.open(stream), where=name, log_group=log_group, depth=0)
    except Exception as exc:  # last-resort guard
        yield input_rejection(
            Reason.INTERNAL_ERROR, None, f"unexpected {type(exc).__name__} while reading the input", name
        )


def _stream_input(reader: Peeking, *, where: str, log_group: str | None, depth: int) -> Iterator[LogBatch | Rejection]:
    head = reader.buffer
    if is_compressed(head) and depth < _MAX_NESTING and (head[:1] == b"\x1f" or _looks_binary(head[:_SNIFF_BYTES])):
        inflating = Inflating(reader, b"", cap=MAX_FILE_BYTES)
        inner = Peeking.open(inflating)
        if inner.buffer:
            yield from _stream_input(inner, where=where, log_group=log_group, depth=depth + 1)
        if inflating.problem:
            yield input_rejection(inflating.problem, None, inflating.detail, where)
        return
    start = 3 if head[:3] == _UTF8_BOM else 0
    pos = skip_whitespace(head, start)
    if pos >= len(head):
        return
    first = head[pos : pos + 1]
    if first in (b"{", b"["):
        line = first_line_is_json(head[pos:])
        if line is not None:  # JSON Lines: one document or one access line per line, streamed
            yield from _json_lines(reader, line, where=where, log_group=log_group)
            return
    elif not (first in (b"|", b"@") or _looks_like_insights_csv(head, pos)):
        if _looks_binary(head[start : start + _SNIFF_BYTES]):
            yield input_rejection(
                Reason.UNRECOGNISED_INPUT, head, "binary data that is neither gzip, zlib, JSON nor text", where
            )
            return
        yield from _line_batches(_decoded(reader.lines()), origin=ORIGIN_TEXT, log_group=log_group)
        yield from _overlong(reader, where)
        return
    whole = reader.read_all(MAX_WHOLE_INPUT)
    if whole is None:
        yield input_rejection(
            Reason.TOO_LARGE,
            head,
            f"one JSON document or table larger than {MAX_WHOLE_INPUT >> 20} MiB: export it as JSON Lines "
            "(one document or log line per line), which is read as a stream",
            where,
        )
        return
    yield from _iter_input(
        whole, where=where, log_group=log_group, depth=depth, text_origin=ORIGIN_TEXT, payload_origin=ORIGIN_PAYLOAD
    )


def _json_lines(reader: Peeking, first: Any, *, where: str, log_group: str | None) -> Iterator[LogBatch | Rejection]:
    """JSON Lines: when the first line is a CloudWatch document, each line is one (read on its own);
    otherwise the lines are log lines (JSON access lines), read as text."""
    if not _is_document_shape(first):
        yield from _line_batches(_decoded(reader.lines()), origin=ORIGIN_TEXT, log_group=log_group)
        yield from _overlong(reader, where)
        return
    for raw in reader.lines():
        if raw.strip():
            yield from _iter_input(
                raw,
                where=where,
                log_group=log_group,
                depth=_MAX_NESTING,
                text_origin=ORIGIN_TEXT,
                payload_origin=ORIGIN_PAYLOAD,
            )


def _overlong(reader: Peeking, where: str) -> Iterator[Rejection]:
    if reader.overlong:
        yield input_rejection(
            Reason.LINE_TOO_LONG,
            None,
            f"{reader.overlong} line(s) longer than {MAX_LINE_BYTES >> 20} MiB skipped (not log lines)",
            where,
        )


def _decoded(lines: Iterable[bytes]) -> Iterator[str]:
    first = True
    for raw in lines:
        if first and raw.startswith(_UTF8_BOM):
            raw = raw[len(_UTF8_BOM) :]
        first = False
        yield raw.decode("utf-8", "replace").rstrip("\r")


def _iter_input(
    buf: Any, *, where: str, log_group: str | None, depth: int, text_origin: str, payload_origin: str
) -> Iterator[LogBatch | Rejection]:
    if is_compressed(buf) and depth < _MAX_NESTING:
        handled = yield from _compressed_input(
            buf, where=where, log_group=log_group, depth=depth, text_origin=text_origin, payload_origin=payload_origin
        )
        if handled:
            return
    start = 3 if buf[:3] == _UTF8_BOM else 0
    pos = skip_whitespace(buf, start)
    if pos >= len(buf):
        return
    handled = yield from _structured_input(buf, pos, where=where, log_group=log_group, payload_origin=payload_origin)
    if handled:
        return
    if _looks_binary(buf[start : start + _SNIFF_BYTES]):
        yield input_rejection(
            Reason.UNRECOGNISED_INPUT, buf, "binary data that is neither gzip, zlib, JSON nor text", where
        )
        return
    yield from _text_batches(buf, start, origin=text_origin, log_group=log_group)


def _compressed_input(
    buf: Any, *, where: str, log_group: str | None, depth: int, text_origin: str, payload_origin: str
) -> Generator[LogBatch | Rejection, None, bool]:
    """gzip or zlib: the inflated content (False: text that merely starts like a zlib header, as
    "(4f3e..." does — read it as text)."""
    inflated = inflate(buf, MAX_FILE_BYTES)
    if inflated.problem and buf[0] != 0x1F and not _looks_binary(buf[:_SNIFF_BYTES]):
        return False
    if inflated.problem == Reason.TOO_LARGE or (inflated.problem and not inflated.data):
        yield input_rejection(inflated.problem, buf, inflated.detail, where)
        return True
    # A truncated file keeps what could be read: text lines, complete JSON documents.
    yield from _iter_input(
        inflated.data,
        where=where,
        log_group=log_group,
        depth=depth + 1,
        text_origin=text_origin,
        payload_origin=payload_origin,
    )
    if inflated.problem:
        yield input_rejection(inflated.problem, buf, inflated.detail, where)
    return True


def _structured_input(
    buf: Any, pos: int, *, where: str, log_group: str | None, payload_origin: str
) -> Generator[LogBatch | Rejection, None, bool]:
    """JSON documents, a Logs Insights CSV export or a pasted table (False: none of them: text)."""
    first = buf[pos]
    if first == 0x7B or first == 0x5B:  # '{' or '['
        return (yield from _json_input(buf, pos, where=where, log_group=log_group, payload_origin=payload_origin))
    if _looks_like_insights_csv(buf, pos):
        yield from _insights_csv(buf, pos, where=where, log_group=log_group)
        return True
    if buf[pos : pos + 1] in (b"|", b"@") and len(buf) - pos <= _MAX_PASTED_TABLE:
        rows = table_rows(str(memoryview(buf)[pos:], "utf-8", "replace"))
        if rows is not None:
            yield from _insights_rows(rows, where=where, log_group=log_group)
            return True
    return False


def _json_input(
    buf: Any, pos: int, *, where: str, log_group: str | None, payload_origin: str
) -> Generator[LogBatch | Rejection, None, bool]:
    """JSON-looking input. Returns (generator return value) False when it is really plain text.

    A file whose documents are CloudWatch shapes (payloads, events, exports) is read as documents;
    a file of JSON access-log lines (objects that are none of those) is plain text.
    """
    documents = iter_documents(buf, pos)
    doc, _, end, _ = next(documents)
    if doc is BROKEN:
        return False
    if skip_whitespace(buf, end) >= len(buf):  # the whole input is one JSON document
        recognised = yield from _dispatch_document(
            doc, where=where, log_group=log_group, payload_origin=payload_origin, whole=True
        )
        if recognised:
            return True
        if isinstance(doc, dict) and end - pos <= _MAX_REJOINED_DOCUMENT:
            # One JSON object that is not a CloudWatch shape: a (possibly pretty-printed) log entry.
            text = str(memoryview(buf)[pos:end], "utf-8", "replace").strip()
            yield LogBatch(
                events=(LogEvent(text),), log_group=log_group, origin=ORIGIN_TEXT, kind=kind_for_log_group(log_group)
            )
            return True
        return False
    if not _is_document_shape(doc):
        return False
    yield from _dispatch_document(doc, where=where, log_group=log_group, payload_origin=payload_origin, whole=False)
    for doc, start, end, error in documents:
        if doc is BROKEN:
            yield input_rejection(
                Reason.INVALID_JSON, memoryview(buf)[start:end], f"invalid JSON document: {error}", where
            )
            continue
        recognised = yield from _dispatch_document(
            doc, where=where, log_group=log_group, payload_origin=payload_origin, whole=False
        )
        if not recognised:
            yield input_rejection(
                Reason.NOT_A_PAYLOAD, doc, "a JSON document among CloudWatch documents is not one", where
            )
    return True


def _is_document_shape(doc: Any) -> bool:
    """Is this JSON value one of the CloudWatch shapes (and not, say, a JSON access-log line)?"""
    if isinstance(doc, list):  # a list of documents (one level: never recurse into nested lists)
        return bool(doc) and all(isinstance(d, dict) and _is_document_shape(d) for d in islice(doc, 4))
    if not isinstance(doc, dict):
        return False
    if is_cwl_payload(doc):
        return True
    if isinstance(doc.get("awslogs"), Mapping):
        return True
    if isinstance(doc.get("log"), str) and "Execution log for request" in doc["log"][:200]:
        return True  # test-invoke-method output
    for key in ("Records", "records", "events", "results"):
        value = doc.get(key)
        if isinstance(value, list) and (not value or isinstance(value[0], (Mapping, list))):
            return True
    return False


def _dispatch_document(
    doc: Any, *, where: str, log_group: str | None, payload_origin: str, whole: bool
) -> Generator[LogBatch | Rejection, None, bool]:
    """Yield the batches of one recognised JSON document; returns False if the shape is unknown."""
    if isinstance(doc, list):
        return (
            yield from _document_list(doc, where=where, log_group=log_group, payload_origin=payload_origin, whole=whole)
        )
    if not isinstance(doc, dict):
        return False
    if is_cwl_payload(doc):
        got = read_payload(doc, payload_origin, where)
        if got is not None:
            yield _with_default_group(got, log_group)
        return True
    if (
        isinstance(doc.get("awslogs"), Mapping)
        or isinstance(doc.get("Records"), list)
        or isinstance(doc.get("records"), list)
    ):
        for _, item in lambda_event_items(doc, where):
            yield item
        return True
    for shape in (_log_events_document, _test_invoke_document, _query_results_document):
        batches = shape(doc, where=where, log_group=log_group)
        if batches is not None:
            yield from batches
            return True
    return False


def _document_list(
    doc: list[Any], *, where: str, log_group: str | None, payload_origin: str, whole: bool
) -> Generator[LogBatch | Rejection, None, bool]:
    """A JSON array: Insights rows, documents, or log entries (each entry one event)."""
    if not doc:
        return True
    if all(isinstance(d, Mapping) and "@message" in d for d in doc):
        yield from _insights_rows(doc, where=where, log_group=log_group)
        return True
    if not whole and not _is_document_shape(doc):
        return False
    loose: list[LogEvent] = []  # entries that are not documents: each one log entry
    for item in doc:
        recognised = False
        if isinstance(item, dict) and _is_document_shape(item):
            recognised = yield from _dispatch_document(
                item, where=where, log_group=log_group, payload_origin=payload_origin, whole=False
            )
        if not recognised:
            loose.append(LogEvent(as_message(item)))
            if len(loose) >= TEXT_BATCH_EVENTS:
                yield _plain_batch(loose, ORIGIN_JSON, log_group)
                loose = []
    if loose:
        yield _plain_batch(loose, ORIGIN_JSON, log_group)
    return True


def _log_events_document(doc: dict[str, Any], *, where: str, log_group: str | None) -> Iterator[LogBatch] | None:
    """`aws logs filter-log-events` / `get-log-events` output."""
    events = doc.get("events")
    if not isinstance(events, list):
        return None
    paged = "nextForwardToken" in doc or "nextBackwardToken" in doc
    return _log_events_output(
        events, origin=ORIGIN_GET_LOG_EVENTS if paged else ORIGIN_FILTER_LOG_EVENTS, log_group=log_group
    )


def _test_invoke_document(doc: dict[str, Any], *, where: str, log_group: str | None) -> Iterator[LogBatch] | None:
    """`aws apigateway test-invoke-method` output: the execution log of the test call in one string."""
    log = doc.get("log")
    if not (isinstance(log, str) and "Execution log for request" in log[:200]):
        return None
    events = tuple(LogEvent(line.message, line.timestamp) for line in normalize_lines(log.split("\n")))
    return iter(
        [LogBatch(events=events, log_group=log_group, origin=ORIGIN_TEST_INVOKE, kind=LogKind.UNKNOWN)]
        if events
        else []
    )


def _query_results_document(
    doc: dict[str, Any], *, where: str, log_group: str | None
) -> Iterator[LogBatch | Rejection] | None:
    """`aws logs get-query-results` (rows of {"field", "value"}), or one Insights row."""
    results = doc.get("results")
    if isinstance(results, list) and all(isinstance(r, list) for r in results):
        rows = [{c.get("field"): c.get("value") for c in r if isinstance(c, Mapping)} for r in results]
        return _insights_rows(rows, where=where, log_group=log_group)
    if "@message" in doc:
        return _insights_rows([doc], where=where, log_group=log_group)
    return None


def _with_default_group(batch: LogBatch | Rejection, log_group: str | None) -> LogBatch | Rejection:
    if log_group is None or not isinstance(batch, LogBatch) or batch.log_group:
        return batch
    return LogBatch(
        events=batch.events,
        log_group=log_group,
        log_stream=batch.log_stream,
        owner=batch.owner,
        origin=batch.origin,
        kind=kind_for_log_group(log_group),
    )


def _plain_batch(
    events: list[LogEvent], origin: str, log_group: str | None, log_stream: str | None = None, owner: str | None = None
) -> LogBatch:
    return LogBatch(
        events=tuple(events),
        log_group=log_group,
        log_stream=log_stream,
        owner=owner,
        origin=origin,
        kind=kind_for_log_group(log_group),
    )


def _grouped_batches(
    rows: Iterable[tuple[str | None, str | None, str | None, LogEvent]], origin: str
) -> Iterator[LogBatch]:
    """Group (log group, stream, owner, event) rows into batches, keeping each stream's order."""
    groups: dict[tuple[str | None, str | None, str | None], list[LogEvent]] = {}
    for group, stream, owner, event in rows:
        key = (group, stream, owner)
        bucket = groups.get(key)
        if bucket is None:
            bucket = groups[key] = []
        bucket.append(event)
        if len(bucket) >= TEXT_BATCH_EVENTS:
            yield _plain_batch(bucket, origin, group, stream, owner)
            groups[key] = []
    for (group, stream, owner), bucket in groups.items():
        if bucket:
            yield _plain_batch(bucket, origin, group, stream, owner)


def _log_events_output(events: list, *, origin: str, log_group: str | None) -> Iterator[LogBatch]:
    """`aws logs filter-log-events` / `get-log-events` output: {"events": [{timestamp, message, ...}]}."""

    def rows() -> Iterator[tuple[str | None, str | None, str | None, LogEvent]]:
        for e in events:
            if isinstance(e, Mapping):
                yield (
                    log_group,
                    as_text(e.get("logStreamName")),
                    None,
                    LogEvent(as_message(e.get("message")), as_epoch_ms(e.get("timestamp")), as_text(e.get("eventId"))),
                )
            else:
                yield log_group, None, None, LogEvent(as_message(e))

    yield from _grouped_batches(rows(), origin)


# -- Logs Insights -----------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


def _insights_timestamp(value: Any) -> int | None:
    """ "2023-06-09 12:54:08.000" (UTC, as Insights exports it), ISO 8601, or epoch ms -> epoch ms."""
    ms = as_epoch_ms(value)
    if ms is not None or not isinstance(value, str):
        return ms
    text = value.strip()
    if not 10 <= len(text) <= 40:
        return None
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return (parsed - _EPOCH) // _ONE_MS


def _insights_rows(rows: list[Any], *, where: str, log_group: str | None) -> Iterator[LogBatch | Rejection]:
    """Insights results (export JSON, CSV rows, get-query-results, pasted tables).

    Rows with `@message` are log events: `@timestamp`, `@logStream`, `@log` ("account:logGroupName"), or
    a column holding an execution-log group name, say where they came from. Insights sorts newest first
    by default; a descending export is put back in arrival order so execution-log lines of one request
    read top to bottom. Rows without `@message` are a projection of access-log fields (`fields status,
    error.responseType, ...`): each becomes one access entry of those fields.
    """
    mappings = [row for row in rows if isinstance(row, Mapping)]
    if mappings and not any("@message" in row for row in mappings):
        yield from _projection_rows(mappings, log_group)
        return
    converted: list[tuple[str | None, str | None, str | None, LogEvent]] = []
    for row in mappings:
        group, owner = _row_group(row, log_group)
        converted.append(
            (
                group,
                as_text(row.get("@logStream")),
                owner,
                LogEvent(as_message(row.get("@message")), _insights_timestamp(row.get("@timestamp"))),
            )
        )
    stamps = [r[3].timestamp for r in converted if r[3].timestamp is not None]
    if len(stamps) >= 2 and stamps[0] > stamps[-1]:
        converted.reverse()
    yield from _grouped_batches(converted, ORIGIN_INSIGHTS)


def _row_group(row: Mapping[str, Any], log_group: str | None) -> tuple[str | None, str | None]:
    """(log group, owner account) of an Insights row."""
    log = row.get("@log")
    if isinstance(log, str) and log:
        account, sep, name = log.partition(":")
        return (name, account or None) if sep and name else (log, None)
    for value in row.values():  # e.g. `parse @log ":*" as stream` projects the group under another name
        if isinstance(value, str) and execution_log_group_ids(value.strip()) is not None:
            return value.strip(), None
    return log_group, None


def _projection_rows(rows: list[Mapping[str, Any]], log_group: str | None) -> Iterator[LogBatch]:
    events = []
    for row in rows:
        fields = {str(k): v for k, v in row.items() if not str(k).startswith("@") and v not in (None, "")}
        events.append(LogEvent(dumps(fields), _insights_timestamp(row.get("@timestamp"))))
    for start in range(0, len(events), TEXT_BATCH_EVENTS):
        yield LogBatch(
            events=tuple(events[start : start + TEXT_BATCH_EVENTS]),
            log_group=log_group,
            origin=ORIGIN_INSIGHTS_PROJECTION,
            kind=LogKind.ACCESS,
        )


def _looks_like_insights_csv(buf: Any, pos: int) -> bool:
    line_end = buf.find(b"\n", pos, pos + 4096)
    header = bytes(buf[pos : line_end if line_end >= 0 else pos + 4096])
    if b"@message" not in header:
        return False
    try:
        cells = next(csv.reader([header.decode("utf-8", "replace").rstrip("\r")]))
    except (csv.Error, StopIteration):
        return False
    return "@message" in (c.strip() for c in cells)


def _insights_csv(buf: Any, pos: int, *, where: str, log_group: str | None) -> Iterator[LogBatch | Rejection]:
    """A Logs Insights CSV export (header row with @timestamp,@message,...); quoted fields may hold
    commas, quotes and newlines, so the csv module reads it, streaming from the buffer."""
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(_CSV_FIELD_LIMIT)  # messages can reach 256 KB+; the default limit is 128 KB
    stream = io.TextIOWrapper(io.BytesIO(buf), encoding="utf-8-sig", errors="replace", newline="")
    reader = csv.reader(stream)
    rows: list[dict[str, str]] = []
    errors = 0
    header: list[str] | None = None
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors += 1
            yield input_rejection(
                Reason.INVALID_CSV, None, f"unreadable CSV row near line {reader.line_num}: {exc}", where
            )
            if errors >= _MAX_CSV_ERRORS:
                break
            continue
        if header is None:
            if any(c.strip() for c in cells):
                header = [c.strip() for c in cells]
            continue
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue
        rows.append(dict(zip(header, cells, strict=False)))
    yield from _insights_rows(rows, where=where, log_group=log_group)


# -- plain text --------------------------------------------------------------------------------------

TEXT_WINDOW_BYTES = 4 * 1024 * 1024
_BINARY_CONTROL = frozenset(range(0x00, 0x20)) - {0x09, 0x0A, 0x0C, 0x0D, 0x1B}


def _looks_binary(sample: bytes) -> bool:
    """More than 10 % control bytes (NUL included) or invalid UTF-8: not a log file.

    A text file with a few stray bytes stays text (its odd lines are counted downstream); a
    multi-byte character cut at the end of the sample is not held against it.
    """
    sample = bytes(sample)
    if not sample:
        return False
    odd = sum(1 for b in sample if b in _BINARY_CONTROL)
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError:
        odd += len(sample[:-3]) - len(sample[:-3].decode("utf-8", "ignore").encode("utf-8"))
    return odd * 10 > len(sample)


def _text_batches(buf: Any, start: int, *, origin: str, log_group: str | None) -> Iterator[LogBatch]:
    """The log events of text, in batches of TEXT_BATCH_EVENTS; decoded window by window.

    Each line goes through `pasted.normalize_lines` (viewer prefixes, quotes, joined console lines, blank
    lines kept as boundaries); a line that names its own log group (awslogs) starts a batch of that group.
    """
    yield from _line_batches(_text_lines(buf, start), origin=origin, log_group=log_group)


def _line_batches(lines: Iterable[str], *, origin: str, log_group: str | None) -> Iterator[LogBatch]:
    batches = _TextBatcher(origin, log_group)
    for line in normalize_lines(lines):
        yield from batches.add(line)
    yield from batches.flush()


def _text_lines(buf: Any, start: int) -> Iterator[str]:
    mv = memoryview(buf)
    n = len(buf)
    pos = start
    while pos < n:
        end = pos + TEXT_WINDOW_BYTES
        if end < n:
            cut = buf.rfind(b"\n", pos, end)
            if cut < 0:
                cut = buf.find(b"\n", end)
            end = n if cut < 0 else cut + 1
        else:
            end = n
        lines = str(mv[pos:end], "utf-8", "replace").split("\n")
        if lines[-1] == "":  # the window ended with a line end: no line follows it in this window
            lines.pop()
        yield from lines
        pos = end


class _TextBatcher:
    """Collects pasted lines into batches: one per log group in a row, fragments apart, at most TEXT_BATCH_EVENTS."""

    def __init__(self, origin: str, log_group: str | None) -> None:
        self.origin = origin
        self.default_group = log_group
        self.group = log_group
        self.fragment = False
        self.pending: list[LogEvent] = []

    def add(self, line: PastedLine) -> Iterator[LogBatch]:
        # a line names its group (awslogs), else it is the input's; a blank boundary stays with its neighbours
        group = line.log_group or (self.group if not line.message else self.default_group)
        if self.pending and (group != self.group or line.fragment != self.fragment):
            yield from self.flush()
        self.group, self.fragment = group, line.fragment
        self.pending.append(LogEvent(line.message, line.timestamp))
        if len(self.pending) >= TEXT_BATCH_EVENTS:
            yield from self.flush()

    def flush(self) -> Iterator[LogBatch]:
        if self.pending:
            kind = LogKind.ACCESS if self.fragment else kind_for_log_group(self.group)
            origin = ORIGIN_FRAGMENT if self.fragment else self.origin
            yield LogBatch(events=tuple(self.pending), log_group=self.group, origin=origin, kind=kind)
            self.pending = []

"""Input decoding: whatever arrives (a Lambda event, a file, stdin) becomes `LogBatch`es.

Why this module exists: the same engine reads CloudWatch Logs subscription deliveries
(`{"awslogs": {"data": base64(gzip(json))}}`), Kinesis and Firehose records carrying those payloads,
Firehose->S3 objects (gzip members and JSON documents glued together), `aws logs filter-log-events`
/ `get-log-events` output, Logs Insights exports (JSON, CSV) and plain text. Each becomes a
`LogBatch` of `LogEvent`s with the log group, the stream and the kind (execution logs are recognised
by their group name). Anything unreadable becomes a `Rejection(source="input", reason=<slug>)`
with a short redacted sample: nothing here raises, and one bad record never loses the others.

Hot path (the analyzer Lambda, `decode_subscription_data`): one `binascii.a2b_base64`, one
`zlib` pass with auto-detected gzip/zlib header and a size cap, one `orjson.loads` of the whole
buffer, then a tight loop that builds the `LogEvent`s. Everything else (several gzip members,
several JSON documents, invalid UTF-8, odd event shapes) only runs after the fast path failed.

Linear time, always: JSON documents are separated by searching for `}` + `{` boundaries with one
precompiled regex and validated by the JSON parser on a bounded slice; when a boundary falls inside
a string too often, a structural scanner (string-aware, `bytes.find` based) finds the real end.
gzip members are fed in bounded chunks so `unused_data` is never re-copied. Plain text is decoded
window by window and yielded in batches of `TEXT_BATCH_EVENTS`, so a 500 MB file is not copied
five times.
"""

from __future__ import annotations

import binascii
import csv
import io
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from itertools import islice
from operator import itemgetter, methodcaller
from typing import Any

from gatewatch.constants import EXECUTION_LOG_GROUP_PREFIX, SOURCE_INPUT
from gatewatch.models import LogBatch, LogEvent, LogEvents, LogKind, Rejection
from gatewatch.redact import short_sample

try:  # orjson is 2-3x faster than json and is the floor the Lambda path is measured against
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised only where orjson is missing
    _orjson = None

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_SUBSCRIPTION_BYTES",
    "TEXT_BATCH_EVENTS",
    "Reason",
    "batch_from_payload",
    "batches_from_lambda_event",
    "decode_subscription_data",
    "execution_log_group_ids",
    "iter_input_batches",
    "kind_for_log_group",
]

# ---------------------------------------------------------------------------------------------------
# Limits and names
# ---------------------------------------------------------------------------------------------------

#: Decompressed size cap for one subscription/Kinesis/Firehose record (decompression-bomb guard).
#: A real delivery is at most ~1 MB of log text plus JSON overhead.
MAX_SUBSCRIPTION_BYTES = 64 * 1024 * 1024
#: Decompressed size cap for a gzip file given to the CLI (S3 dumps can be large, but not unbounded).
MAX_FILE_BYTES = 2 * 1024 * 1024 * 1024
#: Plain text, filter-log-events and Insights inputs are yielded in batches of at most this many events.
TEXT_BATCH_EVENTS = 10_000
#: How much of an offending input a Rejection keeps (printable, redacted).
SAMPLE_CHARS = 80


class Reason:
    """The `Rejection.reason` slugs this module produces (public: tests, reports and logs use them)."""

    INVALID_BASE64 = "invalid-base64"
    NOT_COMPRESSED = "not-compressed"
    TRUNCATED = "truncated-compressed-data"
    CORRUPT = "corrupt-compressed-data"
    TRAILING_GARBAGE = "trailing-garbage"
    TOO_LARGE = "too-large"
    INVALID_JSON = "invalid-json"
    NOT_A_PAYLOAD = "not-a-cloudwatch-payload"
    MISSING_DATA = "missing-data"
    UNKNOWN_EVENT_SHAPE = "unknown-event-shape"
    UNRECOGNISED_INPUT = "unrecognised-input"
    INVALID_CSV = "invalid-csv"
    INTERNAL_ERROR = "internal-error"


# Batch origins (LogBatch.origin).
ORIGIN_SUBSCRIPTION = "subscription"
ORIGIN_KINESIS = "kinesis"
ORIGIN_FIREHOSE = "firehose"
ORIGIN_PAYLOAD = "payload"  # a decoded CloudWatch Logs payload read from a file
ORIGIN_FILTER_LOG_EVENTS = "filter-log-events"
ORIGIN_GET_LOG_EVENTS = "get-log-events"
ORIGIN_INSIGHTS = "insights"
ORIGIN_JSON = "json"  # a JSON array of log entries (objects or strings)
ORIGIN_TEXT = "text"

_DATA_MESSAGE = "DATA_MESSAGE"
_AUTO_WBITS = zlib.MAX_WBITS | 32  # gzip or zlib header, auto-detected (as Powertools does)
_INFLATE_CHUNK = 1 << 20  # multi-member gzip is fed in 1 MB slices: unused_data stays small
_UTF8_BOM = b"\xef\xbb\xbf"
_SNIFF_BYTES = 8192
_MAX_BOUNDARY_RETRIES = 16  # candidate "}{" boundaries tried per document before scanning structurally
_MAX_REJOINED_DOCUMENT = 1 << 20  # a single pretty-printed JSON object up to this size is kept as one entry
_MAX_CSV_ERRORS = 10
_CSV_FIELD_LIMIT = 16 * 1024 * 1024
_MAX_NESTING = 3  # gzip inside gzip inside ... (Firehose compression over CloudWatch's own gzip)

# ---------------------------------------------------------------------------------------------------
# JSON backend
# ---------------------------------------------------------------------------------------------------

if _orjson is not None:
    _loads = _orjson.loads  # accepts bytes, bytearray, memoryview and str without copying
    _JSONError: type[ValueError] = _orjson.JSONDecodeError

    def _dumps(value: Any) -> str:
        return _orjson.dumps(value).decode()
else:  # pragma: no cover
    import json as _json

    _JSONError = _json.JSONDecodeError

    def _loads(data: Any) -> Any:
        if not isinstance(data, str):
            data = str(data, "utf-8", "replace")
        return _json.loads(data)

    def _dumps(value: Any) -> str:
        return _json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


class _BadJSON(Exception):
    """A JSON parse failure, normalised across orjson and json."""

    def __init__(self, message: str, incomplete: bool) -> None:
        super().__init__(message)
        self.message = message
        self.incomplete = incomplete  # the text ended inside a value: a later boundary may complete it


def _parse_json(segment: Any) -> Any:
    """Parse one JSON document; invalid UTF-8 is replaced (U+FFFD) rather than losing the document."""
    try:
        return _loads(segment)
    except _JSONError as exc:
        msg = getattr(exc, "msg", str(exc))
        if "UTF-8" in msg and not isinstance(segment, str):
            try:
                return _loads(str(segment, "utf-8", "replace"))
            except _JSONError as again:
                exc, msg = again, getattr(again, "msg", str(again))
            except (ValueError, RecursionError) as again:
                raise _BadJSON(str(again), False) from None
        incomplete = "end of data" in msg or "EOF" in msg or msg.startswith("Unterminated")
        if not incomplete and _orjson is None:  # pragma: no cover
            incomplete = getattr(exc, "pos", 0) >= len(getattr(exc, "doc", "")) > 0
        raise _BadJSON(msg, incomplete) from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise _BadJSON(str(exc) or type(exc).__name__, False) from None


# ---------------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------------


def _reject(reason: str, sample: Any, detail: str, where: str) -> Rejection:
    return Rejection(source=SOURCE_INPUT, reason=reason, sample=_sample(sample), detail=detail, origin=where)


def _sample(value: Any) -> str:
    """First SAMPLE_CHARS printable, redacted characters of the offending input (never the whole thing)."""
    try:
        if value is None:
            return ""
        if isinstance(value, (memoryview, bytes, bytearray)):
            value = bytes(value[: SAMPLE_CHARS * 4])
        elif isinstance(value, Mapping):
            value = "{" + ", ".join(str(k)[:40] for k in islice(value, 8)) + "}"
        elif not isinstance(value, str):
            value = type(value).__name__ if isinstance(value, (list, tuple)) else str(value)[: SAMPLE_CHARS * 4]
        return short_sample(value, SAMPLE_CHARS)
    except Exception:  # a sample must never be the reason something raises
        return ""


def _is_zlib_header(b0: int, b1: int) -> bool:
    return (b0 & 0x0F) == 8 and (b0 >> 4) <= 7 and ((b0 << 8) | b1) % 31 == 0


def _is_compressed(buf: Any, at: int = 0) -> bool:
    if len(buf) - at < 2:
        return False
    b0, b1 = buf[at], buf[at + 1]
    return (b0 == 0x1F and b1 == 0x8B) or _is_zlib_header(b0, b1)


_WS_BETWEEN_DOCUMENTS = re.compile(rb"[ \t\r\n\x00,]*")


def _skip_ws(buf: Any, pos: int) -> int:
    return _WS_BETWEEN_DOCUMENTS.match(buf, pos).end()


def _as_str(value: Any) -> str | None:
    if value is None:
        return None
    if value.__class__ is str:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _as_ms(value: Any) -> int | None:
    """An epoch-millisecond timestamp from an int, a float or a digit string; anything else is None."""
    if value.__class__ is int:
        return value
    if isinstance(value, float) and value == value and abs(value) < 1e16:
        return int(value)
    if isinstance(value, str) and value.isdigit() and len(value) < 17:
        return int(value)
    return None


def _as_message(value: Any) -> str:
    """Coerce an event message to text: str as is, bytes decoded, None -> "", anything else as JSON.

    Why not drop odd events: the parse stage then counts them (LinesUnparsed) instead of them
    vanishing; a JSON object that someone's pipeline already parsed stays readable as JSON.
    """
    if value.__class__ is str:
        return value
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    try:
        return _dumps(value)
    except Exception:  # e.g. nested deeper than the encoder allows
        try:
            return str(value)
        except Exception:  # RecursionError on absurd nesting: keep a placeholder, count it downstream
            return f"<unreadable {type(value).__name__}>"


_event = LogEvent
_MESSAGE_OF = itemgetter("message")
_TIMESTAMP_OF = itemgetter("timestamp")
_ONLY_STR = frozenset({str})
_ONLY_INT = frozenset({int})


_ID_OF = itemgetter("id")
_ID_OR_NONE_OF = methodcaller("get", "id")


def _event_id(value: Any) -> str | None:
    return value if value.__class__ is str else _as_str(value)


def _fast_events(raw_events: list) -> LogEvents | None:
    """The common case as columns: every entry is {"message": str, "timestamp": int, ...}.

    Returns None when one entry differs (the caller then takes `_tolerant_events`). The columns are
    read and type-checked in C (`map`), and no LogEvent is made here (see models.LogEvents).
    """
    try:
        messages = list(map(_MESSAGE_OF, raw_events))
        timestamps = list(map(_TIMESTAMP_OF, raw_events))
    except (KeyError, TypeError, IndexError):  # an entry without one of them, or not an object
        return None
    try:
        ids = list(map(_ID_OF, raw_events))
    except KeyError:  # an entry without an id (itemgetter is 4x faster than .get, so this is the exception)
        ids = list(map(_ID_OR_NONE_OF, raw_events))
    if set(map(type, messages)) <= _ONLY_STR and set(map(type, timestamps)) <= _ONLY_INT:
        return LogEvents(messages, timestamps, ids, _event_id)
    return None


def _tolerant_events(raw_events: Iterable[Any]) -> tuple[LogEvent, ...]:
    """Every entry becomes exactly one LogEvent, whatever its shape (see `_as_message`)."""
    out = []
    for e in raw_events:
        if isinstance(e, Mapping):
            out.append(_event(_as_message(e.get("message")), _as_ms(e.get("timestamp")), _as_str(e.get("id"))))
        else:
            out.append(_event(_as_message(e)))
    return tuple(out)


# ---------------------------------------------------------------------------------------------------
# Log groups
# ---------------------------------------------------------------------------------------------------


def execution_log_group_ids(log_group: str | None) -> tuple[str, str] | None:
    """`API-Gateway-Execution-Logs_{apiId}/{stage}` -> (apiId, stage); anything else -> None.

    A leading "/" is tolerated (some tools print log groups as paths).
    """
    if not log_group or log_group.__class__ is not str:
        return None
    name = log_group[1:] if log_group[0] == "/" else log_group
    if not name.startswith(EXECUTION_LOG_GROUP_PREFIX):
        return None
    api_id, _sep, stage = name[len(EXECUTION_LOG_GROUP_PREFIX) :].partition("/")
    if not api_id or not stage or "/" in stage or api_id.strip() != api_id or stage.strip() != stage:
        return None
    return api_id, stage


def kind_for_log_group(log_group: str | None) -> LogKind:
    """EXECUTION for an execution-log group; UNKNOWN otherwise (access-log groups are user-named)."""
    return LogKind.EXECUTION if execution_log_group_ids(log_group) is not None else LogKind.UNKNOWN


# ---------------------------------------------------------------------------------------------------
# CloudWatch Logs payloads
# ---------------------------------------------------------------------------------------------------


def batch_from_payload(payload: Mapping, *, origin: str) -> LogBatch | Rejection | None:
    """A decoded CloudWatch Logs payload -> LogBatch; None for a CONTROL_MESSAGE; Rejection if not a payload.

    - `messageType` other than DATA_MESSAGE (CONTROL_MESSAGE health checks) -> None (skipped).
      A payload without `messageType` but with a `logEvents` list is read as data.
    - `policyLevel` is optional and `extractedFields` is ignored.
    - Every `logEvents` entry becomes exactly one LogEvent: a non-string message is coerced (None ->
      "", bytes decoded, numbers/objects -> compact JSON), a non-integer timestamp becomes None (digit
      strings and floats are converted), a non-object entry becomes an event whose message is its
      JSON text. Nothing is dropped silently: the parse stage counts what it cannot read.
    """
    return _batch_from_payload(payload, origin, origin)


def _batch_from_payload(payload: Any, origin: str, where: str) -> LogBatch | Rejection | None:
    if not isinstance(payload, Mapping):
        return _reject(Reason.NOT_A_PAYLOAD, payload, f"expected a JSON object, got {type(payload).__name__}", where)
    message_type = payload.get("messageType")
    raw_events = payload.get("logEvents")
    if message_type is not None:
        if message_type.__class__ is not str:
            return _reject(Reason.NOT_A_PAYLOAD, payload, "messageType is not a string", where)
        if message_type != _DATA_MESSAGE:
            return None
    elif raw_events is None:
        return _reject(Reason.NOT_A_PAYLOAD, payload, "no messageType and no logEvents", where)
    if raw_events.__class__ is not list:
        if raw_events is None:
            return _reject(Reason.NOT_A_PAYLOAD, payload, "DATA_MESSAGE without logEvents", where)
        if isinstance(raw_events, (tuple, list)):
            raw_events = list(raw_events)
        else:
            return _reject(Reason.NOT_A_PAYLOAD, payload, "logEvents is not a list", where)
    events = _fast_events(raw_events)
    if events is None:
        events = _tolerant_events(raw_events)
    log_group = _as_str(payload.get("logGroup"))
    return LogBatch(
        events=events,
        log_group=log_group,
        log_stream=_as_str(payload.get("logStream")),
        owner=_as_str(payload.get("owner")),
        origin=origin,
        kind=kind_for_log_group(log_group),
    )


def _is_cwl_payload(doc: Any) -> bool:
    """Strict: a dict that is a CloudWatch Logs payload (decides "document" vs "JSON access line")."""
    if not isinstance(doc, dict):
        return False
    if isinstance(doc.get("logEvents"), list):
        return True
    return doc.get("messageType") in (_DATA_MESSAGE, "CONTROL_MESSAGE")


def _payload_items(doc: Any, origin: str, where: str) -> Iterator[LogBatch | Rejection]:
    if doc.__class__ is list:
        for item in doc:
            got = _batch_from_payload(item, origin, where)
            if got is not None:
                yield got
        return
    got = _batch_from_payload(doc, origin, where)
    if got is not None:
        yield got


# ---------------------------------------------------------------------------------------------------
# base64 and compression
# ---------------------------------------------------------------------------------------------------


def _b64decode(data: Any, where: str) -> tuple[bytes | None, bool, Rejection | None]:
    """(raw bytes, was strictly valid base64, rejection). Line-wrapped base64 is accepted."""
    if isinstance(data, str):
        try:
            data = data.encode("ascii")
        except UnicodeEncodeError:
            return None, False, _reject(Reason.INVALID_BASE64, data, "data contains non-ASCII characters", where)
    elif not isinstance(data, (bytes, bytearray, memoryview)):
        return None, False, _reject(Reason.MISSING_DATA, data, f"data is {type(data).__name__}, not a string", where)
    try:
        return binascii.a2b_base64(data, strict_mode=True), True, None
    except (binascii.Error, ValueError):
        pass
    try:
        raw = binascii.a2b_base64(data)
    except (binascii.Error, ValueError) as exc:
        return None, False, _reject(Reason.INVALID_BASE64, data, f"not base64 ({exc})", where)
    return raw, False, None


class _Inflated:
    """The result of decompressing one buffer: data, how much of it came from complete members, problem."""

    __slots__ = ("complete", "data", "detail", "problem")

    def __init__(self, data: Any, complete: int, problem: str | None = None, detail: str = "") -> None:
        self.data = data
        self.complete = complete
        self.problem = problem
        self.detail = detail


def _inflate(raw: Any, cap: int) -> _Inflated:
    """gzip or zlib -> bytes, any number of concatenated members, output capped at `cap` bytes."""
    d = zlib.decompressobj(_AUTO_WBITS)
    try:
        out = d.decompress(raw, cap + 1)
    except zlib.error as exc:
        return _Inflated(b"", 0, Reason.CORRUPT, f"corrupt compressed data ({exc})")
    if len(out) > cap or d.unconsumed_tail:
        return _Inflated(b"", 0, Reason.TOO_LARGE, f"decompressed data exceeds {cap} bytes")
    if not d.eof:
        return _Inflated(out, 0, Reason.TRUNCATED, "compressed data ends before the end of its stream")
    rest = d.unused_data
    if not rest:
        return _Inflated(out, len(out))  # the common case: exactly one member
    return _inflate_more(memoryview(raw), len(raw) - len(rest), bytearray(out), cap)


def _inflate_more(mv: memoryview, off: int, out: bytearray, cap: int) -> _Inflated:
    """Further gzip members (Firehose->S3 objects), fed in bounded slices so nothing is re-copied."""
    n = len(mv)
    complete = len(out)
    while off < n:
        if not _is_compressed(mv, off):
            if bytes(mv[off:]).strip(b" \t\r\n\x00"):
                return _Inflated(out, complete, Reason.TRAILING_GARBAGE, "bytes after the last compressed member")
            break
        d = zlib.decompressobj(_AUTO_WBITS)
        while True:
            chunk = mv[off : off + _INFLATE_CHUNK]
            if not chunk:
                return _Inflated(out, complete, Reason.TRUNCATED, "a compressed member ends before its end")
            try:
                piece = d.decompress(chunk, cap + 1 - len(out))
            except zlib.error as exc:
                return _Inflated(out, complete, Reason.CORRUPT, f"corrupt compressed member ({exc})")
            out += piece
            if len(out) > cap:
                return _Inflated(b"", 0, Reason.TOO_LARGE, f"decompressed data exceeds {cap} bytes")
            if d.eof:
                off += len(chunk) - len(d.unused_data)
                break
            off += len(chunk) - len(d.unconsumed_tail)
        complete = len(out)
    return _Inflated(out, complete)


# ---------------------------------------------------------------------------------------------------
# Several JSON documents in one buffer
# ---------------------------------------------------------------------------------------------------

# Where one document may end and the next begin: a closing bracket, optional whitespace, an opening
# one. Outside strings this never occurs inside a valid document (a comma would be required), so a
# candidate is either a real boundary or lies inside a string (then the parse says "incomplete").
_BOUNDARY = re.compile(rb"[}\]][ \t\r\n]*[{\[]")
_STRUCTURAL = re.compile(rb'[{}\[\]"]')
_BROKEN = object()


def _structural_end(buf: Any, start: int, n: int) -> int | None:
    """End offset of the JSON value starting at `start` (string-aware bracket matching), or None."""
    depth = 0
    pos = start
    search = _STRUCTURAL.search
    find = buf.find
    while True:
        m = search(buf, pos)
        if m is None:
            return None
        i = m.start()
        ch = buf[i]
        if ch == 0x22:  # '"': jump to the closing quote (not preceded by an odd run of backslashes)
            j = i + 1
            while True:
                k = find(b'"', j)
                if k < 0:
                    return None
                b = k - 1
                while buf[b] == 0x5C:
                    b -= 1
                if (k - 1 - b) % 2 == 0:
                    break
                j = k + 1
            pos = k + 1
        elif ch == 0x7B or ch == 0x5B:
            depth += 1
            pos = i + 1
        else:
            depth -= 1
            pos = i + 1
            if depth <= 0:
                return pos


def _iter_documents(buf: Any, start: int = 0) -> Iterator[tuple[Any, int, int, str]]:
    """Yield (document or _BROKEN, start, end, error) for JSON documents glued, spaced or one per line."""
    mv = memoryview(buf)
    n = len(buf)
    pos = _skip_ws(buf, start)
    while pos < n:
        end, doc, error = _next_document(buf, mv, pos, n)
        yield doc, pos, end, error
        pos = _skip_ws(buf, max(end, pos + 1))


def _next_document(buf: Any, mv: memoryview, s: int, n: int) -> tuple[int, Any, str]:
    search_from = s
    for _ in range(_MAX_BOUNDARY_RETRIES):
        m = _BOUNDARY.search(buf, search_from)
        end = m.start() + 1 if m is not None else n
        try:
            return end, _parse_json(mv[s:end]), ""
        except _BadJSON as bad:
            if m is None or not bad.incomplete:
                return end, _BROKEN, bad.message
            search_from = m.start() + 1
    # Many "}{" inside strings: find the real end by scanning, then parse once.
    end = _structural_end(buf, s, n)
    if end is None:
        return n, _BROKEN, "unterminated JSON document"
    try:
        return end, _parse_json(mv[s:end]), ""
    except _BadJSON as bad:
        return end, _BROKEN, bad.message


# ---------------------------------------------------------------------------------------------------
# Subscription data (the Lambda hot path)
# ---------------------------------------------------------------------------------------------------


def decode_subscription_data(data: str | bytes, *, origin: str = "subscription") -> Iterator[LogBatch | Rejection]:
    """`awslogs.data` (or a Kinesis record's data) -> LogBatch per DATA_MESSAGE payload.

    base64 -> gzip or zlib (auto-detected, several members allowed) -> one or several JSON payloads.
    CONTROL_MESSAGE payloads yield nothing. Failures yield one Rejection each (reasons: invalid-base64,
    not-compressed, truncated-compressed-data, corrupt-compressed-data, too-large (over
    MAX_SUBSCRIPTION_BYTES decompressed), invalid-json, not-a-cloudwatch-payload). Never raises.
    """
    try:
        yield from _decode_record(data, origin, origin, lenient=False)
    except Exception as exc:  # last-resort guard: a bug must cost one record, not the invocation
        yield _reject(
            Reason.INTERNAL_ERROR,
            data if isinstance(data, (str, bytes)) else None,
            f"unexpected {type(exc).__name__} while decoding",
            origin,
        )


def _decode_record(data: Any, origin: str, where: str, *, lenient: bool) -> Iterator[LogBatch | Rejection]:
    """One base64 record. `lenient` (Firehose) also accepts uncompressed JSON or text in the record."""
    raw, strict_ok, rejection = _b64decode(data, where)
    if rejection is not None:
        yield rejection
        return
    if not _is_compressed(raw):
        if lenient and raw.strip():
            yield from _iter_input(raw, where=where, log_group=None, depth=1, text_origin=origin, payload_origin=origin)
        elif not strict_ok:
            yield _reject(Reason.INVALID_BASE64, data, "not valid base64", where)
        elif not raw:
            yield _reject(Reason.MISSING_DATA, data, "the record's data is empty", where)
        else:
            detail = (
                "base64 decodes to uncompressed JSON, expected gzip"
                if raw.lstrip()[:1] in (b"{", b"[")
                else "base64 decodes to data that is neither gzip nor zlib"
            )
            yield _reject(Reason.NOT_COMPRESSED, raw, detail, where)
        return
    inflated = _inflate(raw, MAX_SUBSCRIPTION_BYTES)
    if lenient and inflated.problem != Reason.TOO_LARGE and inflated.data:
        # Firehose: whatever the record holds (payloads, or text after message extraction).
        yield from _iter_input(
            inflated.data, where=where, log_group=None, depth=1, text_origin=origin, payload_origin=origin
        )
        if inflated.problem:
            yield _reject(inflated.problem, data, inflated.detail, where)
        return
    if inflated.problem is None:
        buf = inflated.data
        try:
            doc = _loads(buf)  # the fast path: one JSON document
        except (ValueError, RecursionError):
            yield from _payload_documents(buf, origin, where)
            return
        yield from _payload_items(doc, origin, where)
        return
    if inflated.complete:
        yield from _payload_documents(inflated.data[: inflated.complete], origin, where)
    yield _reject(inflated.problem, data, inflated.detail, where)


def _payload_documents(buf: Any, origin: str, where: str) -> Iterator[LogBatch | Rejection]:
    """Slow path: several concatenated payloads, invalid UTF-8, or broken JSON."""
    for doc, start, end, error in _iter_documents(buf):
        if doc is _BROKEN:
            yield _reject(Reason.INVALID_JSON, memoryview(buf)[start:end], f"invalid JSON: {error}", where)
        else:
            yield from _payload_items(doc, origin, where)


# ---------------------------------------------------------------------------------------------------
# Lambda events
# ---------------------------------------------------------------------------------------------------


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
        yield from _lambda_event_items(event, None)
    except Exception as exc:  # last-resort guard
        yield None, _reject(Reason.INTERNAL_ERROR, None, f"unexpected {type(exc).__name__} while decoding", "-")


def _lambda_event_items(event: Any, where: str | None) -> Iterator[tuple[str | None, LogBatch | Rejection]]:
    """`where` names the input in rejections (a file name); None means "use the record's origin"."""
    if isinstance(event, Mapping):
        awslogs = event.get("awslogs")
        if isinstance(awslogs, Mapping):
            at = where or ORIGIN_SUBSCRIPTION
            data = awslogs.get("data")
            if data is None:
                yield None, _reject(Reason.MISSING_DATA, awslogs, "awslogs has no data", at)
                return
            for item in _decode_record(data, ORIGIN_SUBSCRIPTION, at, lenient=False):
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
        _reject(Reason.UNKNOWN_EVENT_SHAPE, event, "expected an awslogs, Kinesis or Firehose event", where or "-"),
    )


def _kinesis_record(record: Any, where: str) -> Iterator[tuple[str | None, LogBatch | Rejection]]:
    kinesis = record.get("kinesis") if isinstance(record, Mapping) else None
    if not isinstance(kinesis, Mapping):
        yield None, _reject(Reason.UNKNOWN_EVENT_SHAPE, record, "a Records entry is not a Kinesis record", where)
        return
    seq = _as_str(kinesis.get("sequenceNumber"))
    if seq is None:
        event_id = _as_str(record.get("eventID"))
        seq = event_id.rpartition(":")[2] if event_id else None
    data = kinesis.get("data")
    if data is None:
        yield seq, _reject(Reason.MISSING_DATA, kinesis, "Kinesis record has no data", where)
        return
    for item in _decode_record(data, ORIGIN_KINESIS, where, lenient=False):
        yield seq, item


def _firehose_record(record: Any, where: str) -> Iterator[tuple[str | None, LogBatch | Rejection]]:
    if not isinstance(record, Mapping):
        yield None, _reject(Reason.MISSING_DATA, record, "Firehose record is not an object", where)
        return
    record_id = _as_str(record.get("recordId"))
    data = record.get("data")
    if data is None:
        yield record_id, _reject(Reason.MISSING_DATA, record, "Firehose record has no data", where)
        return
    for item in _decode_record(data, ORIGIN_FIREHOSE, where, lenient=True):
        yield record_id, item


# ---------------------------------------------------------------------------------------------------
# Files and stdin (the CLI)
# ---------------------------------------------------------------------------------------------------


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
        yield _reject(Reason.INTERNAL_ERROR, None, f"unexpected {type(exc).__name__} while reading the input", name)


def _iter_input(
    buf: Any, *, where: str, log_group: str | None, depth: int, text_origin: str, payload_origin: str
) -> Iterator[LogBatch | Rejection]:
    n = len(buf)
    if _is_compressed(buf) and depth < _MAX_NESTING:
        inflated = _inflate(buf, MAX_FILE_BYTES)
        if inflated.problem and buf[0] != 0x1F and not _looks_binary(buf[:_SNIFF_BYTES]):
            pass  # text that merely starts like a zlib header ("(4f3e..." does): read it as text below
        elif inflated.problem == Reason.TOO_LARGE or (inflated.problem and not inflated.data):
            yield _reject(inflated.problem, buf, inflated.detail, where)
            return
        else:
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
                yield _reject(inflated.problem, buf, inflated.detail, where)
            return
    start = 3 if buf[:3] == _UTF8_BOM else 0
    pos = _skip_ws(buf, start)
    if pos >= n:
        return
    first = buf[pos]
    if first == 0x7B or first == 0x5B:  # '{' or '['
        handled = yield from _json_input(buf, pos, where=where, log_group=log_group, payload_origin=payload_origin)
        if handled:
            return
    elif _looks_like_insights_csv(buf, pos):
        yield from _insights_csv(buf, pos, where=where, log_group=log_group)
        return
    if _looks_binary(buf[start : start + _SNIFF_BYTES]):
        yield _reject(Reason.UNRECOGNISED_INPUT, buf, "binary data that is neither gzip, zlib, JSON nor text", where)
        return
    yield from _text_batches(buf, start, origin=text_origin, log_group=log_group)


def _json_input(
    buf: Any, pos: int, *, where: str, log_group: str | None, payload_origin: str
) -> Iterator[LogBatch | Rejection]:
    """JSON-looking input. Returns (generator return value) False when it is really plain text.

    A file whose documents are CloudWatch shapes (payloads, events, exports) is read as documents;
    a file of JSON access-log lines (objects that are none of those) is plain text.
    """
    documents = _iter_documents(buf, pos)
    doc, _, end, _ = next(documents)
    if doc is _BROKEN:
        return False
    if _skip_ws(buf, end) >= len(buf):  # the whole input is one JSON document
        recognised = yield from _dispatch_document(
            doc, where=where, log_group=log_group, payload_origin=payload_origin, whole=True
        )
        if recognised:
            return True
        if isinstance(doc, dict) and end - pos <= _MAX_REJOINED_DOCUMENT:
            # One JSON object that is not a CloudWatch shape: a (possibly pretty-printed) log entry.
            text = str(memoryview(buf)[pos:end], "utf-8", "replace").strip()
            yield LogBatch(
                events=(_event(text),), log_group=log_group, origin=ORIGIN_TEXT, kind=kind_for_log_group(log_group)
            )
            return True
        return False
    if not _is_document_shape(doc):
        return False
    yield from _dispatch_document(doc, where=where, log_group=log_group, payload_origin=payload_origin, whole=False)
    for doc, start, end, error in documents:
        if doc is _BROKEN:
            yield _reject(Reason.INVALID_JSON, memoryview(buf)[start:end], f"invalid JSON document: {error}", where)
            continue
        recognised = yield from _dispatch_document(
            doc, where=where, log_group=log_group, payload_origin=payload_origin, whole=False
        )
        if not recognised:
            yield _reject(Reason.NOT_A_PAYLOAD, doc, "a JSON document among CloudWatch documents is not one", where)
    return True


def _is_document_shape(doc: Any) -> bool:
    """Is this JSON value one of the CloudWatch shapes (and not, say, a JSON access-log line)?"""
    if isinstance(doc, list):  # a list of documents (one level: never recurse into nested lists)
        return bool(doc) and all(isinstance(d, dict) and _is_document_shape(d) for d in islice(doc, 4))
    if not isinstance(doc, dict):
        return False
    if _is_cwl_payload(doc):
        return True
    if isinstance(doc.get("awslogs"), Mapping):
        return True
    for key in ("Records", "records", "events", "results"):
        value = doc.get(key)
        if isinstance(value, list) and (not value or isinstance(value[0], (Mapping, list))):
            return True
    return False


def _dispatch_document(
    doc: Any, *, where: str, log_group: str | None, payload_origin: str, whole: bool
) -> Iterator[LogBatch | Rejection]:
    """Yield the batches of one recognised JSON document; returns False if the shape is unknown."""
    if isinstance(doc, list):
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
                loose.append(_event(_as_message(item)))
                if len(loose) >= TEXT_BATCH_EVENTS:
                    yield _plain_batch(loose, ORIGIN_JSON, log_group)
                    loose = []
        if loose:
            yield _plain_batch(loose, ORIGIN_JSON, log_group)
        return True
    if not isinstance(doc, dict):
        return False
    if _is_cwl_payload(doc):
        got = _batch_from_payload(doc, payload_origin, where)
        if got is not None:
            yield _with_default_group(got, log_group)
        return True
    if (
        isinstance(doc.get("awslogs"), Mapping)
        or isinstance(doc.get("Records"), list)
        or isinstance(doc.get("records"), list)
    ):
        for _, item in _lambda_event_items(doc, where):
            yield item
        return True
    events = doc.get("events")
    if isinstance(events, list):
        origin = (
            ORIGIN_GET_LOG_EVENTS
            if ("nextForwardToken" in doc or "nextBackwardToken" in doc)
            else ORIGIN_FILTER_LOG_EVENTS
        )
        yield from _log_events_output(events, origin=origin, log_group=log_group)
        return True
    results = doc.get("results")
    if isinstance(results, list) and all(isinstance(r, list) for r in results):
        # `aws logs get-query-results`: rows of {"field": ..., "value": ...}
        rows = [{c.get("field"): c.get("value") for c in r if isinstance(c, Mapping)} for r in results]
        yield from _insights_rows(rows, where=where, log_group=log_group)
        return True
    if "@message" in doc:
        yield from _insights_rows([doc], where=where, log_group=log_group)
        return True
    return False


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
                    _as_str(e.get("logStreamName")),
                    None,
                    _event(_as_message(e.get("message")), _as_ms(e.get("timestamp")), _as_str(e.get("eventId"))),
                )
            else:
                yield log_group, None, None, _event(_as_message(e))

    yield from _grouped_batches(rows(), origin)


# -- Logs Insights -----------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


def _insights_timestamp(value: Any) -> int | None:
    """ "2023-06-09 12:54:08.000" (UTC, as Insights exports it), ISO 8601, or epoch ms -> epoch ms."""
    ms = _as_ms(value)
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


def _insights_rows(rows: list, *, where: str, log_group: str | None) -> Iterator[LogBatch | Rejection]:
    """Insights results (export JSON, CSV rows, get-query-results): @timestamp, @message, @logStream, @log.

    `@log` is "account:logGroupName". Insights sorts newest first by default; a descending export is
    put back in arrival order so execution-log lines of one request read top to bottom.
    """
    converted: list[tuple[str | None, str | None, str | None, LogEvent]] = []
    for row in rows:
        if not isinstance(row, Mapping):
            continue
        group, owner = log_group, None
        log = row.get("@log")
        if isinstance(log, str) and log:
            account, sep, name = log.partition(":")
            if sep and name:
                group, owner = name, account or None
            else:
                group = log
        converted.append(
            (
                group,
                _as_str(row.get("@logStream")),
                owner,
                _event(_as_message(row.get("@message")), _insights_timestamp(row.get("@timestamp"))),
            )
        )
    stamps = [r[3].timestamp for r in converted if r[3].timestamp is not None]
    if len(stamps) >= 2 and stamps[0] > stamps[-1]:
        converted.reverse()
    yield from _grouped_batches(converted, ORIGIN_INSIGHTS)


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
            yield _reject(Reason.INVALID_CSV, None, f"unreadable CSV row near line {reader.line_num}: {exc}", where)
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

_TEXT_WINDOW = 4 * 1024 * 1024
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
    """One LogEvent per non-empty line, in batches of TEXT_BATCH_EVENTS; decoded window by window."""
    mv = memoryview(buf)
    n = len(buf)
    kind = kind_for_log_group(log_group)
    pending: list[LogEvent] = []
    pos = start
    event = _event
    while pos < n:
        end = pos + _TEXT_WINDOW
        if end < n:
            cut = buf.rfind(b"\n", pos, end)
            if cut < 0:
                cut = buf.find(b"\n", end)
            end = n if cut < 0 else cut + 1
        else:
            end = n
        for line in str(mv[pos:end], "utf-8", "replace").split("\n"):
            if line.endswith("\r"):
                line = line[:-1]
            if line and not line.isspace():
                pending.append(event(line))
                if len(pending) >= TEXT_BATCH_EVENTS:
                    yield LogBatch(events=tuple(pending), log_group=log_group, origin=origin, kind=kind)
                    pending = []
        pos = end
    if pending:
        yield LogBatch(events=tuple(pending), log_group=log_group, origin=origin, kind=kind)

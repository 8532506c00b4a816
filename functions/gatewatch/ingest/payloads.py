"""A decoded CloudWatch Logs payload in; one `LogBatch` of its events out (or a counted `Rejection`).

The payload: `{"messageType", "owner", "logGroup", "logStream", "subscriptionFilters", "logEvents":
[{"id", "timestamp", "message"}], "policyLevel"?}`. The same shape arrives in subscription
deliveries, Kinesis and Firehose records, and in files the CLI reads, so every reader uses this one.

Hot path: a 1 MB delivery holds ~1,200-5,000 events; the common shape (every entry a
{"message": str, "timestamp": int} object) becomes columns read in C (`map` over itemgetters) with
no LogEvent object made (see models.LogEvents). Any odd entry sends the whole payload down the
tolerant path, where every entry still becomes exactly one event.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from operator import itemgetter, methodcaller
from typing import Any

from gatewatch.ingest.codec import dumps
from gatewatch.ingest.rejections import Reason, input_rejection
from gatewatch.models import LogBatch, LogEvent, LogEvents, LogKind, Rejection
from gatewatch.naming import execution_log_group_ids

DATA_MESSAGE = "DATA_MESSAGE"
CONTROL_MESSAGE = "CONTROL_MESSAGE"


def as_text(value: Any) -> str | None:
    """A string as is, a number as its text; anything else (null, bool, objects) is None."""
    if value is None:
        return None
    if value.__class__ is str:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def as_epoch_ms(value: Any) -> int | None:
    """An epoch-millisecond timestamp from an int, a float or a digit string; anything else is None."""
    if value.__class__ is int:
        return value
    if isinstance(value, float) and value == value and abs(value) < 1e16:
        return int(value)
    if isinstance(value, str) and value.isdigit() and len(value) < 17:
        return int(value)
    return None


def as_message(value: Any) -> str:
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
        return dumps(value)
    except Exception:  # e.g. nested deeper than the encoder allows
        try:
            return str(value)
        except Exception:  # RecursionError on absurd nesting: keep a placeholder, count it downstream
            return f"<unreadable {type(value).__name__}>"


_MESSAGE_OF = itemgetter("message")
_TIMESTAMP_OF = itemgetter("timestamp")
_ONLY_STR = frozenset({str})
_ONLY_INT = frozenset({int})


_ID_OF = itemgetter("id")
_ID_OR_NONE_OF = methodcaller("get", "id")


def _event_id(value: Any) -> str | None:
    return value if value.__class__ is str else as_text(value)


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
    """Every entry becomes exactly one LogEvent, whatever its shape (see `as_message`)."""
    out = []
    for e in raw_events:
        if isinstance(e, Mapping):
            out.append(LogEvent(as_message(e.get("message")), as_epoch_ms(e.get("timestamp")), as_text(e.get("id"))))
        else:
            out.append(LogEvent(as_message(e)))
    return tuple(out)


def kind_for_log_group(log_group: str | None) -> LogKind:
    """EXECUTION for an execution-log group; UNKNOWN otherwise (access-log groups are user-named)."""
    return LogKind.EXECUTION if execution_log_group_ids(log_group) is not None else LogKind.UNKNOWN


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
    return read_payload(payload, origin, origin)


def read_payload(payload: Any, origin: str, where: str) -> LogBatch | Rejection | None:
    """`batch_from_payload` for any value, naming the input `where` in a rejection."""
    if not isinstance(payload, Mapping):
        return input_rejection(
            Reason.NOT_A_PAYLOAD, payload, f"expected a JSON object, got {type(payload).__name__}", where
        )
    message_type = payload.get("messageType")
    raw_events = payload.get("logEvents")
    if message_type is not None:
        if message_type.__class__ is not str:
            return input_rejection(Reason.NOT_A_PAYLOAD, payload, "messageType is not a string", where)
        if message_type != DATA_MESSAGE:
            return None
    elif raw_events is None:
        return input_rejection(Reason.NOT_A_PAYLOAD, payload, "no messageType and no logEvents", where)
    if raw_events.__class__ is not list:
        if raw_events is None:
            return input_rejection(Reason.NOT_A_PAYLOAD, payload, "DATA_MESSAGE without logEvents", where)
        if isinstance(raw_events, (tuple, list)):
            raw_events = list(raw_events)
        else:
            return input_rejection(Reason.NOT_A_PAYLOAD, payload, "logEvents is not a list", where)
    events: LogEvents | tuple[LogEvent, ...] | None = _fast_events(raw_events)
    if events is None:
        events = _tolerant_events(raw_events)
    log_group = as_text(payload.get("logGroup"))
    return LogBatch(
        events=events,
        log_group=log_group,
        log_stream=as_text(payload.get("logStream")),
        owner=as_text(payload.get("owner")),
        origin=origin,
        kind=kind_for_log_group(log_group),
    )


def is_cwl_payload(doc: Any) -> bool:
    """Strict: a dict that is a CloudWatch Logs payload (decides "document" vs "JSON access line")."""
    if not isinstance(doc, dict):
        return False
    if isinstance(doc.get("logEvents"), list):
        return True
    return doc.get("messageType") in (DATA_MESSAGE, CONTROL_MESSAGE)


def payload_items(doc: Any, origin: str, where: str) -> Iterator[LogBatch | Rejection]:
    """The batches of one JSON document that is a payload or a list of payloads (CONTROL_MESSAGEs skipped)."""
    if doc.__class__ is list:
        for item in doc:
            got = read_payload(item, origin, where)
            if got is not None:
                yield got
        return
    got = read_payload(doc, origin, where)
    if got is not None:
        yield got

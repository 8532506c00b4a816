"""Access-log parser: one API Gateway access-log line -> `AccessRecord` (or a counted `Rejection`).

Why this module exists: access logs are the only source of request counts, error counts and
latencies (DESIGN §5), and their format is whatever the API owner typed into the stage settings.
So the parser accepts every console default (JSON, CLF, CSV, XML for REST, HTTP and WebSocket APIs),
any custom JSON whose keys name the `$context` variables in camelCase, dotted, snake_case or nested
form, and the invalid JSON that API Gateway itself produces because it does not escape values.

Rules (reference §2, §5):
- `-` and the empty string mean "absent" -> None; numbers that are not numbers -> None.
- Unknown keys are ignored; `fields_present` says which canonical fields the format carries, so the
  report can say what the format lacks.
- Bad input never raises: it becomes a `Rejection(source="access", reason=..., sample=...)`.

Speed: the JSON fast path is one `orjson.loads`, one cached "plan" per key layout (the keys of a
format repeat on every line, so key -> field resolution happens once per format, not per line) and a
reader generated for that layout once it has been seen a few times (see `_compile_reader`). All scanners are `str.find`/bounded-regex loops: linear on adversarial 100 KB lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from gatewatch.constants import SOURCE_ACCESS
from gatewatch.models import AccessRecord, AccessSummary, Rejection
from gatewatch.parse.fields import (
    CANONICAL_FIELDS,
    I_EXTENDED_ID,
    I_REQUEST_ID,
    I_STATUS,
    I_TIMESTAMP,
    record_from_slots,
    resolver_for,
)
from gatewatch.parse.json_repair import recover_json_record
from gatewatch.parse.layouts import JsonLayouts, json_layout, layouts_for
from gatewatch.parse.reasons import (
    REASON_INTERNAL,
    REASON_NO_REQUEST_FIELDS,
    REASON_UNRECOGNISED,
    access_rejection,
    access_sample,
)
from gatewatch.parse.text_formats import CLF_TIME, parse_clf, parse_csv, parse_xml
from gatewatch.parse.trust import distrustful_object, has_shadowed_keys

__all__ = [
    "CANONICAL_FIELDS",
    "MAX_FLATTEN_DEPTH",
    "has_object_value",
    "json_layout",
    "looks_like_access_line",
    "parse_access_line",
    "parse_access_line_or_summary",
    "read_json_access",
]


def parse_access_line(
    message: str,
    *,
    field_map: Mapping[str, str] | None = None,
    timestamp: int | None = None,
    partial: bool = False,
    log_group: str | None = None,
) -> AccessRecord | Rejection:
    """Parse one access-log line in any console format (JSON, CLF, CSV, XML) or a custom JSON format.

    `field_map` maps your own JSON keys / XML tags to canonical field names (CANONICAL_FIELDS) and wins
    over the built-in aliases. `timestamp` (the CloudWatch event time, epoch ms) is copied onto the record.
    `partial`: the line is a row of a query's projection or a pasted fragment, one request even without a
    status or a request id when it carries an error's evidence. `log_group`: where the line was logged
    (the layouts of one group are learned together, see gatewatch.parse.layouts). Never raises:
    unreadable input becomes a Rejection with a short sample.
    """
    try:
        if message[:1] == "{":
            return _parse_json(message, layouts_for(field_map, log_group), timestamp, partial=partial)
        return _parse_other(message, layouts_for(field_map, log_group), field_map, timestamp)
    except Exception as exc:  # a safety net: a parser bug must cost one line, never the batch
        if not isinstance(message, str):
            return access_rejection(REASON_UNRECOGNISED, message, f"not text: {type(message).__name__}")
        return Rejection(
            source=SOURCE_ACCESS, reason=REASON_INTERNAL, sample=access_sample(message), detail=type(exc).__name__
        )


_SNIFF_CHARS = 512
_LEADING_JUNK = " \t\r\n\ufeff"


def looks_like_access_line(message: str) -> bool:
    """Cheap sniff for lines of unknown kind: a JSON object, an XML `<request>`, or a CLF/CSV time stamp.

    Execution-log lines start with `(requestId)` or plain English and carry no `dd/MMM/yyyy:HH:mm:ss`
    time, so they answer False.
    """
    if not isinstance(message, str):
        return False
    head = message[:_SNIFF_CHARS].lstrip(_LEADING_JUNK)
    first = head[:1]
    if first == "{":
        return '"' in head
    if first == "<":
        return head.startswith("<request")
    if first == "(":
        return False
    return CLF_TIME.search(head) is not None


# --------------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------------


def read_json_access(
    obj: dict[str, Any] | None,
    message: str,
    field_map: Mapping[str, str] | None,
    timestamp: int | None,
    log_group: str | None = None,
) -> AccessRecord | Rejection:
    """The full record for an already parsed JSON line (what parse_access_line returns for it);
    for None (not parsed yet), what parse_access_line makes of the line (it repairs invalid JSON)."""
    if obj is None:
        return parse_access_line(message, field_map=field_map, timestamp=timestamp, log_group=log_group)
    return _read_json_object(obj, message, layouts_for(field_map, log_group), timestamp)


def parse_access_line_or_summary(
    message: str,
    *,
    field_map: Mapping[str, str] | None = None,
    timestamp: int | None = None,
    log_group: str | None = None,
) -> AccessSummary | AccessRecord | Rejection:
    """The analyzer's fast path: a successful request in a JSON format comes back as an AccessSummary
    (only what its metrics need); everything else exactly as `parse_access_line` returns it."""
    try:
        if message[:1] == "{":
            obj = orjson.loads(message)
            if obj.__class__ is dict:
                layouts = layouts_for(field_map, log_group)
                if not has_object_value(obj) and not has_shadowed_keys(message, obj):
                    layout = layouts.layout_for(obj)
                    summary = None if layout.injected else layout.summarize(obj, timestamp)
                    if summary is not None:
                        return summary
                return _read_json_object(obj, message, layouts, timestamp)
    except Exception:  # invalid JSON (repaired below) or a parser bug (a rejection below): one line, never the batch
        pass
    return parse_access_line(message, field_map=field_map, timestamp=timestamp, log_group=log_group)


def _parse_json(
    message: str, layouts: JsonLayouts, timestamp: int | None, *, partial: bool = False
) -> AccessRecord | Rejection:
    try:
        obj = orjson.loads(message)
    except orjson.JSONDecodeError as exc:
        return recover_json_record(message, layouts.resolver, timestamp, str(exc))
    return _read_json_object(obj, message, layouts, timestamp, partial=partial)


def _read_json_object(
    obj: Any, message: str, layouts: JsonLayouts, timestamp: int | None, *, partial: bool = False
) -> AccessRecord | Rejection:
    if obj.__class__ is not dict:
        return access_rejection(REASON_UNRECOGNISED, message)
    suspicious = has_shadowed_keys(message, obj)
    if suspicious:  # keys a caller's unescaped value added: read with every duplicated key as absent
        obj = distrustful_object(message)[0]
        if obj is None:
            return access_rejection(REASON_UNRECOGNISED, message, "a JSON line the strict parser refuses")
    if has_object_value(obj):  # decided per line: a layout's lines need not all nest the same way
        obj = _flatten(obj)
    layout = layouts.layout_for(obj)
    record = layout.read(obj, timestamp, partial=partial)
    if record is None:
        return access_rejection(
            REASON_NO_REQUEST_FIELDS, message, "no status and no request id: map your keys with a field map"
        )
    if suspicious or layout.injected:
        record.suspicious = True
    return record


def has_object_value(obj: dict[str, Any]) -> bool:
    """Does a parsed line hold an object as a value (which the full path flattens into dotted keys)?"""
    return dict in map(type, obj.values())


#: Nesting levels of a JSON access line that are flattened into dotted keys; deeper objects are ignored.
MAX_FLATTEN_DEPTH = 16


def _flatten(obj: dict[str, Any]) -> dict[str, Any]:
    """{"error": {"message": m}} -> {"error.message": m}, so nested formats share the dotted aliases."""
    flat: dict[str, Any] = {}
    stack: list[tuple[str, dict[str, Any], int]] = [("", obj, 0)]
    while stack:
        prefix, current, depth = stack.pop()
        for key, value in current.items():
            if value.__class__ is dict:
                if depth < MAX_FLATTEN_DEPTH:
                    stack.append((f"{prefix}{key}.", value, depth + 1))
            else:
                flat[prefix + key] = value
    return flat


# --------------------------------------------------------------------------------------------------
# CLF, CSV, XML
# --------------------------------------------------------------------------------------------------


def _parse_other(
    message: str, layouts: JsonLayouts, field_map: Mapping[str, str] | None, timestamp: int | None
) -> AccessRecord | Rejection:
    if not isinstance(message, str):
        return access_rejection(REASON_UNRECOGNISED, message, f"not text: {type(message).__name__}")
    text = message.lstrip(_LEADING_JUNK)
    first = text[:1]
    if first == "{":
        return _parse_json(text, layouts, timestamp)
    record: list[Any] | None = None
    if first == "<":
        record = parse_xml(text, resolver_for(field_map))
    else:
        head = text[:_SNIFF_CHARS]
        if "[" in head:
            record = parse_clf(text)
        if record is None and "," in head:
            record = parse_csv(text)
    if record is None:
        return access_rejection(REASON_UNRECOGNISED, message)
    if record[I_STATUS] is None and record[I_REQUEST_ID] is None and record[I_EXTENDED_ID] is None:
        return access_rejection(REASON_NO_REQUEST_FIELDS, message)
    record[I_TIMESTAMP] = timestamp
    return record_from_slots(record)

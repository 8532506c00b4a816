"""The console's text access-log formats: CLF, CSV and XML, for REST, HTTP and WebSocket APIs.

Positional formats are read by position and shape (a time in brackets, a quoted request line, an
HTTP/ protocol token), XML by a linear tag scan — never an XML parser: values are not escaped by
API Gateway and untrusted input must not reach one. Values convert as JSON values do.
"""

from __future__ import annotations

import re
from itertools import islice
from typing import Any

from gatewatch.parse.fields import (
    DEFAULTS,
    FIELD_INDEX,
    FORMAT_CLF,
    FORMAT_CSV,
    FORMAT_XML,
    I_FORMAT,
    I_PRESENT,
    FieldResolver,
    kind_of,
)
from gatewatch.parse.values import CONVERT

_SNIFF_CHARS = 512
CLF_TIME = re.compile(r"\d{1,2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}")


class _Fields:
    """Collects (field, raw text) pairs of a positional format and converts them like JSON values."""

    __slots__ = ("present", "values")

    def __init__(self, fmt: str) -> None:
        self.values = list(DEFAULTS)
        self.values[I_FORMAT] = fmt
        self.present: set[str] = set()

    def put(self, field_name: str, raw: str | None, kind: int | None = None) -> None:
        self.present.add(field_name)
        if raw is not None:
            raw = raw.strip()
            self.values[FIELD_INDEX[field_name]] = CONVERT[kind_of(field_name) if kind is None else kind](raw)

    def finish(self) -> list[Any]:
        self.values[I_PRESENT] = frozenset(self.present)
        return self.values


_ID_TOKEN = re.compile(r"[A-Za-z0-9_+/\-]{6,64}={0,2}")


def _looks_like_request_id(token: str) -> bool:
    return _ID_TOKEN.fullmatch(token) is not None and (token.endswith("=") or any(c.isdigit() for c in token))


def _put_target(fields: _Fields, target: str, *, default_field: str | None) -> None:
    """REST logs a resource template (`/pets/{petId}`), HTTP/WebSocket a route key (`GET /pets`, `$default`)."""
    if target == "-" or not target:
        if default_field:
            fields.put(default_field, None)
    elif target.startswith("/"):
        fields.put("resource_path", target)
    else:
        fields.put("route_key", target)


def parse_clf(s: str) -> list[Any] | None:
    """`ip caller user [time] "METHOD target PROTOCOL" status length requestId [extendedRequestId | error text]`.

    Also: no prefix at all (A19), `- -` for caller/user (HTTP), extendedRequestId first (the
    CloudFormation example), no space before the quote, and free error text at the end (terraform).
    """
    open_bracket = s.find("[", 0, _SNIFF_CHARS)
    if open_bracket < 0:
        return None
    close_bracket = s.find("]", open_bracket + 1, open_bracket + 40)
    if close_bracket < 0 or CLF_TIME.fullmatch(s, open_bracket + 1, close_bracket) is None:
        return None
    open_quote = s.find('"', close_bracket + 1, close_bracket + 18)
    if open_quote < 0 or s[close_bracket + 1 : open_quote].strip():
        return None
    close_quote = s.find('"', open_quote + 1)
    if close_quote < 0:
        return None
    fields = _Fields(FORMAT_CLF)
    prefix = s[:open_bracket].split(None, 5)
    if len(prefix) == 4:
        fields.put("extended_request_id", prefix[0])
        fields.put("ip", prefix[1])
    elif 1 <= len(prefix) <= 3:
        fields.put("ip", prefix[0])
    fields.put("request_time", s[open_bracket + 1 : close_bracket])
    request = s[open_quote + 1 : close_quote].split()
    tail = s[close_quote + 1 :].split(None, 3)
    if _is_websocket_request(request, len(tail)):
        # WebSocket console CLF: "$context.eventType $context.routeKey $context.connectionId" status requestId
        for name, token in zip(("event_type", "route_key", "connection_id"), request, strict=False):
            fields.put(name, token)
        for name, token in zip(("status", "request_id"), tail, strict=False):
            fields.put(name, token)
        return fields.finish()
    target_field = None
    if request:
        fields.put("http_method", request[0])
        if len(request) >= 3:
            fields.put("protocol", request[-1])
            _put_target(fields, " ".join(request[1:-1]), default_field=None)
        elif len(request) == 2:
            _put_target(fields, request[1], default_field=None)
        target_field = "resource_path" if "resource_path" in fields.present else "route_key"
    for name, token in zip(("status", "response_length", "request_id"), tail, strict=False):
        fields.put(name, token)
    if len(tail) == 4:
        extra = tail[3].rstrip()
        single = len(extra.split(None, 1)) == 1
        if single and ((extra == "-" and target_field == "resource_path") or _looks_like_request_id(extra)):
            fields.put("extended_request_id", extra)
        else:
            fields.put("integration_error", extra)
    return fields.finish()


_WEBSOCKET_EVENTS = frozenset({"CONNECT", "MESSAGE", "DISCONNECT"})


def _is_websocket_request(request: list[str], tail_tokens: int) -> bool:
    """`"CONNECT $connect Iq8gj1UmIAMCKpA="` (eventType routeKey connectionId), not `"GET /pets HTTP/1.1"`.
    A rejected handshake logs `"- - -"`; then only the short tail (status requestId) tells."""
    if len(request) != 3:
        return False
    if request[0] in _WEBSOCKET_EVENTS:
        return True
    return request[2] == "-" and request[0] == "-" and tail_tokens == 2


_CSV_MAX_SPLIT = 16


def parse_csv(s: str) -> list[Any] | None:
    """REST: ip,caller,user,time,method,resourcePath,protocol,status,length,requestId,extendedRequestId.
    HTTP: ip,time,method,routeKey,protocol,status,length,requestId (time has no comma).
    WebSocket: ip,caller,user,time,eventType,routeKey,connectionId,status,requestId."""
    parts = s.rstrip("\r\n").split(",", _CSV_MAX_SPLIT)
    time_at = next((i for i in range(min(len(parts), 5)) if CLF_TIME.fullmatch(parts[i].strip())), None)
    if time_at is None or len(parts) < time_at + 3:
        return None
    fields = _Fields(FORMAT_CSV)
    if time_at >= 1:
        fields.put("ip", parts[0])
    fields.put("request_time", parts[time_at])
    after = [part.strip() for part in parts[time_at + 1 :]]
    if after[0] in _WEBSOCKET_EVENTS or (len(after) == 5 and not any(a.startswith("HTTP/") for a in after)):
        # WebSocket: ip,caller,user,time,eventType,routeKey,connectionId,status,requestId
        for name, token in zip(
            ("event_type", "route_key", "connection_id", "status", "request_id"), after, strict=False
        ):
            fields.put(name, token)
        return fields.finish()
    fields.put("http_method", after[0])
    protocol_at = next((i for i in range(2, len(after)) if after[i].startswith("HTTP/")), 2)
    _put_target(fields, ",".join(after[1:protocol_at]), default_field="resource_path" if time_at >= 3 else "route_key")
    tail = after[protocol_at : protocol_at + 5]
    for name, token in zip(
        ("protocol", "status", "response_length", "request_id", "extended_request_id"), tail, strict=False
    ):
        fields.put(name, token)
    return fields.finish()


_XML_OPEN = re.compile(r"<([A-Za-z_][\w.\-]{0,63})>")
_XML_CLOSE = re.compile(r"</([A-Za-z_][\w.\-]{0,63})>")
_XML_ID = re.compile(r'<request\s+id\s*=\s*"([^"<>]{0,256})"')
_MAX_XML_TAGS = 4096


def parse_xml(s: str, resolver: FieldResolver) -> list[Any] | None:
    """`<request id="..."><tag>value</tag>...</request>` read with a linear tag scan, not an XML parser:
    values are not escaped by API Gateway, and untrusted input must not reach an XML parser."""
    fields = _Fields(FORMAT_XML)
    found = False
    id_match = _XML_ID.match(s)
    if id_match is not None:
        fields.put("request_id", id_match.group(1))
        found = True
    closes: dict[str, list[tuple[int, int]]] = {}
    for match in islice(_XML_CLOSE.finditer(s), _MAX_XML_TAGS):
        closes.setdefault(match.group(1), []).append((match.start(), match.end()))
    cursor: dict[str, int] = {}
    taken: list[tuple[str, str]] = []
    resume = 0
    for match in islice(_XML_OPEN.finditer(s), _MAX_XML_TAGS):
        if match.start() < resume:
            continue  # an opening tag inside a value we already took
        tag = match.group(1)
        ends = closes.get(tag)
        if not ends:
            continue
        at = cursor.get(tag, 0)
        while at < len(ends) and ends[at][0] < match.end():
            at += 1
        cursor[tag] = at
        if at == len(ends):
            continue
        taken.append((tag, s[match.end() : ends[at][0]]))
        resume = ends[at][1]
        cursor[tag] = at + 1
    chosen = resolver.choose(tag for tag, _value in taken)
    by_tag = dict(reversed(taken))
    for _index, (tag, target) in chosen.items():
        if target[3] == "request_id" and found:
            continue
        fields.put(target[3], by_tag[tag], target[1])
        found = True
    return fields.finish() if found else None

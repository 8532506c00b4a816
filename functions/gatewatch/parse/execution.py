"""Execution-log parsing: strip prefixes from each line and group the lines of one request.

Why this module exists: API Gateway writes one execution-log event per step of a request, prefixed
with `(requestId) ` (REST UUIDs, WebSocket `PDS1PEC4oAMFpyA=`-style ids). The events of many requests
interleave, one request can span two subscription deliveries, 2016-era and console *Test* output has
no request-id prefix at all, and exported/copied logs add a viewer prefix (console time, ISO time,
zappa, Logs Insights). The classifier needs "all lines of one request, with its final status", so
this module turns a stream of `LogEvent`s into `ExecutionRequest`s. It extracts *structure* only
(id, status, method, path, latency, api/stage); deciding the cause is `classify`'s job.

Hot path: a CloudWatch message has only the `(id) ` prefix, so that is tried first with
`startswith("(")` + a bounded `find(") ")`; every other decision is a dict lookup on the first six
characters of the text or a `str.startswith`. The single regex (integration latency) runs only on
lines that already start with `Received response`. Every search is bounded or linear, so a 100 KB
adversarial line costs linear time, and nothing here raises on any `str`.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass

from gatewatch.models import ExecutionRequest, LogEvent

__all__ = [
    "ExecutionAssembler",
    "ExecutionLine",
    "looks_like_execution_line",
    "parse_execution_line",
]

# A request id never exceeds this (UUID = 36, WebSocket = 16, test ids ~20); bounds every id search.
MAX_ID_CHARS = 128
# What one stored line may hold: real messages are capped at 1 KB + " [TRUNCATED]"; console output can
# be longer, but nothing past this helps classification. Bounds memory for 1 MB lines.
MAX_LINE_CHARS = 8_192
# How many recently completed request ids are remembered, so their trailing lines
# ("AWS Integration Endpoint RequestId : …", "X-ray Tracing ID : …") are not mistaken for new requests.
COMPLETED_MEMORY = 4_096

TRUNCATED_MARKER = " [TRUNCATED]"
_TRUNCATED_LEN = len(TRUNCATED_MARKER)
_ID_SEARCH_END = MAX_ID_CHARS + 2  # ") " must appear within this many characters of the "("
_EOL = ("\n", "\r")

# ---------------------------------------------------------------------------------------------------
# Line prefixes
# ---------------------------------------------------------------------------------------------------

# Console *Test* output: "Thu Aug 31 01:07:25 UTC 2017 : "
_CONSOLE_TS = re.compile(r"[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d [A-Z]{2,5} \d{4} : ")
# S3 export / sls logs "2016-10-01T10:55:45.611Z ", "2020-07-02T11:34:31.881-04:00 ";
# Logs Insights "2024-06-04 18:49:51.785\t".
_ISO_TS = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?[\t ]")
# zappa tail: "[2b4492] [2016-10-11 15:26:57] "
_ZAPPA = re.compile(r"\[[0-9A-Za-z]{1,32}\] \[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:[.,]\d{1,9})?\] ")
# CloudWatch console "17:04:28 "
_HMS = re.compile(r"\d\d:\d\d:\d\d(?:[.,]\d{1,9})? ")

_DIGITS = frozenset("0123456789")
_UPPER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")

# Known message starts (REST and WebSocket, all eras). Used by the sniffer and to tell a
# continuation line of a multi-line message from the next real line of a plain-text file.
KNOWN_MESSAGE_STARTS: tuple[str, ...] = (
    "Method completed with status",
    "Method request",
    "Method response",
    "Execution failed",
    "Execution log for request",
    "Extended Request Id",
    "Starting execution",
    "Starting authorizer",
    "Verifying Usage Plan",
    "Usage Plan",
    "API Key ",
    "API Key:",
    "Key throttle limit",
    "Method throttle limit",
    "Stage throttle limit",
    "Account throttle limit",
    "Endpoint request",
    "Endpoint response",
    "Lambda execution failed",
    "Lambda invocation failed",
    "HTTP Method:",
    "Received response",
    "Sending request",
    "Unauthorized request",
    "Gateway response",
    "Authorizer",
    "Incoming identity",
    "Successfully completed",
    "X-ray Tracing ID",
    "AWS Integration Endpoint RequestId",
    "Request validation",
    "Request body does not match",
    "Client [",
    "Access denied. Reason:",  # mutual TLS: the client certificate was refused
    "The client is not authorized",  # a resource policy or authorizer denied the call
    "The IAM role configured on",  # HTTP API authorizer / integration role permission
    "The response from the Lambda Authorizer",
    "Invalid JSON in response",
)

#: Lines without a request id further apart than this are different requests: a request cannot last
#: longer than API Gateway's longest integration timeout (REST can raise it past 29 s) plus its own work.
ANONYMOUS_GAP_MS = 5 * 60 * 1000

# Lines that must survive the per-request line cap: the outcome and anything that can be a cause.
_KEY_LINE_STARTS: tuple[str, ...] = (
    "Method completed with status",
    "Execution failed",
    "Lambda execution failed",
    "Lambda invocation failed",
    "Unauthorized request",
    "Gateway response",
    "Access denied. Reason:",
    "The client is not authorized",
    "Key throttle limit",
    "Method throttle limit",
    "Stage throttle limit",
    "Account throttle limit",
    "API Key ",
    "Usage Plan check failed",
    "AuthorizerConfigurationException",
    "Received response",
    "HTTP Method:",
)


@dataclass(frozen=True, slots=True)
class ExecutionLine:
    """One execution-log message with its prefixes removed."""

    request_id: str | None  # from the "(id) " prefix; UUID (REST) or other ids (WebSocket, "test-request")
    text: str  # message without any prefix
    truncated: bool  # ended in " [TRUNCATED]" (marker removed from text)


def _split(message: str) -> tuple[str | None, str, bool, bool]:
    """(request id, text, truncated, had any prefix). The one place prefixes are understood."""
    if message.__class__ is not str:
        message = "" if message is None else str(message)
    # Fast path: a real CloudWatch message, "(id) text".
    if message.startswith("("):
        end = message.find(") ", 1, _ID_SEARCH_END)
        if end > 1:
            rid = message[1:end]
            if " " not in rid:
                return _finish(rid, message[end + 2 :], True)
        return _finish(None, message, False)
    first = message[:1]
    m = None
    if first in _UPPER:
        m = _CONSOLE_TS.match(message)
    elif first in _DIGITS:
        m = _ISO_TS.match(message) or _HMS.match(message)
    elif first == "[":
        m = _ZAPPA.match(message)
    if m is None:
        return _finish(None, message, False)
    text = message[m.end() :]
    if text.startswith("("):
        end = text.find(") ", 1, _ID_SEARCH_END)
        if end > 1:
            rid = text[1:end]
            if " " not in rid:
                return _finish(rid, text[end + 2 :], True)
    return _finish(None, text, True)


def _finish(rid: str | None, text: str, prefixed: bool) -> tuple[str | None, str, bool, bool]:
    """Drop a file's line ending and the ` [TRUNCATED]` marker."""
    if text.endswith(_EOL):
        text = text.rstrip("\r\n")
    if text.endswith(TRUNCATED_MARKER):
        return rid, text[:-_TRUNCATED_LEN], True, prefixed
    return rid, text, False, prefixed


def parse_execution_line(message: str) -> ExecutionLine:
    """Strip viewer/tool prefixes, then the `(requestId) ` prefix, then ` [TRUNCATED]`. Never raises."""
    rid, text, truncated, _ = _split(message)
    return ExecutionLine(rid, text, truncated)


def _is_uuid(value: str) -> bool:
    return len(value) == 36 and value[8] == value[13] == value[18] == value[23] == "-"


def looks_like_execution_line(message: str) -> bool:
    """Cheap sniff: is this recognisably execution-log text? False for JSON/CLF/CSV/XML access lines."""
    rid, text, _, _ = _split(message)
    if text.startswith(KNOWN_MESSAGE_STARTS):
        return True
    # An unknown message behind a UUID "(id) " prefix is still execution-log text (e.g. a new message).
    return rid is not None and _is_uuid(rid)


# ---------------------------------------------------------------------------------------------------
# Field extraction (only on lines whose first characters matched)
# ---------------------------------------------------------------------------------------------------

_RECEIVED = re.compile(r"Received response\. (?:Status: (\d{3}), )?Integration latency: (\d{1,12}(?:\.\d{1,6})?) ms")

_COMPLETED = "Method completed with status:"
_HTTP_METHOD = "HTTP Method: "
_RESOURCE_PATH = ", Resource Path: "
_VERIFYING = "Verifying Usage Plan for request: "
_USAGE_OK = "Usage Plan check succeeded"
_STARTING_EXEC = "Starting execution for request: "
_STARTING_AUTH = "Starting authorizer: "
_FOR_REQUEST = " for request: "
_UNAUTHORIZED = "Unauthorized request: "
_HEADER = "Execution log for request "
_GATEWAY_RESPONSE = "Gateway response type: "
_STATUS_CODE = "with status code: "

# Dispatch on the first six characters of the text: one dict lookup per line decides whether the
# line carries anything to extract.
(
    _K_COMPLETED,
    _K_HTTP,
    _K_RECEIVED,
    _K_VERIFY,
    _K_USAGE,
    _K_START,
    _K_EXECUTION,
    _K_GATEWAY,
    _K_UNAUTH,
    _K_EXT,
    _K_TRAILER,
) = range(11)  # _K_TRAILER: lines written after "Method completed"; they never open a request
_DISPATCH: dict[str, int] = {
    "Method": _K_COMPLETED,
    "HTTP M": _K_HTTP,
    "Receiv": _K_RECEIVED,
    "Verify": _K_VERIFY,
    "Usage ": _K_USAGE,
    "Starti": _K_START,
    "Execut": _K_EXECUTION,
    "Gatewa": _K_GATEWAY,
    "Unauth": _K_UNAUTH,
    "Extend": _K_EXT,
    "AWS In": _K_TRAILER,
    "X-ray ": _K_TRAILER,
}


def _token(text: str, start: int) -> str | None:
    """The id-like token at `start` (bounded), without a trailing '.'; None when empty."""
    chunk = text[start : start + MAX_ID_CHARS + 2].lstrip(" ")
    if not chunk:
        return None
    parts = chunk.split(None, 1)
    tok = parts[0].rstrip(".") if parts else ""
    return tok[:MAX_ID_CHARS] or None


def _status_at(text: str, start: int) -> int | None:
    digits = text[start : start + 8].strip()
    if 1 <= len(digits) <= 3 and digits.isdigit():
        return int(digits)
    return None


def _api_stage(text: str) -> tuple[str | None, str | None]:
    """`{apiId}/{stage}` after the last "API Stage" of a usage-plan line; a masked api id gives None."""
    i = text.rfind("API Stage")
    if i < 0:
        return None, None
    value = _token(text, i + 9 + (1 if text[i + 9 : i + 10] == ":" else 0))
    if not value or "/" not in value:
        return None, None
    api, _, stage = value.partition("/")
    if api.startswith("*") or api.startswith("<"):
        api = ""
    if stage.startswith("<"):
        stage = ""
    return api or None, stage.rstrip(":") or None


def _text_request_id(text: str, kind: int) -> str | None:
    """The request id an id-less line names in its text (2016-era and console output)."""
    if kind == _K_VERIFY and text.startswith(_VERIFYING):
        return _token(text, len(_VERIFYING))
    if kind == _K_START:
        if text.startswith(_STARTING_EXEC):
            return _token(text, len(_STARTING_EXEC))
        if text.startswith(_STARTING_AUTH):
            i = text.find(_FOR_REQUEST, 0, len(_STARTING_AUTH) + MAX_ID_CHARS + len(_FOR_REQUEST))
            return _token(text, i + len(_FOR_REQUEST)) if i >= 0 else None
    if kind == _K_UNAUTH and text.startswith(_UNAUTHORIZED):
        return _token(text, len(_UNAUTHORIZED))
    return None


# ---------------------------------------------------------------------------------------------------
# Grouping
# ---------------------------------------------------------------------------------------------------


class _Pending:
    """A request being assembled (mutable; becomes a frozen ExecutionRequest when emitted)."""

    __slots__ = (
        "api_id",
        "first_ts",
        "fresh",
        "gateway_status",
        "http_method",
        "integration_latency_ms",
        "last_ts",
        "lines",
        "log_group",
        "request_id",
        "resource_path",
        "stage",
        "status",
        "text_id",
    )

    def __init__(self, request_id: str | None) -> None:
        self.request_id = request_id
        self.lines: list[str] = []
        self.api_id: str | None = None
        self.stage: str | None = None
        self.log_group: str | None = None
        self.first_ts: int | None = None
        self.last_ts: int | None = None
        self.status: int | None = None
        self.gateway_status: int | None = None
        self.http_method: str | None = None
        self.resource_path: str | None = None
        self.integration_latency_ms: float | None = None
        self.text_id: str | None = None  # anonymous requests: the id named by the lines' text
        self.fresh = True  # anonymous requests: nothing but a console header so far

    def to_request(self, complete: bool) -> ExecutionRequest:
        return ExecutionRequest(
            request_id=self.request_id,
            lines=tuple(self.lines),
            api_id=self.api_id,
            stage=self.stage,
            log_group=self.log_group,
            first_timestamp=self.first_ts,
            last_timestamp=self.last_ts,
            status=self.status if self.status is not None else self.gateway_status,
            http_method=self.http_method,
            resource_path=self.resource_path,
            integration_latency_ms=self.integration_latency_ms,
            complete=complete,
        )


class ExecutionAssembler:
    """Groups lines by request id across events, batches and documents of one input; emits a request when it completes.

    A request completes at "Method completed with status: N". Lines without a `(id) ` prefix belong to
    the current "anonymous" request, which a console header, a "Starting execution / Verifying Usage
    Plan / Starting authorizer for request: {id}" line naming another id, or a completed request ends.
    Memory is bounded: at most `max_pending` open requests (the oldest is evicted and returned as
    incomplete, so nothing is silently lost) and `max_lines_per_request` lines each (outcome and
    cause-like lines are kept past the cap, up to twice the cap).
    """

    __slots__ = ("_anon_key", "_anon_seq", "_completed", "_last_key", "_max_lines", "_max_pending", "_pending")

    def __init__(self, *, max_pending: int = 10_000, max_lines_per_request: int = 200) -> None:
        self._max_pending = max(1, int(max_pending))
        self._max_lines = max(1, int(max_lines_per_request))
        # key: request id (str) for prefixed lines, an int for anonymous requests; insertion = age.
        self._pending: OrderedDict[str | int, _Pending] = OrderedDict()
        self._completed: OrderedDict[str, None] = OrderedDict()
        self._anon_key: int | None = None
        self._anon_seq = 0
        self._last_key: str | int | None = None  # the request that received the previous line

    @property
    def pending(self) -> int:
        """How many requests are open (seen, not yet completed)."""
        return len(self._pending)

    # -- public --------------------------------------------------------------------------------------

    def add(
        self, event: LogEvent, *, log_group: str | None = None, api_id: str | None = None, stage: str | None = None
    ) -> list[ExecutionRequest]:
        """Add one event; return the requests it completed (usually [] or [one]) plus any it evicted."""
        return self.add_message(event.message, event.timestamp, log_group, api_id, stage)

    def add_message(
        self,
        message: str,
        ts: int | None,
        log_group: str | None = None,
        api_id: str | None = None,
        stage: str | None = None,
    ) -> list[ExecutionRequest]:
        """`add` for a message and its timestamp (a decoded payload's columns: no LogEvent needed)."""
        rid, text, _, prefixed = _split(message)
        kind = _DISPATCH.get(text[:6], -1)
        out: list[ExecutionRequest] = []

        if rid is not None:
            key: str | int = rid
            p = self._pending.get(rid)
            if p is None:
                if kind == _K_TRAILER:
                    return out  # tail of a request already emitted (or never seen): nothing to add
                if rid in self._completed:
                    if not self._starts_request(text, kind):
                        return out  # late line of a completed request
                    del self._completed[rid]
                p = self._open(rid, _Pending(rid), out)
        else:
            if not prefixed and kind < 0 and not text.startswith(KNOWN_MESSAGE_STARTS):
                if self._continue(text):
                    return out
                if not text.strip():
                    return out
            p = self._anonymous_target(text, kind, ts, out)
            if p is None:
                return out
            key = self._anon_key  # type: ignore[assignment]

        self._last_key = key
        # Store the line (bounded), then extract what it says about the request.
        lines = p.lines
        n = len(lines)
        if n < self._max_lines or (n < 2 * self._max_lines and text.startswith(_KEY_LINE_STARTS)):
            lines.append(text if len(text) <= MAX_LINE_CHARS else text[:MAX_LINE_CHARS])
        if ts is not None:
            if p.first_ts is None or ts < p.first_ts:
                p.first_ts = ts
            if p.last_ts is None or ts > p.last_ts:
                p.last_ts = ts
        if log_group is not None and p.log_group is None:
            p.log_group = log_group
        if api_id is not None:
            p.api_id = api_id
        if stage is not None:
            p.stage = stage
        if kind >= 0:
            _extract(p, text, kind, api_id is None or stage is None)
        if p.status is not None:
            del self._pending[key]
            if key == self._anon_key:
                self._anon_key = None
            elif isinstance(key, str):
                self._remember_completed(key)
            self._last_key = None
            out.append(p.to_request(True))
        return out

    def end_anonymous(self) -> list[ExecutionRequest]:
        """A boundary in pasted text (a blank line): the current request without an id gets no more lines."""
        out: list[ExecutionRequest] = []
        self._close_anonymous(out)
        return out

    def drain(self) -> list[ExecutionRequest]:
        """The incomplete requests (complete=False) at end of input, oldest first; clears them."""
        out = [p.to_request(False) for p in self._pending.values()]
        self._pending.clear()
        self._anon_key = None
        self._last_key = None
        return out

    # -- internals -----------------------------------------------------------------------------------

    @staticmethod
    def _starts_request(text: str, kind: int) -> bool:
        if kind in (_K_EXT, _K_VERIFY):
            return True
        return kind == _K_START and (text.startswith(_STARTING_EXEC) or text.startswith(_STARTING_AUTH))

    def _open(self, key: str | int, p: _Pending, out: list[ExecutionRequest]) -> _Pending:
        """Register a new open request; evict the oldest ones (as incomplete) past max_pending."""
        pending = self._pending
        pending[key] = p
        while len(pending) > self._max_pending:
            old_key, old = pending.popitem(last=False)
            if old_key == self._anon_key:
                self._anon_key = None
            if old_key == self._last_key:
                self._last_key = None
            out.append(old.to_request(False))
        return p

    def _close_anonymous(self, out: list[ExecutionRequest]) -> None:
        """The current anonymous request can get no more lines: emit it as incomplete."""
        if self._anon_key is not None:
            old = self._pending.pop(self._anon_key, None)
            if self._last_key == self._anon_key:
                self._last_key = None
            self._anon_key = None
            if old is not None:
                out.append(old.to_request(False))

    def _new_anonymous(self, request_id: str | None, out: list[ExecutionRequest]) -> _Pending:
        self._anon_seq += 1
        key = self._anon_seq
        p = self._open(key, _Pending(request_id), out)
        if key in self._pending:
            self._anon_key = key
        return p

    def _anonymous_target(self, text: str, kind: int, ts: int | None, out: list[ExecutionRequest]) -> _Pending | None:
        """Which anonymous request an id-less line belongs to (opening/closing one as the text says, or
        as time says: lines further apart than ANONYMOUS_GAP_MS are never one request)."""
        current = self._pending.get(self._anon_key) if self._anon_key is not None else None
        last = current.last_ts if current is not None else None
        if ts is not None and last is not None and abs(ts - last) > ANONYMOUS_GAP_MS:
            self._close_anonymous(out)
            current = None
        if kind == _K_EXECUTION and text.startswith(_HEADER):
            self._close_anonymous(out)
            p = self._new_anonymous(_token(text, len(_HEADER)), out)
            p.fresh = True
            return p
        if kind == _K_TRAILER and current is None:
            return None  # trailer of an anonymous request that already completed
        text_id = _text_request_id(text, kind) if kind in (_K_VERIFY, _K_START, _K_UNAUTH) else None
        if text_id is not None:
            if current is not None and (current.text_id is None or current.text_id == text_id):
                current.text_id = text_id
                if current.request_id is None:
                    current.request_id = text_id
                current.fresh = False
                return current
            self._close_anonymous(out)
            p = self._new_anonymous(text_id, out)
            p.text_id = text_id
            p.fresh = False
            return p
        if kind == _K_EXT and current is not None and not current.fresh:
            self._close_anonymous(out)
            current = None
        if current is None:
            current = self._new_anonymous(None, out)
        current.fresh = False
        return current

    def _continue(self, text: str) -> bool:
        """Append a prefix-less, unknown line to the previous line of the same open request."""
        key = self._last_key
        if key is None:
            return False
        p = self._pending.get(key)
        if p is None or not p.lines:
            return False
        last = p.lines[-1]
        room = MAX_LINE_CHARS - len(last) - 1
        if room > 0:
            p.lines[-1] = last + "\n" + text[:room]
        return True

    def _remember_completed(self, rid: str) -> None:
        done = self._completed
        done[rid] = None
        if len(done) > COMPLETED_MEMORY:
            done.popitem(last=False)


def _extract(p: _Pending, text: str, kind: int, need_api_stage: bool) -> None:
    """Fill the request's fields from a line whose first characters matched `_DISPATCH`."""
    if kind == _K_COMPLETED:
        if text.startswith(_COMPLETED):
            p.status = _status_at(text, len(_COMPLETED))
    elif kind == _K_HTTP:
        if text.startswith(_HTTP_METHOD) and p.http_method is None:
            method, sep, path = text[len(_HTTP_METHOD) : len(_HTTP_METHOD) + 4096].partition(_RESOURCE_PATH)
            if sep and 0 < len(method) <= 16 and method.isalpha():
                p.http_method = method.upper()
                p.resource_path = path.split("\n", 1)[0].strip() or None
    elif kind == _K_RECEIVED:
        m = _RECEIVED.match(text)
        if m is not None:
            p.integration_latency_ms = float(m.group(2))
    elif kind in (_K_VERIFY, _K_USAGE):
        if need_api_stage and (text.startswith(_VERIFYING) or text.startswith(_USAGE_OK)):
            found_api, found_stage = _api_stage(text[:1024])
            if p.api_id is None and found_api is not None:
                p.api_id = found_api
            if p.stage is None and found_stage is not None:
                p.stage = found_stage
    elif kind == _K_GATEWAY and text.startswith(_GATEWAY_RESPONSE):
        i = text.find(_STATUS_CODE, 0, 256)
        if i >= 0:
            p.gateway_status = _status_at(text, i + len(_STATUS_CODE))

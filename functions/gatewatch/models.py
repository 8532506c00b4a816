"""The engine's data, as frozen dataclasses: what each stage hands to the next.

decode -> LogBatch(LogEvent...) -> parse -> AccessRecord | ExecutionRequest -> classify ->
ClassifiedRequest -> aggregate/report. Rejection is the counted outcome of anything unreadable.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from gatewatch.classify.taxonomy import Blame, ErrorCategory, Retry


class LogKind(StrEnum):
    """Which parser a log line belongs to; also the `Source` dimension of LinesParsed/LinesUnparsed."""

    ACCESS = "access"
    EXECUTION = "execution"
    UNKNOWN = "unknown"  # decide per line by sniffing


class LatencyClass(StrEnum):
    OK = "OK"
    SLOW = "SLOW"
    NEAR_TIMEOUT = "NEAR_TIMEOUT"
    TIMEOUT = "TIMEOUT"


# Hot-path records (one per log event) are slotted but not frozen: a frozen dataclass's __init__ sets
# each field through object.__setattr__, which measured 5-6x slower (3.7 µs vs 0.65 µs for 36 fields)
# and would by itself break the 150k events/s target. Treat them as immutable all the same.
@dataclass(slots=True)
class LogEvent:
    """One CloudWatch Logs event (or one line of a text file)."""

    message: str
    timestamp: int | None = None  # epoch milliseconds
    event_id: str | None = None


class LogEvents(Sequence[LogEvent]):
    """A decoded payload's events as the columns the analyzer reads: messages and timestamps.

    Why: a 1 MB subscription delivery holds ~1,200-5,000 events, and making a LogEvent of each cost
    ~0.2 µs per event (bench/), a fifth of what a successful request costs once its line is parsed. The
    metrics-only fast path reads `messages` and `timestamps` directly; anything that iterates or
    indexes (the full path, line sniffing of unnamed log groups, tests) gets LogEvent objects, made
    once on first use.
    `as_id` turns a raw id value into the event id (str or None), also only then.
    """

    __slots__ = ("_as_id", "_events", "_ids", "messages", "timestamps")

    def __init__(
        self, messages: list[str], timestamps: list[int | None], ids: Sequence[Any] | None = None, as_id: Any = None
    ) -> None:
        self.messages = messages
        self.timestamps = timestamps
        self._ids = ids
        self._as_id = as_id
        self._events: tuple[LogEvent, ...] | None = None

    def _made(self) -> tuple[LogEvent, ...]:
        events = self._events
        if events is None:
            ids: Any = self._ids if self._ids is not None else (None for _ in self.messages)
            if self._as_id is not None:
                ids = map(self._as_id, ids)
            events = self._events = tuple(map(LogEvent, self.messages, self.timestamps, ids))
            self._ids = None
        return events

    def __len__(self) -> int:
        return len(self.messages)

    def __getitem__(self, index: Any) -> Any:
        return self._made()[index]

    def __iter__(self) -> Iterator[LogEvent]:
        return iter(self._made())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (LogEvents, tuple, list)):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._made())

    def __repr__(self) -> str:
        return f"LogEvents({len(self)} events)"


@dataclass(frozen=True, slots=True)
class LogBatch:
    """A group of events from one log group/stream: one subscription payload, one file, one page."""

    events: tuple[LogEvent, ...] | LogEvents
    log_group: str | None = None
    log_stream: str | None = None
    owner: str | None = None
    origin: str = "text"  # subscription | kinesis | firehose | filter-log-events | insights | text | ...
    kind: LogKind = LogKind.UNKNOWN  # set from the log group name when it says so


@dataclass(frozen=True, slots=True)
class Rejection:
    """Something that could not be read, with a reason a person understands and a short redacted sample."""

    source: str  # access | execution | input
    reason: str  # short slug, e.g. "invalid-base64", "not-gzip", "unrecognised-access-format"
    sample: str = ""
    detail: str = ""
    origin: str = ""  # file name or log group, when known


@dataclass(slots=True)
class AccessRecord:
    """One access-log entry with `-` already turned into None and names mapped to canonical ones."""

    format: str  # json | clf | csv | xml
    request_id: str | None = None
    extended_request_id: str | None = None
    api_id: str | None = None
    stage: str | None = None
    http_method: str | None = None
    resource_path: str | None = None  # template, e.g. /pets/{petId}
    route_key: str | None = None  # HTTP/WebSocket: "GET /pets", "$default", "$connect"
    path: str | None = None  # the raw path; never used as a metric dimension
    status: int | None = None
    protocol: str | None = None
    response_length: int | None = None
    request_time: str | None = None  # CLF time as logged
    request_time_epoch_ms: int | None = None
    ip: str | None = None
    user_agent: str | None = None
    error_response_type: str | None = None  # $context.error.responseType
    error_message: str | None = None  # $context.error.message
    integration_error: str | None = None  # $context.integration.error / integrationErrorMessage
    integration_status: int | None = None  # $context.integration.status (what the function returned)
    integration_service_status: int | None = None  # $context.integrationStatus (Lambda service status)
    integration_latency_ms: float | None = None
    response_latency_ms: float | None = None
    authorizer_latency_ms: float | None = None
    authorizer_error: str | None = None
    authorizer_status: int | None = None
    waf_response_code: str | None = None
    event_type: str | None = None  # WebSocket CONNECT/MESSAGE/DISCONNECT
    connection_id: str | None = None
    api_key_id: str | None = None
    timestamp: int | None = None  # CloudWatch event timestamp, epoch ms
    recovered: bool = False  # invalid JSON that was repaired
    fields_present: frozenset[str] = frozenset()  # canonical names the format carries
    # Keys the line carried twice (a caller's unescaped value added them): its fields from those keys are
    # absent, and it gives no Api, Stage or Route of its own and no alert (see gatewatch.parse.trust).
    suspicious: bool = False


class AccessSummary(NamedTuple):
    """What a *successful* access-log entry contributes to metrics — the analyzer's fast path.

    A tuple, not a dataclass: it is built once per 2xx/3xx event in the Lambda, where building a full
    AccessRecord and ClassifiedRequest for every successful request cost more than everything else
    (see bench/). Field names match AccessRecord's, so the route and latency helpers read either.
    """

    status: int
    api_id: str | None
    stage: str | None
    http_method: str | None
    resource_path: str | None
    route_key: str | None
    response_latency_ms: float | None
    integration_latency_ms: float | None
    authorizer_latency_ms: float | None
    timestamp: int | None
    format: str
    fields_present: frozenset[str]


@dataclass(slots=True)
class RouteTally:
    """The successful requests of one (minute, api, stage, route) in one run, for metrics only.

    The analyzer's fast path adds each successful request here directly instead of making a record
    and a classified request of it; failed requests are always classified in full.
    """

    requests: int = 0
    near_timeouts: int = 0
    latency_ms: list[float] = field(default_factory=list)
    integration_latency_ms: list[float] = field(default_factory=list)
    gateway_overhead_ms: list[float] = field(default_factory=list)

    def merge(self, other: RouteTally) -> RouteTally:
        return RouteTally(
            self.requests + other.requests,
            self.near_timeouts + other.near_timeouts,
            self.latency_ms + other.latency_ms,
            self.integration_latency_ms + other.integration_latency_ms,
            self.gateway_overhead_ms + other.gateway_overhead_ms,
        )


@dataclass(frozen=True, slots=True)
class ExecutionRequest:
    """All execution-log lines of one request id, in arrival order."""

    request_id: str | None
    lines: tuple[str, ...]
    api_id: str | None = None
    stage: str | None = None
    log_group: str | None = None
    first_timestamp: int | None = None
    last_timestamp: int | None = None
    status: int | None = None  # from "Method completed with status: N"
    http_method: str | None = None
    resource_path: str | None = None
    integration_latency_ms: float | None = None
    complete: bool = False  # saw "Method completed with status"


@dataclass(slots=True)
class ClassifiedRequest:
    """The answer for one request. `to_public_dict` is the `gatewatch classify` contract (DESIGN §4)."""

    request_id: str | None
    api_id: str | None
    stage: str | None
    route: str
    status: int | None
    category: ErrorCategory
    retry: Retry | None
    blame: Blame | None
    latency_ms: float | None
    integration_latency_ms: float | None
    latency_class: LatencyClass | None
    evidence: str
    gateway_overhead_ms: float | None = None
    timestamp: int | None = None
    source: str = "access"  # access | execution | access+execution
    log_group: str | None = None
    api_name: str | None = None
    integration_timeout_ms: int | None = None
    evidence_rank: int = 0  # how specific the evidence is (see classify.py); not part of the public output
    trusted: bool = True  # False for a request read from a suspicious line: counted, never alerted on

    def to_public_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "api_id": self.api_id,
            "stage": self.stage,
            "route": self.route,
            "status": self.status,
            "category": self.category.value,
            "retry": self.retry.value if self.retry else None,
            "blame": self.blame.value if self.blame else None,
            "latency_ms": self.latency_ms,
            "integration_latency_ms": self.integration_latency_ms,
            "latency_class": self.latency_class.value if self.latency_class else None,
            "evidence": self.evidence,
            "gateway_overhead_ms": self.gateway_overhead_ms,
            "timestamp": self.timestamp,
            "source": self.source,
            "log_group": self.log_group,
        }

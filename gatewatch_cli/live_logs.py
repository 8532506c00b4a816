"""Read live log groups with FilterLogEvents (real AWS, or any endpoint in AWS_ENDPOINT_URL)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from gatewatch.adapters.aws import aws_client
from gatewatch.ingest.payloads import kind_for_log_group
from gatewatch.models import LogBatch, LogEvent

_SINCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.I)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str) -> int:
    """`15m`, `1h`, `2d`, `1w` -> seconds; a clear ValueError otherwise."""
    m = _SINCE.match(text or "")
    if not m:
        raise ValueError(f"--since takes a duration like 30m, 1h, 2d or 1w, not {text!r}")
    return int(float(m.group(1)) * _UNIT_S[m.group(2).lower()])


def iter_log_group_batches(
    log_group: str,
    *,
    start_ms: int,
    end_ms: int | None = None,
    client: Any = None,
    on_page: Callable[[int], None] | None = None,
) -> Iterator[LogBatch]:
    """One LogBatch per FilterLogEvents page (up to 10,000 events / 1 MB), oldest first per stream."""
    client = client or aws_client("logs")
    kwargs: dict[str, Any] = {"logGroupName": log_group, "startTime": start_ms}
    if end_ms is not None:
        kwargs["endTime"] = end_ms
    kind = kind_for_log_group(log_group)
    for page in client.get_paginator("filter_log_events").paginate(**kwargs):
        raw = page.get("events") or []
        events = tuple(LogEvent(str(e.get("message", "")), e.get("timestamp"), e.get("eventId")) for e in raw)
        if on_page is not None:
            on_page(len(events))
        if events:
            yield LogBatch(events, log_group=log_group, origin="filter-log-events", kind=kind)

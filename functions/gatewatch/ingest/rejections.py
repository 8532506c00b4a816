"""Why input could not be read: the reason slugs and the one way to make an input `Rejection`.

Every reader of raw input (Lambda envelopes here, files and exports in the CLI) reports what it
cannot read the same way: a `Rejection(source="input", reason=<slug>)` with a short, redacted
sample — counted as LinesUnparsed{Source=input} and logged once per reason, never raised.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import islice
from typing import Any

from gatewatch.constants import SOURCE_INPUT
from gatewatch.models import Rejection
from gatewatch.redact import short_sample

#: How much of an offending input a Rejection keeps (printable, redacted).
SAMPLE_CHARS = 80


class Reason:
    """The `Rejection.reason` slugs of input decoding (public: tests, reports and logs use them)."""

    INVALID_BASE64 = "invalid-base64"
    NOT_COMPRESSED = "not-compressed"
    TRUNCATED = "truncated-compressed-data"
    CORRUPT = "corrupt-compressed-data"
    TRAILING_GARBAGE = "trailing-garbage"
    TOO_LARGE = "too-large"
    TOO_MANY_EVENTS = "too-many-events"
    LINE_TOO_LONG = "line-too-long"
    INVALID_JSON = "invalid-json"
    NOT_A_PAYLOAD = "not-a-cloudwatch-payload"
    MISSING_DATA = "missing-data"
    UNKNOWN_EVENT_SHAPE = "unknown-event-shape"
    UNRECOGNISED_INPUT = "unrecognised-input"
    INVALID_CSV = "invalid-csv"
    INTERNAL_ERROR = "internal-error"


def input_rejection(reason: str, sample: Any, detail: str, where: str) -> Rejection:
    """A counted rejection of raw input; `where` names the input (a file, or the event's origin)."""
    return Rejection(source=SOURCE_INPUT, reason=reason, sample=input_sample(sample), detail=detail, origin=where)


def input_sample(value: Any) -> str:
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

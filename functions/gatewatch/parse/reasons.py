"""Why an access-log line could not be read, and the one way to make its `Rejection`."""

from __future__ import annotations

from typing import Any

from gatewatch.constants import SOURCE_ACCESS
from gatewatch.models import Rejection

REASON_INVALID_JSON = "invalid-json"
REASON_UNRECOGNISED = "unrecognised-access-format"
REASON_NO_REQUEST_FIELDS = "no-status-or-request-id"
REASON_INTERNAL = "access-parser-error"

SAMPLE_CHARS = 80

# --------------------------------------------------------------------------------------------------
# Rejections
# --------------------------------------------------------------------------------------------------

_CONTROL = dict.fromkeys([*range(32), *range(127, 160)], "?")


def access_sample(message: Any) -> str:
    """The first 80 characters with control characters replaced: enough to recognise, never a full line."""
    text = message if isinstance(message, str) else repr(message)
    return text[:SAMPLE_CHARS].translate(_CONTROL)


def access_rejection(reason: str, message: Any, detail: str = "") -> Rejection:
    return Rejection(source=SOURCE_ACCESS, reason=reason, sample=access_sample(message), detail=detail[:200])

"""Lenient readers for the fields of a received JSON message (an analyzer alert, a CloudWatch alarm).

Why lenient: what arrives on the topic was written by someone else; a field of the wrong type must
become "absent" (None), never an exception, so the notifier can still show the rest of the message.
That includes the values JSON allows and Python arithmetic does not: `Infinity` and `NaN` (Python's
json reads them), integers too large for a date or a duration, and lists nested deeper than `str()`
can render.
"""

from __future__ import annotations

import math
from typing import Any


def optional_str(value: Any) -> str | None:
    """None stays None; anything else becomes its string (None when even that fails: a nesting too deep)."""
    if value is None or isinstance(value, str):
        return value
    try:
        return str(value)
    except (RecursionError, ValueError):  # a list nested 900 deep; an int past Python's digit limit
        return None


def optional_int(value: Any, *, low: int | None = None, high: int | None = None) -> int | None:
    """An int, or None for None, booleans, non-finite numbers, anything `int()` refuses, and anything
    outside [low, high] when those bounds are given."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(float("inf"))
        return None
    if (low is not None and number < low) or (high is not None and number > high):
        return None
    return number


def optional_float(value: Any) -> float | None:
    """A finite float, or None for None, booleans, the empty string, Infinity/NaN and anything `float()` refuses."""
    try:
        number = None if value is None or isinstance(value, bool) or value == "" else float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: float(10**400)
        return None
    return number if number is not None and math.isfinite(number) else None


__all__ = ["optional_float", "optional_int", "optional_str"]

"""Lenient readers for the fields of a received JSON message (an analyzer alert, a CloudWatch alarm).

Why lenient: what arrives on the topic was written by someone else; a field of the wrong type must
become "absent" (None), never an exception, so the notifier can still show the rest of the message.
"""

from __future__ import annotations

from typing import Any


def optional_str(value: Any) -> str | None:
    """None stays None; anything else becomes its string."""
    return None if value is None else str(value)


def optional_int(value: Any) -> int | None:
    """An int, or None for None, booleans and anything `int()` refuses."""
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


def optional_float(value: Any) -> float | None:
    """A float, or None for None, booleans, the empty string and anything `float()` refuses."""
    try:
        return None if value is None or isinstance(value, bool) or value == "" else float(value)
    except (TypeError, ValueError):
        return None


__all__ = ["optional_float", "optional_int", "optional_str"]

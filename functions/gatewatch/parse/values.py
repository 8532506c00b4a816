"""Access-log field values as API Gateway writes them -> Python values: `-` and "" are absent, numbers may be text.

`$context` variables are rendered unescaped and mostly as quoted strings ("200", "-"), custom formats
may log bare numbers, and hostile lines carry anything. Each conversion returns None for what is not
a value of its kind (never raises). The memo tables serve the per-line hot paths: status codes and
latencies repeat, so a conversion is one dict lookup.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gatewatch.constants import MAX_LATENCY_MS

# Value kinds (STR must stay 0: the generic reader tests `not kind`).
STR, INT, FLOAT, EPOCH_MS, QUOTED_STR = 0, 1, 2, 3, 4


def text_value(value: Any) -> str | None:
    if value.__class__ is str:
        return None if value == "-" or not value else value
    if value is None or value.__class__ is bool or not isinstance(value, (int, float)):
        return None  # null, true/false, nested objects and arrays are not a value of a scalar field
    return str(value)


def int_value(value: Any) -> int | None:
    if value.__class__ is str:
        if value == "-" or not value:
            return None
        try:
            return int(value)
        except ValueError:
            return _float_to_int(float_value(value))
    if value.__class__ is int:
        return value
    if value.__class__ is float:
        return _float_to_int(value)
    return None


def _float_to_int(value: float | None) -> int | None:
    return int(value) if value is not None and value - value == 0.0 else None  # finite: not nan, not inf


def float_value(value: Any) -> float | None:
    if value.__class__ is str:
        if value == "-" or not value:
            return None
        try:
            number = float(value)
        except ValueError:
            return None
    elif value.__class__ is int or value.__class__ is float:
        number = float(value)
    else:
        return None
    return number if number - number == 0.0 else None  # finite (inf - inf and nan - nan are nan)


def latency_value(value: Any) -> float | None:
    """A latency in milliseconds: a number from 0 to MAX_LATENCY_MS; anything else is not a latency."""
    number = float_value(value)
    return number if number is not None and 0.0 <= number <= MAX_LATENCY_MS else None


def epoch_ms_value(value: Any) -> int | None:
    """`requestTimeEpoch` is milliseconds (REST, WebSocket); a 10-digit value is seconds (HTTP, custom)."""
    number = int_value(value)
    if number is None or number < 0:
        return None
    return number * 1000 if number < 100_000_000_000 else number


def quoted_text_value(value: Any) -> str | None:
    """`$context.error.messageString` is the message wrapped in quotes: `" "Endpoint request timed out""`."""
    text = text_value(value)
    if text is None:
        return None
    text = text.strip().strip('"').strip()
    return None if text == "-" or not text else text


CONVERT: tuple[Callable[[Any], Any], ...] = (text_value, int_value, latency_value, epoch_ms_value, quoted_text_value)


class ConvertedValues(dict):
    """string value -> what `convert` makes of it, remembered (short strings only, bounded).

    The generated reader's numbers: status codes, lengths and latencies repeat, so a value is one
    dict lookup instead of string tests and a conversion. Keys are strings only (the reader checks),
    so `1`, `1.0` and `true` never meet here.
    """

    __slots__ = ("convert",)

    def __init__(self, convert: Callable[[str], Any]) -> None:
        super().__init__()
        self.convert = convert

    def __missing__(self, value: str) -> Any:
        result = self.convert(value)
        if len(value) < 24:
            if len(self) >= _CONVERTED_LIMIT:
                self.clear()
            self[value] = result
        return result


_CONVERTED_LIMIT = 50_000
CONVERTED: dict[int, ConvertedValues] = {INT: ConvertedValues(int_value), FLOAT: ConvertedValues(float_value)}


class SuccessStatusTable(dict[Any, int | None]):
    """status value -> the status when it is a success (100-399), else None.

    Every three-digit string and integer is in the table, so the generated readers decide a line with
    one lookup; anything else (" 200", "2e2", 200.5) is read by `int_value` as the generic reader does.
    (No 0 or 1 key: `True == 1`, and a JSON `true` is not a status.)
    """

    def __missing__(self, value: Any) -> int | None:
        status = int_value(value)
        return status if status is not None and 100 <= status < 400 else None


_STATUS_ENTRIES: dict[Any, int | None] = {f"{n:03d}": (n if 100 <= n < 400 else None) for n in range(1000)}
_STATUS_ENTRIES.update({n: (n if 100 <= n < 400 else None) for n in range(100, 1000)})
SUCCESS_STATUS = SuccessStatusTable(_STATUS_ENTRIES)


class MillisecondsTable(dict):
    """latency value -> float milliseconds (0..MAX_LATENCY_MS) or None ("-", ""), remembered; bounded.

    What the generated readers look a latency up in: one lookup instead of three string tests and a
    float(). A value the common case does not cover (negative, NaN, "1e3", too large, text, true) raises
    ValueError, and the caller sends that line to the full path, which reads it with `latency_value`.
    0 and 1 are never remembered as numbers: `True == 1` and `False == 0` as dict keys.
    """

    def __missing__(self, value: Any) -> float | None:
        kind = value.__class__
        if kind is str:
            if not (len(value) < 16 and value.isascii() and value.isdigit()):
                raise ValueError("not a plain latency")
            number = float(value)
            if number > MAX_LATENCY_MS:
                raise ValueError("not a plain latency")
        elif kind is int or kind is float:
            number = float(value)
            if not 0.0 <= number <= MAX_LATENCY_MS:  # also NaN
                raise ValueError("not a plain latency")
            if number == 0.0 or number == 1.0:
                return number  # not remembered: a later true/false would find it
        else:
            raise ValueError("not a plain latency")
        if len(self) >= _MS_CACHE_LIMIT:
            self.clear()
            self.update(_MS_ABSENT)
        self[value] = number
        return number


_MS_ABSENT: dict[Any, float | None] = {
    "-": None,
    "": None,
    None: None,
}  # None: a JSON null, or a field the layout lacks
_MS_CACHE_LIMIT = 50_000
MILLISECONDS = MillisecondsTable(_MS_ABSENT)

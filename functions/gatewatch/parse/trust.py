"""Is a JSON access line what API Gateway wrote, or did a caller's value add keys to it?

API Gateway pastes `$context` values into the format text without escaping them, so a user agent of
`x","apiId":"evil1","stage":"s1` turns into a valid line with a second `apiId` — and a JSON parser
keeps the last one. Such a line is *suspicious*: its duplicated keys cannot be believed, so the
reader sets every field fed by a key that appears twice with different values to absent, and the
pipeline neither takes dimensions (Api, Stage, Route) nor alerts from it.

The test is exact and cheap for ordinary lines: without a backslash in the line no value can contain
a quote, so a clean line has exactly two quotes per key and two per string value of the parsed object;
any more means a key/value pair the parsed object shadowed. A line with a backslash (escaped quotes,
`\\u0022`) is parsed again with every key/value pair kept (stdlib `json` with a pairs hook, linear).
"""

from __future__ import annotations

import json
from typing import Any


def _implied_quotes(value: Any) -> int:
    """The quote characters a JSON text of `value` has when no string contains a quote."""
    kind = value.__class__
    if kind is str:
        return 2
    if kind is dict:
        total = 2 * len(value)
        for item in value.values():
            total += 2 if item.__class__ is str else _implied_quotes(item) if item.__class__ in _NESTED else 0
        return total
    if kind is list:
        return sum(map(_implied_quotes, value))
    return 0


_NESTED = (dict, list)


def has_shadowed_keys(line: str, obj: dict[str, Any]) -> bool:
    """Does the raw line hold a key the parsed object does not (a duplicate key, last one kept)?"""
    if "\\" not in line:
        return line.count('"') != _implied_quotes(obj)
    return distrustful_object(line)[1]


def distrustful_object(line: str) -> tuple[dict[str, Any] | None, bool]:
    """The line parsed with every pair kept: a key seen twice with different values reads as absent
    (None). Returns (object or None when it is not a JSON object, whether a key was seen twice)."""
    duplicates = False

    def merge(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal duplicates
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key not in out:
                out[key] = value
            elif out[key] != value:
                out[key] = None
                duplicates = True
        return out

    try:
        obj = json.loads(line, object_pairs_hook=merge)
    except (ValueError, RecursionError):
        return None, True
    return (obj if isinstance(obj, dict) else None), duplicates

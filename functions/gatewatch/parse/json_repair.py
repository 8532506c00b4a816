"""Invalid JSON access lines, repaired: what API Gateway breaks by not escaping values.

Unescaped quotes in error messages and user agents, doubled braces, unquoted `-`, trailing garbage,
lines cut short. The scanner walks the `"key":` positions in order and takes each value up to the
next key boundary, accepting a boundary only where the value before it is well formed (a quoted
string that closes, or a bare token). Every search is a bounded regex or `str.find`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import islice
from typing import Any

import orjson

from gatewatch.models import AccessRecord, Rejection
from gatewatch.parse.fields import (
    DEFAULTS,
    FORMAT_JSON,
    I_EXTENDED_ID,
    I_FORMAT,
    I_PRESENT,
    I_RECOVERED,
    I_REQUEST_ID,
    I_STATUS,
    I_TIMESTAMP,
    FieldResolver,
    record_from_slots,
)
from gatewatch.parse.reasons import REASON_INVALID_JSON, access_rejection
from gatewatch.parse.values import CONVERT

# The tolerant scanner. A key is an identifier in quotes, after `{` or `,`, followed by `:`.
_JSON_KEY = re.compile(r'[{,][ \t\r\n]{0,64}"([\w$@.\-]{1,128})"[ \t\r\n]{0,64}:[ \t\r\n]{0,64}')
_WS = " \t\r\n"
#: Key candidates the scanner looks at per line; the rest of a longer line is left unread (linear work).
MAX_REPAIR_KEYS = 4096
#: Nested objects a repaired line may open (API Gateway formats nest two levels at most); deeper ones stay text.
MAX_REPAIR_DEPTH = 8


def recover_json_record(
    message: str, resolver: FieldResolver, timestamp: int | None, error: str
) -> AccessRecord | Rejection:
    """Repair what API Gateway breaks: unescaped quotes, `{{ }}`, unquoted `-`, trailing garbage, cut lines.

    Walks the `"key":` positions in order and takes each value up to the next key boundary, accepting a
    boundary only where the value before it is well formed (a quoted string that closes, or a bare token).
    """
    pairs = _scan_pairs(message, lambda key: _holds_text(resolver, key))
    if not pairs:
        return access_rejection(REASON_INVALID_JSON, message, error)
    chosen = resolver.choose(key for key, _raw in pairs)
    by_key: dict[str, Any] = {}
    for key, raw in pairs:
        by_key.setdefault(key, raw)
    values = list(DEFAULTS)
    values[I_FORMAT] = FORMAT_JSON
    for _index, (key, target) in chosen.items():
        raw = by_key[key]
        if raw is not None:
            values[target[0]] = CONVERT[target[1]](raw)
    if values[I_STATUS] is None and values[I_REQUEST_ID] is None and values[I_EXTENDED_ID] is None:
        return access_rejection(REASON_INVALID_JSON, message, error)
    values[I_PRESENT] = frozenset(target[3] for _key, target in chosen.values())
    values[I_RECOVERED] = True
    values[I_TIMESTAMP] = timestamp
    return record_from_slots(values)


class _Open:
    """A key whose value is still being read by the scanner."""

    __slots__ = ("first", "path", "quote")

    def __init__(self, s: str, path: str, start: int) -> None:
        end = len(s)
        first = start
        while first < end and s[first] in _WS:
            first += 1
        self.path = path
        self.first = first  # first non-blank character of the value
        # For a bare token: where the next quote is (a bare token never contains one). Found once per key.
        self.quote = -1 if first < end and s[first] == '"' else s.find('"', first)


def _judge(s: str, item: _Open, end: int) -> tuple[bool, str | None, int]:
    """Is s[item.first:end] a complete value? Returns (ok, raw value or None when absent, closing braces)."""
    last = end - 1
    closes = 0
    while last >= item.first and (s[last] in _WS or s[last] == "}"):
        if s[last] == "}":
            closes += 1
        last -= 1
    if last < item.first:
        return True, None, closes  # empty value (or the start of a nested object)
    if s[item.first] == '"':
        if last > item.first and s[last] == '"':
            return True, _decode_string(s[item.first + 1 : last]), closes
        return False, None, 0
    if item.quote == -1 or item.quote > last:
        token = s[item.first : last + 1]
        return True, (None if token == "null" else token), closes
    return False, None, 0


def _decode_string(inner: str) -> str:
    if "\\" in inner:
        try:
            decoded = orjson.loads(f'"{inner}"')
            if decoded.__class__ is str:
                return decoded
        except orjson.JSONDecodeError:
            pass
    return inner


#: Fields whose values are free text (a caller's or a backend's words): the only ones a `","k":"` in the
#: middle can belong to. An id, a status or a number never holds one.
_TEXT_FIELDS = frozenset({"error_message", "integration_error", "authorizer_error", "user_agent", "path"})


def _holds_text(resolver: FieldResolver, key: str) -> bool:
    target = resolver.resolve(key)
    return target is None or target[3] in _TEXT_FIELDS


def _scan_pairs(s: str, holds_text: Callable[[str], bool] = lambda _key: True) -> list[tuple[str, str | None]]:
    """(key, raw value) pairs in line order. A value is merged back with the key after it (that "key"
    was text inside the value) only when the value's own key `holds_text`."""
    pairs: list[tuple[str, str | None]] = []
    prefixes: list[str] = []
    current: _Open | None = None
    last_pair_mergeable = False  # the last pair may be undone when the key after it proves to be text
    previous: _Open | None = None
    for match in islice(_JSON_KEY.finditer(s), MAX_REPAIR_KEYS):
        key_start = match.start()
        if current is None:
            current = _Open(s, match.group(1), match.end())
            continue
        ok, raw, closes = _judge(s, current, key_start)
        if ok and raw is None and closes == 0 and s[key_start] == "{":
            # `"error": {` opens a nested object. The stack holds full paths, so a path is one join with
            # its parent's (never the whole stack joined again: that doubled at each level), and nesting
            # deeper than a log format does stops here (the keys below read at the deepest level kept).
            if len(prefixes) < MAX_REPAIR_DEPTH:
                prefixes.append(current.path)
            current = _Open(s, prefixes[-1] + "." + match.group(1), match.end())
            last_pair_mergeable = False
            continue
        if not ok and last_pair_mergeable and previous is not None and holds_text(previous.path):
            merged_ok, merged_raw, merged_closes = _judge(s, previous, key_start)
            if merged_ok and merged_raw is not None:
                pairs[-1] = (previous.path, merged_raw)  # the "key" we split on was inside a string
                ok, raw, closes, current = True, None, merged_closes, None
        if not ok:
            continue  # a `"x":` inside a string value: keep reading the same value
        if current is not None:
            pairs.append((current.path, raw))
            previous = current
            last_pair_mergeable = closes == 0 and raw is not None
        else:
            last_pair_mergeable = False
        for _ in range(min(closes, len(prefixes))):
            prefixes.pop()
        path = match.group(1) if not prefixes else prefixes[-1] + "." + match.group(1)
        current = _Open(s, path, match.end())
    if current is not None:
        final = _final_value(s, current)
        if final is not None:
            pairs.append((current.path, final[0]))
    return pairs


def _final_value(s: str, item: _Open) -> tuple[str | None] | None:
    """The last value runs to the last `}`; without one the line was cut and only a closed string counts."""
    brace = s.rfind("}", item.first)
    if brace >= 0:
        ok, raw, _closes = _judge(s, item, brace + 1)
        if ok:
            return (raw,)
    last = len(s) - 1
    while last >= item.first and s[last] in _WS:
        last -= 1
    if last > item.first and s[item.first] == '"' and s[last] == '"':
        return (_decode_string(s[item.first + 1 : last]),)
    return None  # a cut bare token (`"status":50`) or a cut string is not a value

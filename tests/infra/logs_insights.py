"""A small CloudWatch Logs Insights, enough to run the dashboards' queries over log lines in a test.

What it implements, as Logs Insights documents it: JSON lines' fields discovered under their keys
(nested objects flattened with `.`), `@timestamp` and `@message`; the commands `fields` (field
names, `` `quoted names` ``, string literals, `coalesce()` — the first non-null — and `concat()`),
`parse @message /regex/` (named groups become fields; no match leaves them null), `filter a >= N`
(numeric strings compare as numbers, null never matches), `stats count(*) as n by a, b`,
`sort f asc|desc`, `limit N` and `display`. Commands are one per line, each after `| `.
Anything else raises, so a query using more than this cannot pass unnoticed.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

Row = dict[str, Any]

_TOKEN = re.compile(r'\s*(`[^`]*`|"[^"]*"|[@A-Za-z_][@A-Za-z0-9_.]*|\*|[(),])')


def _discover(message: str) -> Row:
    try:
        value = json.loads(message)
    except ValueError:
        return {}
    out: Row = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, Mapping):
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            out[prefix] = node

    if isinstance(value, Mapping):
        walk("", value)
    return out


class _Expr:
    def __init__(self, text: str) -> None:
        self.tokens = list(_TOKEN.findall(text))
        if "".join(self.tokens).replace(" ", "") != text.replace(" ", ""):
            raise ValueError(f"unsupported expression: {text!r}")
        self.i = 0

    def parse(self) -> Any:
        node = self._node()
        if self.i != len(self.tokens):
            raise ValueError(f"trailing tokens in {self.tokens!r}")
        return node

    def _node(self) -> Any:
        tok = self.tokens[self.i]
        self.i += 1
        if tok.startswith('"'):
            return ("str", tok[1:-1])
        if tok.startswith("`"):
            return ("field", tok[1:-1])
        if self.i < len(self.tokens) and self.tokens[self.i] == "(":
            if tok not in ("coalesce", "concat"):
                raise ValueError(f"unsupported function {tok}()")
            self.i += 1
            args = [self._node()]
            while self.tokens[self.i] == ",":
                self.i += 1
                args.append(self._node())
            if self.tokens[self.i] != ")":
                raise ValueError("expected )")
            self.i += 1
            return (tok, args)
        return ("field", tok)


def _eval(node: Any, row: Row) -> Any:
    kind, arg = node
    if kind == "str":
        return arg
    if kind == "field":
        return row.get(arg)
    values = [_eval(a, row) for a in arg]
    if kind == "coalesce":
        return next((v for v in values if v is not None), None)
    return "".join("" if v is None else str(v) for v in values)  # concat


def _split_top(text: str) -> list[str]:
    """Comma-separated items, commas inside parentheses or quotes kept."""
    items, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in '"`':
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(text[start:i].strip())
            start = i + 1
    items.append(text[start:].strip())
    return items


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def run_query(query: str, events: Iterable[tuple[int, str]]) -> list[Row]:
    """The rows `query` returns over (timestamp ms, message) events."""
    rows: list[Row] = [{"@timestamp": ts, "@message": m, **_discover(m)} for ts, m in events]
    shown: list[str] | None = None
    for command in re.split(r"\n\| ", query.strip()):
        verb, _, raw = command.strip().partition(" ")
        rest = " ".join(raw.split())  # a command may span lines; a regex keeps its own spaces (raw)
        if verb == "fields":
            for item in _split_top(rest):
                expr, sep, alias = item.rpartition(" as ")
                node = _Expr(expr if sep else item).parse()
                name = alias if sep else item.strip("`")
                for row in rows:
                    row[name] = _eval(node, row)
        elif verb == "parse":
            source, _, pattern = raw.strip().partition(" ")
            if source != "@message" or not (pattern.startswith("/") and pattern.endswith("/")):
                raise ValueError(f"unsupported parse: {rest!r}")
            regex = re.compile(pattern[1:-1].replace("(?<", "(?P<").replace("(?P<=", "(?<=").replace("(?P<!", "(?<!"))
            for row in rows:
                found = regex.search(row["@message"])
                for name in regex.groupindex:
                    row[name] = found.group(name) if found else None
        elif verb == "filter":
            m = re.fullmatch(r"(\w+) >= (\d+)", rest)
            if not m:
                raise ValueError(f"unsupported filter: {rest!r}")
            rows = [r for r in rows if (v := _number(r.get(m[1]))) is not None and v >= float(m[2])]
        elif verb == "stats":
            m = re.fullmatch(r"count\(\*\) as (\w+) by (.+)", rest)
            if not m:
                raise ValueError(f"unsupported stats: {rest!r}")
            keys = [k.strip() for k in m[2].split(",")]
            counts = Counter(tuple(r.get(k) for k in keys) for r in rows)
            rows = [{**dict(zip(keys, group, strict=True)), m[1]: n} for group, n in counts.items()]
            shown = [*keys, m[1]]
        elif verb == "sort":
            name, _, order = rest.partition(" ")
            rows.sort(key=lambda r: (r.get(name) is None, r.get(name)), reverse=order == "desc")
        elif verb == "limit":
            rows = rows[: int(rest)]
        elif verb == "display":
            shown = [c.strip() for c in rest.split(",")]
        else:
            raise ValueError(f"unsupported command: {verb!r}")
    return [{k: r.get(k) for k in shown} for r in rows] if shown else rows

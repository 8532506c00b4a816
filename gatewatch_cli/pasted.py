"""Log text as people paste and export it, turned back into the log events API Gateway wrote.

What a line of a file may carry besides the message, each seen in real pastes (tests/events/corpus,
corpus_labeled.jsonl):

- viewer prefixes: `aws logs tail` (`<ISO time> <log stream> <message>`), awslogs (`<log group> <log
  stream> <ISO time> <message>`: the group says execution or access), the console's log view
  (`<ISO time><TAB><message>`);
- Markdown: leading whitespace and `> ` quote markers;
- quotes around a copied message (`"Thu May 04 ... : Execution failed ..."`, a trailing quote after
  `Method completed with status: 502"`) and typographic quotes (“integrationError”: “...”);
- several console *Test* lines joined into one (`... request Thu May 04 17:48:21 UTC 2024 : Method
  completed ...`, or glued after a `[TRUNCATED]` marker);
- blank lines between requests: kept as boundaries, so requests without an id are never merged;
- a lone `"key": "value"` pair out of a JSON access line: read as a one-field access entry;
- Logs Insights results pasted as a table (Markdown, or the console's tab-separated copy): `table_rows`.

Execution-log prefixes the engine understands itself (console time, ISO time, zappa) are left to it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

import orjson

_ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)"
#: awslogs: "<log group> <log stream> <ISO time> <message>"
_AWSLOGS = re.compile(rf"(API-Gateway-Execution-Logs_\S{{1,300}}|/[\w./#-]{{1,500}}) (\S{{1,512}}) ({_ISO}) ")
#: aws logs tail: "<ISO time> <log stream> <message>" (the stream is a token without spaces)
_LOGS_TAIL = re.compile(rf"({_ISO}) ([0-9a-f]{{32}}|\S{{0,256}}[/\[]\S{{0,256}}) ")
#: the console's log view copied: "<ISO time><TAB><message>"
_ISO_TAB = re.compile(rf"({_ISO})\t")
_QUOTE_MARKERS = re.compile(r"(?:>[ \t]?)+")
#: where a console Test line starts inside another (joined on one line, or glued after [TRUNCATED])
_EMBEDDED_CONSOLE = re.compile(
    r"(?: |(?<=\[TRUNCATED\]))(?=[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d UTC \d{4} : )"
)
_STATUS_THEN_QUOTE = re.compile(r'status: \d{3}"\s*$')
_LONE_PAIR = re.compile(r'["“]([\w.$@-]{1,128})["”][ \t]*:[ \t]*["“](.*)["”][.,]?')
_TYPOGRAPHIC = str.maketrans({"“": '"', "”": '"'})


@dataclass(frozen=True, slots=True)
class PastedLine:
    """One log event recovered from a pasted line. An empty message is a boundary (a blank line)."""

    message: str
    timestamp: int | None = None
    log_group: str | None = None
    fragment: bool = False  # a lone "key": "value" pair, made into a one-field JSON access entry


def iso_ms(text: str) -> int | None:
    """Epoch milliseconds of an ISO 8601 time with a zone (None when it does not parse)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return int(moment.timestamp() * 1000)


def normalize_lines(lines: Iterable[str]) -> Iterator[PastedLine]:
    """The log events of pasted or exported text lines (see the module docstring)."""
    in_quote = False
    seen_text = blank_pending = False
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line.strip():
            blank_pending = seen_text  # a boundary between two lines of text, never at either end
            continue
        if blank_pending:
            yield PastedLine("")
            blank_pending = False
        seen_text = True
        text = line.lstrip(" \t")
        if text[:1] == ">":
            text = _QUOTE_MARKERS.sub("", text, count=1).lstrip(" \t")
        if text[:1] == '"' and text[1:2] not in ("{", "[", '"'):
            text, in_quote = text[1:], True
        if text.endswith('"') and (in_quote or _STATUS_THEN_QUOTE.search(text)):
            text, in_quote = text[:-1], False
        yield from _unprefixed(text)


def _unprefixed(text: str) -> Iterator[PastedLine]:
    timestamp: int | None = None
    group: str | None = None
    match = _AWSLOGS.match(text)
    if match is not None:
        group, timestamp, text = match.group(1), iso_ms(match.group(3)), text[match.end() :]
    else:
        match = _LOGS_TAIL.match(text) or _ISO_TAB.match(text)
        if match is not None:
            timestamp, text = iso_ms(match.group(1)), text[match.end() :]
    pair = _LONE_PAIR.fullmatch(text.strip())
    if pair is not None and not text.lstrip().startswith("{"):
        yield PastedLine(
            orjson.dumps({pair.group(1): pair.group(2).translate(_TYPOGRAPHIC)}).decode(), timestamp, group, True
        )
        return
    for part in _EMBEDDED_CONSOLE.split(text):
        if part.strip():
            yield PastedLine(part, timestamp, group)


#: A Markdown table's separator row: `| --- | :---: |`
_MD_SEPARATOR = re.compile(r"\|?(?:\s*:?-{3,}:?\s*\|)+\s*:?-{0,}:?\s*")


def table_rows(text: str) -> list[dict[str, str]] | None:
    """The rows of a Logs Insights result pasted as a table, or None when the text is not one.

    Two shapes: a Markdown table (the console's "Copy as markdown": header, `| --- |` separator, rows;
    `/` escaped as `&#x2f;`), and the console's tab-separated copy, whose header starts with `@timestamp`
    and pads its names with extra tabs (the rows do not)."""
    lines = [line.rstrip("\r") for line in text.split("\n") if line.strip()]
    table = _markdown_table(lines) or _tab_table(lines)
    if table is None:
        return None
    header, rows = table
    return [dict(zip(header, (html.unescape(cell.strip()) for cell in row), strict=False)) for row in rows]


def _markdown_table(lines: list[str]) -> tuple[list[str], list[list[str]]] | None:
    if len(lines) < 2 or not lines[0].lstrip().startswith("|") or not _MD_SEPARATOR.fullmatch(lines[1].strip()):
        return None
    header = [name.strip() for name in _md_cells(lines[0])]
    return header, [_md_cells(line) for line in lines[2:] if line.lstrip().startswith("|")]


def _tab_table(lines: list[str]) -> tuple[list[str], list[list[str]]] | None:
    if not lines or not lines[0].startswith("@timestamp\t"):
        return None
    header = [name.strip() for name in lines[0].split("\t") if name.strip()]
    return header, [_tab_cells(line, len(header)) for line in lines[1:]]


def _tab_cells(line: str, columns: int) -> list[str]:
    """A row's cells: split on each tab, or — when the copy padded the row too — on runs of tabs."""
    cells = line.split("\t")
    if len(cells) != columns:
        packed = [cell for cell in cells if cell.strip()]
        if len(packed) == columns:
            return packed
    return cells


def _md_cells(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") else inner
    return inner.split("|")

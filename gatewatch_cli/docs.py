"""Reference pages generated from the code (the taxonomy table, the input bounds), so the docs cannot drift.

A page under docs/ holds a generated block between `<!-- BEGIN GENERATED: name -->` and
`<!-- END GENERATED: name -->`: `categories` lives in docs/categories.md, `troubleshooting` in
docs/troubleshooting.md, `bounds` in docs/limits.md. `gatewatch docs categories|troubleshooting|bounds`
prints a block;
`python -m gatewatch_cli.docs --write [PATH]` rewrites the blocks of every page under PATH (a folder,
docs/ by default, or one file); tests/unit/test_docs.py fails when a committed block differs from
what this module generates.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from gatewatch.classify.taxonomy import CATEGORY_TABLE, STATUS_FALLBACK, Blame, CategoryInfo, Retry

#: Where the pages with generated blocks live, relative to the repository root.
DOCS_DIR = Path("docs")

_RETRY_WORDS = {
    "no": "No",
    "yes": "Yes",
    "backoff": "Yes, with exponential backoff",
    "later": "Only after the quota resets",
}

_BLOCK = re.compile(r"(<!-- BEGIN GENERATED: ([\w-]+) -->\n)(.*?)(<!-- END GENERATED: \2 -->)", re.S)
_MARKER = "<!-- BEGIN GENERATED:"


def _error_categories() -> list[tuple[CategoryInfo, Retry, Blame]]:
    """Every category but OK (the only one without retry advice and blame), in the table's order."""
    return [
        (info, info.retry, info.blame)
        for info in CATEGORY_TABLE.values()
        if info.retry is not None and info.blame is not None
    ]


def category_table_markdown() -> str:
    rows = ["| category | typical status | retry | blame | what it means |", "|---|---|---|---|---|"]
    for info, retry, blame in _error_categories():
        rows.append(
            f"| `{info.category.value}` | {info.status_label} | {retry.value} | {blame.value} | {info.meaning} |"
        )
    fallback = ", ".join(f"{s} → `{c.value}`" for s, c in STATUS_FALLBACK.items())
    rows += [
        "",
        f"With nothing but a status code: {fallback}; any other 4xx/5xx → `CLIENT_ERROR_OTHER`/"
        "`SERVER_ERROR_OTHER` — and the report names the access-log fields that would tell more.",
    ]
    return "\n".join(rows)


def troubleshooting_markdown() -> str:
    out: list[str] = []
    for info, retry, blame in _error_categories():
        out += [
            f"## `{info.category.value}` — {info.title}",
            "",
            f"*Status {info.status_label} · blame: {blame.value} · retry: {_RETRY_WORDS[retry.value]}*",
            "",
            f"**What it means.** {info.meaning}",
            "",
            f"**How gatewatch knows.** {info.evidence}",
            "",
            f"**How to fix it.** {info.fix}",
            "",
        ]
    return "\n".join(out).rstrip() + "\n"


def _size(n: int) -> str:
    """Bytes in the largest binary unit that divides them (16 MiB, 2 GiB)."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n:,} bytes"


def _duration(ms: int) -> str:
    """Milliseconds as days, hours and minutes (13 d 23 h 50 min); under two days in hours (24 h)."""
    minutes = ms // 60_000
    days, rest = divmod(minutes, 24 * 60) if minutes >= 2 * 24 * 60 else (0, minutes)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{mins} min" if mins else ""]
    return " ".join(p for p in parts if p) or f"{ms} ms"


def bounds_markdown() -> str:
    """What any one input can cost at most, and what happens beyond each bound.

    Why generated: these figures are the answer to "can a crafted log line or delivery hurt the Lambda
    or the bill"; a figure changed in the code and not in the docs would be a false promise.
    """
    # Imported here, not at the top: `gatewatch --help` and the other docs blocks need none of the engine.
    from gatewatch.constants import (
        DEFAULT_ROUTE_CAP,
        EMF_MAX_FUTURE_MS,
        EMF_MAX_PAST_MS,
        MAX_DIMENSION_VALUE_LENGTH,
        MAX_LATENCY_MS,
        ROUTE_OTHER,
        ROUTE_UNMATCHED,
        SOURCE_INPUT,
        SOURCE_OUT_OF_WINDOW,
    )
    from gatewatch.ingest.lambda_events import MAX_EVENTS_PER_RECORD, MAX_SUBSCRIPTION_BYTES
    from gatewatch.ingest.rejections import Reason
    from gatewatch.metrics.aggregate import MAX_STAGES_PER_API, MAX_UNCONFIGURED_APIS, UNKNOWN
    from gatewatch.metrics.emf import MAX_VALUES_PER_METRIC
    from gatewatch.parse.access import MAX_FLATTEN_DEPTH
    from gatewatch.parse.execution import MAX_ID_CHARS, MAX_LINE_CHARS
    from gatewatch.parse.json_repair import MAX_REPAIR_DEPTH, MAX_REPAIR_KEYS
    from gatewatch_cli.streams import MAX_FILE_BYTES, MAX_LINE_BYTES, MAX_WHOLE_INPUT

    unparsed = "`LinesUnparsed{{Source={}}}`, reason `{}`"
    batch_bytes, batch_events = 1 << 20, 10_000  # what one PutLogEvents call may carry
    rows = [
        ("**Lambda input**", "", ""),
        (
            "decompressed size of one record (subscription delivery, Kinesis or Firehose record)",
            f"{_size(MAX_SUBSCRIPTION_BYTES)} ({MAX_SUBSCRIPTION_BYTES / batch_bytes:g} × the {_size(batch_bytes)} "
            "PutLogEvents batch)",
            "the record is rejected before anything is parsed: " + unparsed.format(SOURCE_INPUT, Reason.TOO_LARGE),
        ),
        (
            "log events in one record",
            f"{MAX_EVENTS_PER_RECORD:,} ({MAX_EVENTS_PER_RECORD / batch_events:g} × PutLogEvents' {batch_events:,})",
            "rejected before a single event is made: " + unparsed.format(SOURCE_INPUT, Reason.TOO_MANY_EVENTS),
        ),
        ("**Parsing**", "", ""),
        (
            "characters of one execution line kept for classification",
            f"{MAX_LINE_CHARS:,}",
            "the rest is not read (API Gateway itself cuts execution messages at 1 KB + `[TRUNCATED]`)",
        ),
        ("characters of a request id", f"{MAX_ID_CHARS}", "longer text is not an id"),
        (
            "nesting of a JSON access line flattened into dotted keys",
            f"{MAX_FLATTEN_DEPTH} levels",
            "deeper objects are ignored",
        ),
        (
            "repair of a broken JSON access line (unescaped quotes)",
            f"{MAX_REPAIR_KEYS:,} keys, {MAX_REPAIR_DEPTH} nested objects",
            "the rest of the line is left as text; the work stays linear in the line's length",
        ),
        (
            "a latency gatewatch believes",
            f"0 to {_duration(MAX_LATENCY_MS)}",
            'read as not logged ("1e300", negative values): no metric value outside CloudWatch\'s range',
        ),
        ("**Metrics**", "", ""),
        (
            "age of a request's minute",
            f"{_duration(EMF_MAX_PAST_MS)} back, {_duration(EMF_MAX_FUTURE_MS)} ahead (CloudWatch's EMF "
            "window, 10 min inside each edge)",
            f"counted, not published at a wrong time: `LinesUnparsed{{Source={SOURCE_OUT_OF_WINDOW}}}`",
        ),
        (
            "`Api` values per invocation",
            f"the configured APIs; without configuration the {MAX_UNCONFIGURED_APIS} busiest API-id-shaped ids",
            f"any other api id is `{UNKNOWN}`",
        ),
        ("`Stage` values per API and invocation", f"{MAX_STAGES_PER_API}, stage-shaped", f"`{UNKNOWN}`"),
        (
            "`Route` values per API stage",
            f"the API's `routes` + `{ROUTE_UNMATCHED}` + `{ROUTE_OTHER}`; without `routes` the `routeCap` "
            f"({DEFAULT_ROUTE_CAP}) busiest per invocation, from API Gateway's templates only",
            f"`{ROUTE_OTHER}`",
        ),
        ("characters of a dimension value", f"{MAX_DIMENSION_VALUE_LENGTH}", "cut"),
        ("latency values per EMF metric array", f"{MAX_VALUES_PER_METRIC}", "another EMF document: none is dropped"),
        ("**CLI** (`gatewatch analyze`, `classify`)", "", ""),
        ("decompressed bytes read from one input", _size(MAX_FILE_BYTES), f"reason `{Reason.TOO_LARGE}`"),
        (
            "an input that is one JSON document (read whole)",
            _size(MAX_WHOLE_INPUT),
            f"reason `{Reason.TOO_LARGE}`, which says to split it into JSON Lines",
        ),
        ("one text line", _size(MAX_LINE_BYTES), f"skipped and counted, reason `{Reason.LINE_TOO_LONG}`"),
    ]
    out = ["| what | bound | beyond it |", "|---|---|---|"]
    out += [f"| {what} | {bound} | {beyond} |" for what, bound, beyond in rows]
    return "\n".join(out)


SECTIONS: dict[str, Callable[[], str]] = {
    "categories": category_table_markdown,
    "troubleshooting": troubleshooting_markdown,
    "bounds": bounds_markdown,
}


def generated_blocks(text: str) -> dict[str, str]:
    """The generated blocks of a page, by name, as committed (the text between the markers)."""
    return {m.group(2): m.group(3) for m in _BLOCK.finditer(text)}


def render_sections(text: str) -> str:
    """Replace every `<!-- BEGIN GENERATED: name -->...<!-- END GENERATED: name -->` block with fresh content.

    A block whose name no generator has (a typo in a marker) raises ValueError: it would otherwise
    never be regenerated, and nobody would notice.
    """

    def fresh(m: re.Match[str]) -> str:
        name = m.group(2)
        if name not in SECTIONS:
            raise ValueError(f"unknown generated block {name!r}; known: {', '.join(SECTIONS)}")
        return m.group(1) + SECTIONS[name]().rstrip("\n") + "\n" + m.group(4)

    return _BLOCK.sub(fresh, text)


def pages_with_generated_blocks(target: Path = DOCS_DIR) -> list[Path]:
    """The Markdown pages under `target` (a folder, searched recursively, or one file) holding generated blocks."""
    pages = [target] if target.is_file() else sorted(target.rglob("*.md"))
    return [p for p in pages if _MARKER in p.read_text(encoding="utf-8")]


def write_generated(target: Path = DOCS_DIR) -> list[tuple[Path, bool]]:
    """Rewrite the generated blocks of every page under `target`; returns each page and whether it changed."""
    if not target.exists():
        raise FileNotFoundError(f"{target}: no such file or folder")
    written: list[tuple[Path, bool]] = []
    for page in pages_with_generated_blocks(target):
        before = page.read_text(encoding="utf-8")
        after = render_sections(before)
        if after != before:
            page.write_text(after, encoding="utf-8")
        written.append((page, after != before))
    return written


def run(section: str, write: str | None) -> int:
    """Print one generated block, or (with `write`, a folder or a file) rewrite the blocks of every page."""
    if write is None:
        sys.stdout.write(SECTIONS[section]() + "\n")
        return 0
    try:
        written = write_generated(Path(write))
    except (FileNotFoundError, ValueError) as exc:
        sys.stderr.write(f"gatewatch docs: {exc}\n")
        return 2
    if not written:
        sys.stderr.write(f"gatewatch docs: no page under {write} holds a generated block\n")
        return 2
    for page, changed in written:
        sys.stdout.write(f"{page}: {'updated' if changed else 'already up to date'}\n")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `gatewatch docs` (and of `python -m gatewatch_cli.docs`)."""
    parser.add_argument("section", nargs="?", choices=tuple(SECTIONS), default="troubleshooting")
    parser.add_argument(
        "--write",
        nargs="?",
        const=str(DOCS_DIR),
        metavar="PATH",
        help=f"rewrite the generated blocks of every page under PATH (a folder or a file; default {DOCS_DIR}/)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m gatewatch_cli.docs [--write [PATH]]`: the same as `gatewatch docs`."""
    parser = argparse.ArgumentParser(prog="python -m gatewatch_cli.docs", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run(args.section, args.write)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

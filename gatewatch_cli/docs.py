"""Reference pages generated from the taxonomy table, so the docs cannot drift from the code.

A page under docs/ holds a generated block between `<!-- BEGIN GENERATED: name -->` and
`<!-- END GENERATED: name -->`: `categories` lives in docs/categories.md, `troubleshooting` in
docs/troubleshooting.md. `gatewatch docs categories|troubleshooting` prints a block;
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


SECTIONS: dict[str, Callable[[], str]] = {
    "categories": category_table_markdown,
    "troubleshooting": troubleshooting_markdown,
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

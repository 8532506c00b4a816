"""README sections generated from the taxonomy table, so the docs cannot drift from the code.

`gatewatch docs` prints them; `gatewatch docs --write README.md` rewrites the marked blocks in place;
a test fails when README.md differs from what this module generates.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from gatewatch.classify.taxonomy import CATEGORY_TABLE, STATUS_FALLBACK, ErrorCategory

_RETRY_WORDS = {
    "no": "No",
    "yes": "Yes",
    "backoff": "Yes, with exponential backoff",
    "later": "Only after the quota resets",
}


def category_table_markdown() -> str:
    rows = ["| category | typical status | retry | blame | what it means |", "|---|---|---|---|---|"]
    for cat, info in CATEGORY_TABLE.items():
        if cat is ErrorCategory.OK:
            continue
        rows.append(
            f"| `{cat.value}` | {info.status_label} | {info.retry.value} | {info.blame.value} | {info.meaning} |"
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
    for cat, info in CATEGORY_TABLE.items():
        if cat is ErrorCategory.OK:
            continue
        out += [
            f"### `{cat.value}` — {info.title}",
            "",
            f"*Status {info.status_label} · blame: {info.blame.value} · retry: {_RETRY_WORDS[info.retry.value]}*",
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


def render_sections(text: str) -> str:
    """Replace every `<!-- BEGIN GENERATED: name -->...<!-- END GENERATED: name -->` block with fresh content."""
    for name, make in SECTIONS.items():
        pattern = re.compile(rf"(<!-- BEGIN GENERATED: {name} -->\n).*?(<!-- END GENERATED: {name} -->)", re.S)
        block = make().rstrip("\n")
        text = pattern.sub(lambda m, block=block: m.group(1) + block + "\n" + m.group(2), text)
    return text

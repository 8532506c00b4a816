"""Show Slack Block Kit messages readably in a terminal (rich), the way a responder would see them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_LINK = re.compile(r"<(https?://[^|>]{1,2000})\|([^>]{1,500})>")
_BOLD = re.compile(r"\*([^*\n]{1,500})\*")


def mrkdwn_to_rich(text: str) -> str:
    """Slack mrkdwn -> rich markup: *bold*, `code`, <url|label>; everything else printed literally."""
    from rich.markup import escape

    out = escape(text)
    out = _LINK.sub(lambda m: f"[link={m.group(1)}]{m.group(2)}[/link]", out)
    out = _BOLD.sub(lambda m: f"[bold]{m.group(1)}[/bold]", out)
    out = out.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return out


def _text(obj: Mapping[str, Any] | None) -> str:
    return str(obj.get("text", "")) if isinstance(obj, Mapping) else ""


def render_slack_message(payload: Mapping[str, Any], console: Any, *, title: str | None = None) -> None:
    """Print one webhook payload as a panel: header, sections, fields, context, buttons."""
    from rich.panel import Panel
    from rich.text import Text

    colour, blocks = _colour_and_blocks(payload)
    header = ""
    lines: list[str] = []
    for block in blocks:
        if block.get("type") == "header":
            header = _text(block.get("text"))
        else:
            lines += _block_lines(block)
    if not lines and payload.get("text"):
        lines.append(mrkdwn_to_rich(str(payload["text"])))
    heading = " ".join(x for x in (title, header) if x) or "Slack message"
    console.print(
        Panel("\n".join(lines), title=Text(heading, style="bold"), title_align="left", border_style=colour, expand=True)
    )


def _colour_and_blocks(payload: Mapping[str, Any]) -> tuple[str, list[Mapping[str, Any]]]:
    """The border colour (the attachment's severity colour) and every block, top-level ones first."""
    from gatewatch.notify.slack_blocks import Severity

    colours = {
        Severity.CRITICAL.color.lower(): "red",
        Severity.WARNING.color.lower(): "yellow",
        Severity.INFO.color.lower(): "blue",
        Severity.RESOLVED.color.lower(): "green",
    }
    colour = "white"
    blocks = list(payload.get("blocks") or [])
    for att in payload.get("attachments") or []:
        colour = colours.get(str(att.get("color", "")).lower(), colour)
        blocks += list(att.get("blocks") or [])
    return colour, blocks


def _block_lines(block: Mapping[str, Any]) -> list[str]:
    """The rich-markup lines of one section, context, actions or divider block (others show nothing)."""
    kind = block.get("type")
    lines: list[str] = []
    if kind == "section":
        if block.get("text"):
            lines.append(mrkdwn_to_rich(_text(block.get("text"))))
        fields = [mrkdwn_to_rich(_text(f)).replace("\n", ": ", 1) for f in block.get("fields") or []]
        lines += ["   ".join(fields[i : i + 2]) for i in range(0, len(fields), 2)]
    elif kind == "context":
        lines.append("[dim]" + " · ".join(mrkdwn_to_rich(_text(e)) for e in block.get("elements") or []) + "[/dim]")
    elif kind == "actions":
        buttons = [
            f"[link={e.get('url')}]{_text(e.get('text'))}[/link]" for e in block.get("elements") or [] if e.get("url")
        ]
        if buttons:
            lines.append("→ " + "  |  ".join(buttons))
    elif kind == "divider":
        lines.append("[dim]" + "─" * 40 + "[/dim]")
    return lines

"""Slack messages as safe HTML: mrkdwn, Block Kit blocks and legacy attachments, shown as Slack would show them.

Why paranoid: Slack texts carry request paths and error messages chosen by whoever calls the API.
Everything from a payload is `html.escape`d after Slack's own entities (&lt; &gt; &amp;) are undone;
mrkdwn is converted by a small tokenizer (never by string substitution on raw input), markup is only
ever added around escaped text, and links are emitted only for http(s) URLs.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

_PLACEHOLDER = re.compile("\x00(\\d+)\x00")
_PRE = re.compile(r"```(.+?)```", re.S)
_CODE = re.compile(r"`([^`\n]+)`")
_CONTROL = re.compile(r"<([^<>\n]{0,3000})>")
_BOLD = re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?!\s)([^_\n]+?)(?<!\s)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?!\s)([^~\n]+?)(?<!\s)~(?![\w~])")
_SLACK_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))
_COLOUR = re.compile(r"#?[0-9A-Fa-f]{6}")
_LEGACY_COLOURS = {"good": "#2eb67d", "warning": "#ecb22e", "danger": "#e01e5a"}
_DEFAULT_ATTACHMENT_COLOUR = "#d5dbdb"
_SPECIAL_MENTIONS = frozenset({"here", "channel", "everyone"})
_USER_OR_CHANNEL = re.compile(r"[@#][A-Z0-9]{2,30}")


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _unslack(text: str) -> str:
    """Slack's own escaping undone (&lt; &gt; &amp;): the text as a reader sees it, still to be HTML-escaped."""
    for entity, char in _SLACK_ENTITIES:
        text = text.replace(entity, char)
    return text


def _plain(value: Any) -> str:
    """A plain Slack string (no mrkdwn) as escaped HTML."""
    return _e(_unslack(str(value)))


# ---------------------------------------------------------------------------------------------------
# mrkdwn
# ---------------------------------------------------------------------------------------------------


def safe_url(url: Any) -> str | None:
    """The URL when it is an absolute http(s) URL without spaces or control characters; otherwise None."""
    if not isinstance(url, str) or not url or len(url) > 3000:
        return None
    if any(ch.isspace() or ord(ch) < 32 or ch in "<>\"'`" for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def _link(url: str, label_html: str) -> str:
    return f'<a href="{_e(url)}" rel="noopener noreferrer nofollow">{label_html}</a>'


def _special(target: str, label: str, label_html: str) -> str | None:
    """`<!here>`, `<!channel>`, `<!everyone>`, `<!date^…|label>`, `<!subteam^…|label>`; None for any other `<!…>`."""
    name = target[1:].split("^", 1)[0]
    if name in _SPECIAL_MENTIONS:
        return f'<span class="mention">@{_e(name)}</span>'
    if name in ("date", "subteam") and label:
        return f'<span class="mention">{label_html}</span>' if name == "subteam" else label_html
    return None


def _control(inner: str) -> str:
    """One Slack control sequence (<...>): a link, a mention or a date; anything else shown literally."""
    target, _, label = inner.partition("|")
    label_html = _e(_unslack(label)) if label else ""
    shown: str | None = None
    if target.startswith("!"):
        shown = _special(target, label, label_html)
    elif target[:1] in ("@", "#") and _USER_OR_CHANNEL.fullmatch(target):
        shown = f'<span class="mention">{target[0]}{label_html or _e(target[1:])}</span>'
    else:
        url = safe_url(_unslack(target))
        if url is not None:
            shown = _link(url, label_html or _e(url))
        elif label and target.startswith("mailto:"):
            shown = label_html
    return shown if shown is not None else _e("<" + _unslack(inner) + ">")


def mrkdwn_to_html(text: Any) -> str:
    """Slack mrkdwn as safe HTML: *bold*, _italic_, ~strike~, `code`, ```pre```, <url|text>, mentions, newlines.

    Untrusted parts are HTML-escaped after Slack's own entities are undone; markup is only ever added
    around escaped text, so no input can open a tag or an attribute.
    """
    raw = str(text or "").replace("\x00", "")
    pieces: list[str] = []

    def keep(fragment_html: str) -> str:
        pieces.append(fragment_html)
        return f"\x00{len(pieces) - 1}\x00"

    raw = _PRE.sub(lambda m: keep(f"<pre>{_e(_unslack(m.group(1).strip(chr(10))))}</pre>"), raw)
    raw = _CODE.sub(lambda m: keep(f"<code>{_e(_unslack(m.group(1)))}</code>"), raw)
    raw = _CONTROL.sub(lambda m: keep(_control(m.group(1))), raw)
    out = _e(_unslack(raw))
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    out = _ITALIC.sub(r"<em>\1</em>", out)
    out = _STRIKE.sub(r"<del>\1</del>", out)
    out = out.replace("\n", "<br>\n")
    return _PLACEHOLDER.sub(lambda m: pieces[int(m.group(1))], out)


# ---------------------------------------------------------------------------------------------------
# Block Kit
# ---------------------------------------------------------------------------------------------------


def _text_object(obj: Any) -> str:
    """A Block Kit text object (mrkdwn or plain_text) as HTML."""
    if isinstance(obj, str):
        return mrkdwn_to_html(obj)
    if not isinstance(obj, Mapping):
        return ""
    if obj.get("type") == "plain_text":
        return _plain(obj.get("text", "")).replace("\n", "<br>\n")
    return mrkdwn_to_html(obj.get("text", ""))


def _button(element: Mapping[str, Any]) -> str:
    label = _text_object(element.get("text")) or "link"
    url = safe_url(element.get("url"))
    if url is None:
        return f'<span class="button disabled">{label}</span>'
    return f'<a class="button" href="{_e(url)}" rel="noopener noreferrer nofollow">{label}</a>'


def _element(element: Any) -> str:
    if not isinstance(element, Mapping):
        return ""
    kind = element.get("type")
    if kind == "button":
        return _button(element)
    if kind == "image":
        return f'<span class="image">[image: {_e(element.get("alt_text", ""))}]</span>'
    return _text_object(element)


def _header_block(block: Mapping[str, Any]) -> str:
    return f'<div class="s-header">{_text_object(block.get("text"))}</div>'


def _section_block(block: Mapping[str, Any]) -> str:
    parts = []
    if block.get("text"):
        parts.append(f'<div class="s-text">{_text_object(block.get("text"))}</div>')
    fields = [f for f in block.get("fields") or [] if f]
    if fields:
        parts.append('<div class="s-fields">' + "".join(f"<div>{_text_object(f)}</div>" for f in fields) + "</div>")
    if isinstance(block.get("accessory"), Mapping):
        parts.append(f'<div class="s-accessory">{_element(block["accessory"])}</div>')
    return '<div class="s-section">' + "".join(parts) + "</div>"


def _elements(block: Mapping[str, Any]) -> list[str]:
    """The block's elements as HTML, the empty ones left out."""
    return [item for item in (_element(e) for e in block.get("elements") or []) if item]


def _context_block(block: Mapping[str, Any]) -> str:
    return '<div class="s-context">' + " · ".join(_elements(block)) + "</div>"


def _actions_block(block: Mapping[str, Any]) -> str:
    return '<div class="s-actions">' + " ".join(_elements(block)) + "</div>"


def _divider_block(block: Mapping[str, Any]) -> str:
    return "<hr>"


def _image_block(block: Mapping[str, Any]) -> str:
    alt = _e(block.get("alt_text", ""))
    url = safe_url(block.get("image_url"))
    return f'<div class="s-context">[image: {_link(url, alt) if url else alt}]</div>'


_BLOCKS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "header": _header_block,
    "section": _section_block,
    "context": _context_block,
    "actions": _actions_block,
    "divider": _divider_block,
    "image": _image_block,
}


def _block(block: Any) -> str:
    """One Block Kit block as HTML; a kind this converter does not draw is named, not dropped silently."""
    if not isinstance(block, Mapping):
        return ""
    kind = block.get("type")
    render = _BLOCKS.get(kind) if isinstance(kind, str) else None
    if render is None:
        return f'<div class="s-context">[{_e(kind or "unknown")} block not shown]</div>'
    return render(block)


# ---------------------------------------------------------------------------------------------------
# Attachments and whole messages
# ---------------------------------------------------------------------------------------------------


def _attachment_colour(value: Any) -> str:
    text = str(value or "")
    if text in _LEGACY_COLOURS:
        return _LEGACY_COLOURS[text]
    if _COLOUR.fullmatch(text):
        return "#" + text.lstrip("#").lower()
    return _DEFAULT_ATTACHMENT_COLOUR


def _legacy_attachment(att: Mapping[str, Any]) -> str:
    parts = []
    for key, cls in (("pretext", "s-text"), ("title", "s-title"), ("text", "s-text")):
        if att.get(key):
            parts.append(f'<div class="{cls}">{mrkdwn_to_html(att[key])}</div>')
    fields = [f for f in att.get("fields") or [] if isinstance(f, Mapping)]
    if fields:
        parts.append(
            '<div class="s-fields">'
            + "".join(
                f"<div><strong>{_plain(f.get('title', ''))}</strong><br>{mrkdwn_to_html(f.get('value', ''))}</div>"
                for f in fields
            )
            + "</div>"
        )
    if att.get("footer"):
        parts.append(f'<div class="s-context">{mrkdwn_to_html(att["footer"])}</div>')
    return "".join(parts)


def _attachment(att: Mapping[str, Any]) -> str:
    """An attachment with its colour bar: its blocks, or (without blocks) its legacy fields."""
    inner = "".join(_block(b) for b in att.get("blocks") or []) or _legacy_attachment(att)
    return f'<div class="s-attachment" style="border-left-color:{_attachment_colour(att.get("color"))}">{inner}</div>'


def render_slack_html(payload: Mapping[str, Any]) -> str:
    """One Slack payload (webhook / chat.postMessage body) as an HTML card, as Slack would show it."""
    out = ['<div class="slack">']
    blocks = payload.get("blocks") or []
    out += [_block(b) for b in blocks]
    out += [_attachment(att) for att in payload.get("attachments") or [] if isinstance(att, Mapping)]
    if not blocks and not payload.get("attachments"):
        out.append(f'<div class="s-text">{mrkdwn_to_html(payload.get("text", ""))}</div>')
    elif payload.get("text"):
        out.append(f'<div class="s-fallback">notification text: {_plain(payload["text"])}</div>')
    out.append("</div>")
    return "\n".join(out)


__all__ = ["mrkdwn_to_html", "render_slack_html", "safe_url"]

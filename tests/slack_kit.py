"""Is a payload valid Block Kit? slack_sdk's block models decide, plus the limits they do not check.

`block_kit_errors(payload)` parses every block (top level and in attachments) with
`slack_sdk.models.blocks.Block.parse` and serialises it back: `to_dict()` runs slack_sdk's
validators on the block and everything in it (header ≤ 150, section text ≤ 3,000, ≤ 10 fields,
≤ 10 context elements, button text ≤ 75 and URL ≤ 3,000, …), and a block that does not come back
identical had a type, field or value slack_sdk does not know. Attachments are checked as
`BlockAttachment`s. slack_sdk counts Python characters (code points); Slack's documentation says
"characters" without defining them, and JavaScript — Slack's own SDK and clients — counts UTF-16
code units, in which an emoji is two. So every limit is also checked in UTF-16 code units, the
stricter count: a payload that passes here is within the limit under either reading.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.attachments import BlockAttachment
from slack_sdk.models.blocks import Block

MAX_BLOCKS = 50
MAX_TEXT = 40_000  # the message's `text` (Slack truncates beyond)
#: (block type, where the text object sits) -> UTF-16 limit
UTF16_LIMITS = {
    ("header", "text"): 150,
    ("section", "text"): 3000,
    ("section", "fields"): 2000,
    ("context", "elements"): 3000,
    ("actions", "elements"): 75,  # a button's label
}
PAYLOAD_KEYS = {"text", "blocks", "attachments", "unfurl_links", "unfurl_media", "channel", "thread_ts", "ts"}
PAYLOAD_KEYS |= {"reply_broadcast"}


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def block_kit_errors(payload: Mapping[str, Any]) -> list[str]:
    """What Slack would refuse in a chat.postMessage / webhook / chat.update payload (empty: valid)."""
    errors: list[str] = []
    unknown = set(payload) - PAYLOAD_KEYS
    if unknown:
        errors.append(f"unknown payload keys {sorted(unknown)}")
    text = payload.get("text")
    if not isinstance(text, str) or not text.strip() or utf16_units(text) > MAX_TEXT:
        errors.append("text must be a non-empty string within 40,000 units")
    blocks = list(payload.get("blocks") or [])
    for i, attachment in enumerate(payload.get("attachments") or []):
        errors.extend(f"attachments[{i}]: {e}" for e in _attachment_errors(attachment))
        blocks.extend(attachment.get("blocks") or [])
    if len(blocks) > MAX_BLOCKS:
        errors.append(f"{len(blocks)} blocks (Slack allows {MAX_BLOCKS})")
    for i, block in enumerate(blocks):
        errors.extend(f"block {i} ({block.get('type')}): {e}" for e in _block_errors(block))
    return errors


def _attachment_errors(attachment: Mapping[str, Any]) -> list[str]:
    if set(attachment) - {"color", "blocks", "fallback"}:
        return [f"unknown attachment keys {sorted(set(attachment) - {'color', 'blocks', 'fallback'})}"]
    try:
        BlockAttachment(blocks=list(attachment.get("blocks") or []), color=attachment.get("color")).to_dict()
    except SlackObjectFormationError as exc:
        return [str(exc)]
    return []


def _block_errors(block: Mapping[str, Any]) -> list[str]:
    try:
        parsed = Block.parse(dict(block))
        if parsed is None:
            return ["not a block slack_sdk knows"]
        back = parsed.to_dict()  # runs the validators of the block and of everything in it
    except SlackObjectFormationError as exc:
        return [str(exc)]
    errors = [] if back == block else [f"does not survive slack_sdk's model: {block} != {back}"]
    for where, text in _texts(block):
        limit = UTF16_LIMITS.get((block.get("type", ""), where))
        if limit is not None and utf16_units(text) > limit:
            errors.append(f"{where} text is {utf16_units(text)} UTF-16 units (limit {limit})")
        if not text:
            errors.append(f"{where} text is empty")
    return errors


def _texts(block: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, text) of each text object directly in a block."""
    if isinstance(block.get("text"), Mapping):
        yield "text", block["text"]["text"]
    for key in ("fields", "elements"):
        for item in block.get(key) or []:
            text = item.get("text")
            yield key, text["text"] if isinstance(text, Mapping) else text


def assert_valid_block_kit(payload: Mapping[str, Any]) -> None:
    errors = block_kit_errors(payload)
    assert not errors, errors

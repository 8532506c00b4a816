"""Slack credentials from Secrets Manager, cached with a TTL (Powertools parameters).

Why a TTL cache: each notifier invocation would otherwise pay a Secrets Manager call (latency and
cost); with `max_age` a rotated webhook is picked up within minutes without a redeploy.

The secret values never leave this module except inside objects whose repr hides them, and no error
raised here contains a value: a webhook URL is a bearer credential (anyone holding it can post).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gatewatch.redact import short_sample

DEFAULT_MAX_AGE_S = 300


class SecretError(RuntimeError):
    """The secret is missing, unreadable or has the wrong shape. The message names the secret id, never its value."""


@dataclass(frozen=True)
class WebhookSecret:
    """An incoming-webhook URL (secret value: the URL, or {"webhook_url": "..."})."""

    url: str = field(repr=False)

    def __repr__(self) -> str:
        return "WebhookSecret(url=***)"


@dataclass(frozen=True)
class BotSecret:
    """A bot token and the channel to post in (secret value: {"bot_token": "xoxb-...", "channel": "C..."})."""

    token: str = field(repr=False)
    channel: str

    def __repr__(self) -> str:
        return f"BotSecret(token=***, channel={self.channel!r})"


def _fetch(secret_id: str, max_age: int) -> str:
    from aws_lambda_powertools.utilities import parameters  # lazy: boto3 is imported on first use

    try:
        value = parameters.get_secret(secret_id, max_age=max_age)
    except Exception as exc:  # GetParameterError wraps the SDK error; its text has no secret value
        detail = short_sample(str(exc), 200)  # e.g. ResourceNotFoundException / AccessDenied; never a value
        raise SecretError(f"cannot read Slack secret {secret_id!r}: {detail}") from None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str) or not value.strip():
        raise SecretError(f"Slack secret {secret_id!r} is empty")
    return value.strip()


def _as_json(secret_id: str, value: str) -> dict[str, Any] | None:
    if not value.startswith("{"):
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        raise SecretError(f"Slack secret {secret_id!r} looks like JSON but does not parse") from None
    if not isinstance(parsed, dict):
        raise SecretError(f"Slack secret {secret_id!r} must be a JSON object")
    return parsed


def get_webhook(secret_id: str, *, max_age: int = DEFAULT_MAX_AGE_S) -> WebhookSecret:
    """The webhook URL from `secret_id` (name or ARN): a bare URL or {"webhook_url": "..."}."""
    value = _fetch(secret_id, max_age)
    parsed = _as_json(secret_id, value)
    url = str(parsed.get("webhook_url") or "") if parsed is not None else value
    if not url.startswith(("https://", "http://")):
        raise SecretError(
            f"Slack secret {secret_id!r} holds no webhook URL (expected the URL or "
            '{"webhook_url": "https://hooks.slack.com/services/..."})'
        )
    return WebhookSecret(url=url)


def get_bot(secret_id: str, *, max_age: int = DEFAULT_MAX_AGE_S, default_channel: str | None = None) -> BotSecret:
    """The bot token and channel from `secret_id`: {"bot_token": "xoxb-...", "channel": "C..."}."""
    parsed = _as_json(secret_id, _fetch(secret_id, max_age))
    token = str((parsed or {}).get("bot_token") or "")
    channel = str((parsed or {}).get("channel") or default_channel or "")
    if not token.startswith("xox"):
        raise SecretError(f'Slack secret {secret_id!r} must be {{"bot_token": "xoxb-...", "channel": "C..."}}')
    if not channel:
        raise SecretError(f'Slack secret {secret_id!r} names no channel (add "channel" or set GATEWATCH_SLACK_CHANNEL)')
    return BotSecret(token=token, channel=channel)

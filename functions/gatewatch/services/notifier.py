"""The notifier Lambda's flow: SNS records in; one Slack message per notification out (or a raised delivery error).

Parse (gatewatch.notify.messages), format (gatewatch.notify.slack_blocks), deliver
(gatewatch.adapters.slack_client). Configuration, all optional:

- GATEWATCH_SLACK_SECRET      secret whose value is the webhook URL or {"webhook_url": ...}
- GATEWATCH_SLACK_BOT_SECRET  secret {"bot_token": "xoxb-...", "channel": "C..."}: threads per alarm,
                              recoveries reply in the thread and mark the original resolved
- GATEWATCH_STATE_TABLE       DynamoDB table for those threads (pk / expires_at)
- GATEWATCH_DASHBOARD_URL, GATEWATCH_APIS (accessLogGroup per API), POWERTOOLS_METRICS_NAMESPACE
- GATEWATCH_SLACK_API_URL     Web API base (default https://slack.com/api/; GovSlack or a test stub)

Without a Slack secret the formatted message is logged. When a delivery fails, the others of the
event are still attempted and then the first failure is raised, so Lambda retries the event and the
dead-letter queue keeps it: an alert is never lost silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger

from gatewatch.adapters.secrets import SecretError, get_bot, get_webhook
from gatewatch.adapters.slack_client import (
    BotDelivery,
    Delivery,
    DeliveryError,
    LogDelivery,
    SlackClient,
    WebhookDelivery,
)
from gatewatch.adapters.threads import ThreadStore
from gatewatch.constants import ENV_SLACK_BOT_SECRET, ENV_SLACK_CHANNEL, ENV_SLACK_SECRET, ENV_STATE_TABLE
from gatewatch.notify.messages import GenericNotification, SnsMessage, parse_sns_message, sns_messages
from gatewatch.notify.slack_blocks import LinkContext, SlackMessage, format_notification
from gatewatch.redact import short_sample

ENV_SLACK_API_URL = "GATEWATCH_SLACK_API_URL"


def build_delivery(environ: Mapping[str, str], client: SlackClient, logger: Logger) -> Delivery:
    """Bot token if configured, else webhook, else log only."""
    bot_secret = environ.get(ENV_SLACK_BOT_SECRET)
    if bot_secret:
        table = environ.get(ENV_STATE_TABLE)
        channel = environ.get(ENV_SLACK_CHANNEL)
        return BotDelivery(
            client, lambda: get_bot(bot_secret, default_channel=channel), ThreadStore(table) if table else None
        )
    webhook_secret = environ.get(ENV_SLACK_SECRET)
    if webhook_secret:
        return WebhookDelivery(client, lambda: get_webhook(webhook_secret))
    return LogDelivery(logger)


def account_of(function_arn: str | None) -> str | None:
    """The account id in a Lambda function ARN (the notifier's own account, for console links)."""
    parts = (function_arn or "").split(":")
    return parts[4] if len(parts) > 4 and parts[4] else None


def deliver_notifications(
    event: Mapping[str, Any],
    *,
    environ: Mapping[str, str],
    client: SlackClient,
    logger: Logger,
    account: str | None,
    remaining_s: Callable[[], float],
) -> dict[str, int]:
    """Format and deliver every SNS record of the event; raise the first delivery failure after trying all.

    Content never raises: a message that cannot be formatted as what it claims to be is posted in the
    generic format (at worst as a note that an unreadable message arrived), and a message whose blocks
    Slack refuses is posted as its text line. Only a delivery failure (Slack unreachable, refusing the
    destination, the secret unreadable) raises. Returns {"delivered": n}, plus "rejected": n when some
    record was not an SNS notification or some message could not even be noted (logged as errors).
    """
    links = LinkContext.from_environ(environ, account=account)
    client.remaining_s = remaining_s
    delivery = build_delivery(environ, client, logger)
    messages = sns_messages(event)
    records = event.get("Records") if isinstance(event, Mapping) else None
    rejected = (len(records) if isinstance(records, list) else 0) - len(messages)  # records without an Sns part
    if rejected:
        logger.error("records that are not SNS notifications rejected", extra={"rejected": rejected})
    delivered, failures = 0, []
    for sns in messages:
        formatted = format_sns_message(sns, links, logger)
        if formatted is None:
            rejected += 1
            continue
        message, kind = formatted
        logger.info(
            "notification received",
            extra={
                "kind": kind,
                "severity": str(message.severity),
                "lifecycle": str(message.lifecycle),
                "sns_message_id": short_sample(sns.message_id or "", 100),
            },
        )
        try:
            _deliver(delivery, message, logger, sns)
            delivered += 1
        except (DeliveryError, SecretError) as exc:
            logger.error(
                "alert not delivered; raising so Lambda retries and the dead-letter queue keeps it",
                extra={"error": str(exc), "sns_message_id": short_sample(sns.message_id or "", 100)},
            )
            failures.append(exc)
    if failures:
        raise failures[0]
    return {"delivered": delivered, **({"rejected": rejected} if rejected else {})}


def format_sns_message(sns: SnsMessage, links: LinkContext, logger: Logger) -> tuple[SlackMessage, str] | None:
    """The Slack message for one SNS message and what it was read as: as what it is, else generic, else a
    note; None (logged) if even the note cannot be made."""
    kind = "unparsed"
    try:
        notification = parse_sns_message(sns)
        kind = type(notification).__name__
        return format_notification(notification, links), kind
    except Exception as exc:  # a formatter bug meeting odd content: never a reason to lose the alert
        logger.warning(
            "notification could not be formatted as read; posting it in the generic format",
            extra={"kind": kind, "error": type(exc).__name__, "sample": short_sample(sns.message or "")},
        )
    fallbacks = (
        lambda: GenericNotification(
            subject=sns.subject, text=sns.message, topic_arn=sns.topic_arn, timestamp=sns.timestamp
        ),
        lambda: GenericNotification(subject=None, text=UNREADABLE_NOTE),
    )
    error = ""
    for fallback in fallbacks:
        try:
            return format_notification(fallback(), links), f"{kind} (shown generically)"
        except Exception as exc:
            error = type(exc).__name__
    logger.error(
        "notification rejected: not even a note about it could be formatted",
        extra={"error": error, "sample": short_sample(sns.message or ""), "rejected": 1},
    )
    return None


UNREADABLE_NOTE = "A message arrived on the gatewatch topic that could not be shown; the notifier's log has a sample."


def _deliver(delivery: Delivery, message: SlackMessage, logger: Logger, sns: SnsMessage) -> None:
    """Deliver; when Slack refuses the blocks themselves, deliver the text line alone."""
    try:
        delivery.deliver(message)
    except DeliveryError as exc:
        if not exc.refused_content:
            raise
        logger.warning(
            "Slack refused the message's blocks; posting its text alone",
            extra={"slack_error": exc.error, "sns_message_id": short_sample(sns.message_id or "", 100)},
        )
        delivery.deliver(message.plain_text())

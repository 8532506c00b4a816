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
from gatewatch.notify.messages import iter_notifications
from gatewatch.notify.slack_blocks import LinkContext, format_notification

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
    """Format and deliver every SNS record of the event; raise the first delivery failure after trying all."""
    links = LinkContext.from_environ(environ, account=account)
    client.remaining_s = remaining_s
    delivery = build_delivery(environ, client, logger)
    delivered, failures = 0, []
    for sns, notification in iter_notifications(event):
        message = format_notification(notification, links)
        logger.info(
            "notification received",
            extra={
                "kind": type(notification).__name__,
                "severity": str(message.severity),
                "lifecycle": str(message.lifecycle),
                "sns_message_id": sns.message_id,
            },
        )
        try:
            delivery.deliver(message)
            delivered += 1
        except (DeliveryError, SecretError) as exc:
            logger.error(
                "alert not delivered; raising so Lambda retries and the dead-letter queue keeps it",
                extra={"error": str(exc), "sns_message_id": sns.message_id},
            )
            failures.append(exc)
    if failures:
        raise failures[0]
    return {"delivered": delivered}

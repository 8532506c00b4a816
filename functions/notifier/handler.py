"""Notifier Lambda: SNS (CloudWatch alarm, analyzer alert, anything else) -> Slack Block Kit.

Entry `notifier.handler.lambda_handler` (DESIGN §8). Thin: parse (gatewatch.notifications), format
(gatewatch.slack), deliver (gatewatch.adapters.slack_client). Configuration, all optional:

- GATEWATCH_SLACK_SECRET      secret whose value is the webhook URL or {"webhook_url": ...}
- GATEWATCH_SLACK_BOT_SECRET  secret {"bot_token": "xoxb-...", "channel": "C..."}: threads per alarm,
                              recoveries reply in the thread and mark the original resolved
- GATEWATCH_STATE_TABLE       DynamoDB table for those threads (pk / expires_at)
- GATEWATCH_DASHBOARD_URL, GATEWATCH_APIS (accessLogGroup per API), POWERTOOLS_METRICS_NAMESPACE
- GATEWATCH_SLACK_API_URL     Web API base (default https://slack.com/api/; GovSlack or a test stub)

Without a Slack secret the formatted message is logged. When delivery fails the handler raises, so
Lambda retries the event and the dead-letter queue keeps it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger

from gatewatch.adapters.secrets import SecretError, get_bot, get_webhook
from gatewatch.adapters.slack_client import (
    SLACK_API_BASE,
    BotDelivery,
    Delivery,
    DeliveryError,
    LogDelivery,
    SlackClient,
    WebhookDelivery,
)
from gatewatch.adapters.threads import ThreadStore
from gatewatch.constants import ENV_SLACK_BOT_SECRET, ENV_SLACK_CHANNEL, ENV_SLACK_SECRET, ENV_STATE_TABLE, SERVICE_NAME
from gatewatch.notify.messages import iter_notifications
from gatewatch.notify.slack_blocks import LinkContext, format_notification

ENV_SLACK_API_URL = "GATEWATCH_SLACK_API_URL"

logger = Logger(service=SERVICE_NAME)
#: One client per execution environment, so pacing (1 message/s per destination) spans warm invocations.
slack_client = SlackClient(api_base=os.environ.get(ENV_SLACK_API_URL) or SLACK_API_BASE)


def build_delivery(environ: Mapping[str, str], client: SlackClient) -> Delivery:
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


@logger.inject_lambda_context
def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, int]:
    account = _account(getattr(context, "invoked_function_arn", None))
    links = LinkContext.from_environ(os.environ, account=account)
    slack_client.remaining_s = lambda: context.get_remaining_time_in_millis() / 1000
    delivery = build_delivery(os.environ, slack_client)
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


def _account(function_arn: str | None) -> str | None:
    parts = (function_arn or "").split(":")
    return parts[4] if len(parts) > 4 and parts[4] else None

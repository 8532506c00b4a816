"""The notifier Lambda: SNS (CloudWatch alarm, analyzer alert, anything else) -> Slack Block Kit.

Thin on purpose: the flow is `gatewatch.services.notifier`'s (configuration listed there). Entry
point `notifier.handler.lambda_handler` (functions/ as the asset root).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from gatewatch.adapters.slack_client import SLACK_API_BASE, SlackClient
from gatewatch.constants import SERVICE_NAME
from gatewatch.lambda_logger import lambda_logger
from gatewatch.services.notifier import ENV_SLACK_API_URL, account_of, deliver_notifications

logger = lambda_logger(SERVICE_NAME)
#: One client per execution environment, so pacing (1 message/s per destination) spans warm invocations.
slack_client = SlackClient(api_base=os.environ.get(ENV_SLACK_API_URL) or SLACK_API_BASE)


@logger.inject_lambda_context
def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, int]:
    return deliver_notifications(
        event,
        environ=os.environ,
        client=slack_client,
        logger=logger,
        account=account_of(getattr(context, "invoked_function_arn", None)),
        remaining_s=lambda: float(context.get_remaining_time_in_millis()) / 1000,
    )

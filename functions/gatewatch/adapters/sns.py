"""Publish analyzer alerts (gatewatch.alert/v1) to the SNS topic (client from adapters.aws, created lazily)."""

from __future__ import annotations

import re
from typing import Any

import orjson

from gatewatch.adapters.aws import aws_client, reset_clients
from gatewatch.alerts.schema import AnalyzerAlert

_SUBJECT_UNSAFE = re.compile(r"[^\x20-\x7e]")
MAX_SUBJECT_CHARS = 100  # SNS: ASCII, no newlines, < 100 characters


def alert_subject(alert: AnalyzerAlert) -> str:
    where = "/".join(x for x in (alert.api_name or alert.api_id, alert.stage) if x)
    subject = _SUBJECT_UNSAFE.sub(
        "?", f"gatewatch: {alert.category} on {where}" if where else f"gatewatch: {alert.category}"
    )
    return subject[: MAX_SUBJECT_CHARS - 1]


class SnsAlertPublisher:
    """Sends one AnalyzerAlert as a JSON message; errors (after botocore's retries) propagate."""

    def __init__(self, topic_arn: str, client: Any = None) -> None:
        self.topic_arn = topic_arn
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws_client("sns")
        return self._client

    def publish(self, alert: AnalyzerAlert) -> str:
        """Publish and return the SNS MessageId."""
        response = self.client.publish(
            TopicArn=self.topic_arn,
            Subject=alert_subject(alert),
            Message=orjson.dumps(alert.to_dict()).decode(),
            MessageAttributes={
                "schema": {"DataType": "String", "StringValue": alert.schema},
                "category": {"DataType": "String", "StringValue": alert.category},
            },
        )
        return str(response.get("MessageId", ""))


__all__ = ["SnsAlertPublisher", "alert_subject", "aws_client", "reset_clients"]

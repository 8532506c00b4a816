"""Publish analyzer alerts (gatewatch.alert/v1) to the SNS topic; plus the lazily created, cached AWS clients.

Why lazy: `import boto3` costs ~200 ms and a first client ~350 ms (toolchain notes). The analyzer
imports this module only when alerting is configured, and creates a client only on the first alert
of a warm container; the client is then reused by every later invocation.
"""
from __future__ import annotations

import re
import threading
from typing import Any

import orjson

from ..alert_schema import AnalyzerAlert

#: Standard retry mode: throttling and transient errors are retried with backoff before we give up.
_RETRIES = {"mode": "standard", "max_attempts": 3}
_CLIENTS: dict[str, Any] = {}
_LOCK = threading.Lock()  # boto3's default session is not safe for concurrent client creation

_SUBJECT_UNSAFE = re.compile(r"[^\x20-\x7e]")
MAX_SUBJECT_CHARS = 100  # SNS: ASCII, no newlines, < 100 characters


def aws_client(service: str) -> Any:
    """A boto3 client for `service`, created once per container (thread-safe) with bounded retries."""
    client = _CLIENTS.get(service)
    if client is not None:
        return client
    with _LOCK:
        client = _CLIENTS.get(service)
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client(service, config=Config(retries=_RETRIES, connect_timeout=3, read_timeout=5))
            _CLIENTS[service] = client
    return client


def reset_clients() -> None:
    """Forget the cached clients (tests, or after the endpoint/credentials changed)."""
    with _LOCK:
        _CLIENTS.clear()


def alert_subject(alert: AnalyzerAlert) -> str:
    where = "/".join(x for x in (alert.api_name or alert.api_id, alert.stage) if x)
    subject = _SUBJECT_UNSAFE.sub("?", f"gatewatch: {alert.category} on {where}" if where else f"gatewatch: {alert.category}")
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

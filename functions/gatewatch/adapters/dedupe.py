"""Alert deduplication in DynamoDB: one conditional write owns an (api, stage, category) cooldown window.

The item is `{pk, expires_at, alert_id, created_at}`; `expires_at` is the table's TTL attribute. The put
succeeds only when no item exists or the existing one has expired (`expires_at < :now` — TTL deletion
is lazy, so an expired item may still be there). DynamoDB serialises conditional writes on one key, so
of two concurrent invocations exactly one wins, and a retried invocation finds its own item and stays
quiet. The table is shared with the notifier's alert state; the `alert#` key prefix keeps them apart.
"""

from __future__ import annotations

import logging
from typing import Any

from gatewatch.adapters.aws import aws_client
from gatewatch.alerts.immediate import DedupeWindow

_log = logging.getLogger(__name__)
_CONDITION_FAILED = "ConditionalCheckFailedException"


class DynamoAlertDedupe:
    def __init__(self, table_name: str, client: Any = None) -> None:
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws_client("dynamodb")
        return self._client

    def acquire(self, window: DedupeWindow) -> bool:
        """True when this invocation owns the window (it must alert); False when someone already alerted.

        Any other error (table missing, throttled after retries, no network) propagates: the caller
        must fail the invocation rather than drop or double an alert.
        """
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    "pk": {"S": window.key},
                    "expires_at": {"N": str(window.expires_at)},
                    "alert_id": {"S": window.alert_id},
                    "created_at": {"N": str(window.now_s)},
                },
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                ExpressionAttributeValues={":now": {"N": str(window.now_s)}},
            )
        except Exception as exc:  # botocore is imported lazily, so match the error code, not the class
            if _error_code(exc) == _CONDITION_FAILED:
                return False
            raise
        return True

    def release(self, window: DedupeWindow) -> bool:
        """Best effort: give the window back after the alert could not be sent (only if it is still ours)."""
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key={"pk": {"S": window.key}},
                ConditionExpression="alert_id = :id",
                ExpressionAttributeValues={":id": {"S": window.alert_id}},
            )
        except Exception as exc:
            _log.warning(
                "could not release alert dedupe item %s: %s", window.key, _error_code(exc) or type(exc).__name__
            )
            return False
        return True


def _error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code")
    return None


__all__ = ["DynamoAlertDedupe"]

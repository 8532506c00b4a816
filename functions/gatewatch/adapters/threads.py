"""Where each alarm's Slack thread lives: the shared DynamoDB state table (pk, expires_at TTL).

Why DynamoDB: the notifier is stateless between invocations, yet a recovery (OK) must find the
message its ALARM posted to reply in its thread and mark it resolved. The table is the one the
analyzer uses for alert cooldowns (DESIGN §8: string partition key `pk`, TTL attribute
`expires_at`); items here are namespaced `thread#…` so the two never collide. Expired threads
vanish by TTL: an alarm that stays in ALARM for longer than the TTL simply starts a new thread.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_THREAD_TTL_S = 7 * 24 * 3600
THREAD_PREFIX = "thread#"
_MAX_KEY = 1024  # DynamoDB allows 2,048 bytes for a partition key; long alarm ARNs are hashed


@dataclass(frozen=True)
class ThreadRef:
    """The Slack message an alarm opened: channel and ts, and the payload posted (to mark it resolved)."""

    key: str
    channel: str
    ts: str
    message: dict[str, Any] | None = field(default=None, repr=False)
    expires_at: int | None = None


def thread_pk(key: str) -> str:
    pk = THREAD_PREFIX + key
    if len(pk.encode()) <= _MAX_KEY:
        return pk
    return THREAD_PREFIX + "sha256:" + hashlib.sha256(key.encode()).hexdigest()


class ThreadStore:
    """get / put / delete thread references in the state table (boto3 imported lazily)."""

    def __init__(
        self,
        table_name: str,
        *,
        ttl_s: int = DEFAULT_THREAD_TTL_S,
        client: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table_name = table_name
        self.ttl_s = ttl_s
        self._client = client
        self._clock = clock

    @property
    def client(self) -> Any:
        if self._client is None:
            # lazy: keeps the engine's import path free of boto3 (which ships no type information)
            import boto3  # type: ignore[import-untyped]

            self._client = boto3.client("dynamodb")
        return self._client

    def get(self, key: str) -> ThreadRef | None:
        item = self.client.get_item(
            TableName=self.table_name, Key={"pk": {"S": thread_pk(key)}}, ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        expires_at = int(item["expires_at"]["N"]) if "expires_at" in item else None
        if expires_at is not None and expires_at < self._clock():
            return None  # TTL deletion lags by up to a couple of days; an expired item is gone for us
        raw = item.get("message", {}).get("S")
        try:
            message = json.loads(raw) if raw else None
        except ValueError:
            message = None
        return ThreadRef(
            key=key, channel=item["channel"]["S"], ts=item["ts"]["S"], message=message, expires_at=expires_at
        )

    def put(self, ref: ThreadRef) -> None:
        expires_at = ref.expires_at or int(self._clock()) + self.ttl_s
        item = {
            "pk": {"S": thread_pk(ref.key)},
            "channel": {"S": ref.channel},
            "ts": {"S": ref.ts},
            "expires_at": {"N": str(expires_at)},
        }
        if ref.message is not None:
            item["message"] = {"S": json.dumps(ref.message, separators=(",", ":"))}
        self.client.put_item(TableName=self.table_name, Item=item)

    def delete(self, key: str) -> None:
        self.client.delete_item(TableName=self.table_name, Key={"pk": {"S": thread_pk(key)}})

"""Lazily created, cached boto3 clients shared by every adapter.

Why lazy: `import boto3` costs ~200 ms and a first client ~350 ms (toolchain notes). Handlers import
adapters only when the feature is configured and create a client on first use; a warm container
reuses it. Endpoint and credentials come from the environment (AWS_ENDPOINT_URL for moto or LocalStack).
"""

from __future__ import annotations

import threading
from typing import Any

#: Standard retry mode: throttling and transient errors are retried with backoff before we give up.
_RETRIES = {"mode": "standard", "max_attempts": 3}
_CLIENTS: dict[str, Any] = {}
_LOCK = threading.Lock()  # boto3's default session is not safe for concurrent client creation


def aws_client(service: str) -> Any:
    """A boto3 client for `service`, created once per container (thread-safe) with bounded retries."""
    client = _CLIENTS.get(service)
    if client is not None:
        return client
    with _LOCK:
        client = _CLIENTS.get(service)
        if client is None:
            import boto3  # type: ignore[import-untyped]  # boto3 ships no type information
            from botocore.config import Config  # type: ignore[import-untyped]  # nor does botocore

            client = boto3.client(service, config=Config(retries=_RETRIES, connect_timeout=3, read_timeout=5))
            _CLIENTS[service] = client
    return client


def reset_clients() -> None:
    """Forget the cached clients (tests, or after the endpoint/credentials changed)."""
    with _LOCK:
        _CLIENTS.clear()

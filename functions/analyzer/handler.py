"""The analyzer Lambda: CloudWatch Logs subscription / Kinesis events -> engine -> alerts (SNS) -> EMF on stdout.

Thin on purpose: the flow and its failure semantics are `gatewatch.services.analyzer`'s. Entry point
`analyzer.handler.lambda_handler` with `functions/` as the asset root.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from gatewatch.adapters.aws import reset_clients
from gatewatch.constants import SERVICE_NAME
from gatewatch.lambda_logger import lambda_logger
from gatewatch.services.analyzer import AlertDeliveryError, AnalyzerService, AnalyzerSettings

__all__ = ["AlertDeliveryError", "lambda_handler", "reset_state"]

logger = lambda_logger(SERVICE_NAME)

#: The wall clock used for alert windows and the EMF fallback timestamp; tests replace it.
clock: Callable[[], float] = time.time

_service: AnalyzerService | None = None  # the cold-start settings and AWS clients of this environment


def service() -> AnalyzerService:
    """The environment's service, made on first use from the Lambda's environment variables."""
    global _service
    if _service is None:
        _service = AnalyzerService(AnalyzerSettings.from_env(os.environ), logger)
    return _service


def reset_state() -> None:
    """Forget the cold-start state (settings, AWS clients): for tests and benchmarks."""
    global _service
    _service = None
    reset_clients()


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any] | None:
    return service().handle(event, now_s=clock())

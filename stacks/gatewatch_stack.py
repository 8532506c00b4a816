"""The standalone stack: `cdk deploy` with the `gatewatch` config from cdk.json context."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from stacks.config import GatewatchConfig
from stacks.gatewatch_construct import Gatewatch

DEFAULT_STACK_NAME = "Gatewatch"


class GatewatchStack(cdk.Stack):
    """Watches the APIs listed in the configuration (they live outside this app)."""

    def __init__(
        self, scope: Construct, id: str = DEFAULT_STACK_NAME, *, config: GatewatchConfig, **kwargs: Any
    ) -> None:
        kwargs.setdefault("description", "gatewatch: classifies API Gateway errors by cause, alarms and alerts on them")
        super().__init__(scope, id, **kwargs)
        self.gatewatch = Gatewatch(self, "Gatewatch", config=config)

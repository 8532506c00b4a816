"""The Lambda context object the handlers read, for running them outside Lambda (demo, tests, bench)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LocalLambdaContext:
    """Name, ARN, memory and remaining time, as `LambdaContext` exposes them."""

    function_name: str = "gatewatch-analyzer"
    memory_limit_in_mb: int = 512
    region: str = "eu-west-1"
    account: str = "111122223333"
    aws_request_id: str = "00000000-0000-4000-8000-000000000001"
    function_version: str = "$LATEST"
    remaining_ms: int = 300_000

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"2025/11/25/[{self.function_version}]local"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms

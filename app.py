#!/usr/bin/env python3
"""CDK app entry: reads the `gatewatch` context (cdk.json, or the JSON file it names), validates it,
and synthesizes the stack with cdk-nag's AwsSolutions checks as a validation plugin."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "functions"))  # the engine's pure modules (naming, alarm specs) are shared

import aws_cdk as cdk  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from stacks.config import CONTEXT_KEY, GatewatchConfigError, load_config  # noqa: E402
from stacks.gatewatch_stack import DEFAULT_STACK_NAME, GatewatchStack  # noqa: E402

STACK_NAME_CONTEXT_KEY = "gatewatch:stackName"


def build_app(app: cdk.App | None = None) -> cdk.App:
    """The app with its stack; raises GatewatchConfigError (every problem listed) on a bad config."""
    app = app or cdk.App()
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    config = load_config(app.node.try_get_context(CONTEXT_KEY), base_dir=ROOT)
    env = None
    if os.environ.get("CDK_DEFAULT_ACCOUNT") and os.environ.get("CDK_DEFAULT_REGION"):
        env = cdk.Environment(account=os.environ["CDK_DEFAULT_ACCOUNT"], region=os.environ["CDK_DEFAULT_REGION"])
    GatewatchStack(app, app.node.try_get_context(STACK_NAME_CONTEXT_KEY) or DEFAULT_STACK_NAME, config=config, env=env)
    return app


def main() -> None:
    try:
        app = build_app()
    except GatewatchConfigError as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
    app.synth()


if __name__ == "__main__":
    main()

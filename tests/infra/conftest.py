"""Builds gatewatch stacks for the infra tests — with cdk-nag's AwsSolutions checks as a validation
plugin, exactly like app.py, so every `Template.from_stack` here also proves zero unacknowledged findings.

Bundling is skipped (`aws:cdk:bundling-stacks: []`) except in test_bundling.py.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from stacks.config import parse_config
from stacks.gatewatch_stack import GatewatchStack

ROOT = Path(__file__).resolve().parents[2]
NO_BUNDLING = {"aws:cdk:bundling-stacks": []}


def example_config() -> dict[str, Any]:
    """The documented example: the `gatewatch` key of cdk.json (a fresh copy each call)."""
    return copy.deepcopy(json.loads((ROOT / "cdk.json").read_text())["context"]["gatewatch"])


def new_app(**context: Any) -> cdk.App:
    app = cdk.App(context={**NO_BUNDLING, **context})
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def build_stack(raw_config: dict[str, Any], *, app: cdk.App | None = None, name: str = "Gatewatch") -> GatewatchStack:
    return GatewatchStack(app or new_app(), name, config=parse_config(raw_config))


def template_of(stack: cdk.Stack) -> Template:
    """Synthesizes (running cdk-nag and CDK's template validation) and returns the assertions template."""
    return Template.from_stack(stack)


def resources(template: Template, type_: str) -> dict[str, dict[str, Any]]:
    return template.find_resources(type_)


def only(template: Template, type_: str) -> dict[str, Any]:
    found = list(resources(template, type_).values())
    assert len(found) == 1, f"expected one {type_}, found {len(found)}"
    return found[0]


def logical_id(template: Template, type_: str, predicate: Callable[[dict[str, Any]], bool] = lambda r: True) -> str:
    matches = [k for k, r in resources(template, type_).items() if predicate(r)]
    assert len(matches) == 1, f"expected one matching {type_}, found {matches}"
    return matches[0]


@pytest.fixture(scope="session")
def example() -> dict[str, Any]:
    return example_config()


@pytest.fixture(scope="module")
def subscription_stack() -> GatewatchStack:
    return build_stack(example_config())


@pytest.fixture(scope="module")
def subscription_template(subscription_stack: GatewatchStack) -> Template:
    return template_of(subscription_stack)


@pytest.fixture(scope="module")
def account_policy_template() -> Template:
    raw = example_config()
    raw["ingestion"] = "account-policy"
    return template_of(build_stack(raw))


KINESIS_SETTINGS = {
    "shardCount": 2,
    "batchSize": 200,
    "maxBatchingWindowSeconds": 10,
    "parallelizationFactor": 4,
    "retryAttempts": 5,
    "sourceAccounts": ["444455556666"],
}


@pytest.fixture(scope="module")
def kinesis_template() -> Template:
    raw = example_config()
    raw["ingestion"] = "kinesis"
    raw["kinesis"] = dict(KINESIS_SETTINGS)
    raw["apis"][0]["createExecutionLogGroup"] = True  # a stage that has never written execution logs
    return template_of(build_stack(raw))

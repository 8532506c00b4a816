"""Marks the tests by what they need, so `make unit` can leave out the slow tiers (`-m "not synth and not demo"`).

- `synth`: everything under tests/infra builds a CDK app (synth, cdk-nag, cfn-lint, bundling, the CDK CLI).
- `demo`: tests/functional/test_demo_e2e.py runs the whole demo pipeline (moto's server, loopback Slack).

A test elsewhere that needs either carries the marker itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
_BY_PATH = (
    (TESTS / "infra", pytest.mark.synth),
    (TESTS / "functional" / "test_demo_e2e.py", pytest.mark.demo),
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(item.path)
        for where, mark in _BY_PATH:
            if path == where or where in path.parents:
                item.add_marker(mark)

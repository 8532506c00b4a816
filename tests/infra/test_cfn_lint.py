"""cfn-lint reports nothing on the synthesized templates of every ingestion mode and of the construct."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cfnlint.api import lint_file

from tests.infra.test_construct import in_app  # noqa: F401  (module fixture reused: the construct on in-app APIs)


@pytest.mark.parametrize(
    "template_fixture", ["subscription_template", "account_policy_template", "kinesis_template", "in_app"]
)
def test_cfn_lint_reports_nothing(template_fixture, request, tmp_path: Path):
    template = request.getfixturevalue(template_fixture)
    path = tmp_path / f"{template_fixture}.json"
    path.write_text(json.dumps(template.to_json(), indent=1))
    matches = lint_file(path)
    assert [f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches] == []

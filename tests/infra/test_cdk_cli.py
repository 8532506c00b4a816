"""`npx cdk synth` — the real pinned CLI — on the documented example config, offline, no credentials."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_cdk_synth_with_the_example_config_succeeds_offline(tmp_path: Path):
    assert (ROOT / "node_modules" / ".bin" / "cdk").exists(), "run `make env` (npm ci installs the pinned CDK CLI)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "CDK_DISABLE_CLI_TELEMETRY": "1",
            "CDK_DISABLE_VERSION_CHECK": "1",
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
            "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
            "AWS_CONFIG_FILE": str(tmp_path / "none"),
        }
    )
    out = tmp_path / "cdk.out"
    # bundles for real, from the local wheelhouse (as `make synth` / `cdk deploy` would)
    done = subprocess.run(
        [shutil.which("npx") or "npx", "cdk", "synth", "--quiet", "--output", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    template = json.loads((out / "Gatewatch.template.json").read_text())
    types = {r["Type"] for r in template["Resources"].values()}
    assert {
        "AWS::Lambda::Function",
        "AWS::Logs::SubscriptionFilter",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
        "AWS::SNS::Topic",
        "AWS::DynamoDB::Table",
    } <= types
    report = (
        json.loads((out / "validation-report.json").read_text()) if (out / "validation-report.json").exists() else {}
    )
    assert not report.get("pluginReports"), report  # cdk-nag ran and found nothing unacknowledged

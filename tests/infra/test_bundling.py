"""The one test that runs the real local bundling (no Docker, no network: wheels come from .wheelhouse)."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from cdk_nag import AwsSolutionsChecks

from stacks.config import parse_config
from stacks.constructs.functions import WHEELHOUSE_DIR, pip_install_command
from stacks.gatewatch_stack import GatewatchStack
from tests.infra.conftest import example_config


@pytest.mark.slow
def test_local_bundling_builds_an_arm64_asset_with_the_engine_alone(tmp_path: Path):
    # GIVEN the wheelhouse `make env` downloads (so nothing is fetched now)
    assert WHEELHOUSE_DIR.is_dir(), "run `make env`: it downloads the arm64 wheels into .wheelhouse/"
    assert "--no-index" in pip_install_command("out", requirements=Path("r.txt"), wheelhouse=WHEELHOUSE_DIR)
    # WHEN the app is synthesized with bundling on
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stack = GatewatchStack(app, "Gatewatch", config=parse_config(example_config()))
    assembly = app.synth()
    # THEN both functions point at one asset that holds the handlers, the engine and arm64 wheels
    template = assembly.get_stack_by_name(stack.stack_name).template
    keys = {
        r["Properties"]["Code"]["S3Key"] for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"
    }
    assert len(keys) == 1
    assets = json.loads((Path(assembly.directory) / f"{stack.artifact_id}.assets.json").read_text())["files"]
    (asset,) = [a for a in assets.values() if a["destinations"] and a["source"].get("packaging") == "zip"]
    root = Path(assembly.directory) / asset["source"]["path"]
    for package in ("gatewatch", "analyzer", "notifier"):
        assert (root / package / "__init__.py").is_file(), package
    for module in (
        "classify/taxonomy.py",
        "parse/access.py",
        "metrics/emf.py",
        "notify/slack_blocks.py",
        "services/analyzer.py",
        "services/notifier.py",
        "ingest/lambda_events.py",
    ):
        assert (root / "gatewatch" / module).is_file(), module
    assert (root / "aws_lambda_powertools" / "__init__.py").is_file()
    native = list((root / "orjson").glob("*.so"))
    assert native and all("aarch64" in so.name for so in native), native
    assert not (root / "boto3").exists()  # the runtime provides it
    assert not list(root.rglob("__pycache__"))
    # AND nothing of the toolbox: no CLI, report, docs generator, simulator, demo, rich, matplotlib or moto
    top_level = {p.name for p in root.iterdir()}
    for absent in ("gatewatch_cli", "gatewatch_demo", "stacks", "rich", "matplotlib", "moto", "tests", "bench"):
        assert absent not in top_level, absent
    ours = [p for package in ("gatewatch", "analyzer", "notifier") for p in (root / package).rglob("*")]
    assert {p.suffix for p in ours if p.is_file()} == {".py"}  # the allowlist copies sources only
    names = {p.stem for p in ours}
    for absent in (
        "cli",
        "main",
        "__main__",
        "report",
        "docs",
        "simulate",
        "visuals",
        "runner",
        "live_logs",
        "alarm_specs",
    ):
        assert absent not in names, absent
    engine_text = "\n".join(p.read_text() for p in ours if p.suffix == ".py")
    for absent in (
        "import rich",
        "from rich",
        "matplotlib",
        "import moto",
        "from moto",
        "argparse",
        "gatewatch_cli",
        "gatewatch_demo",
    ):
        assert absent not in engine_text, absent

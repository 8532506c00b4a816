"""The one test that runs the real local bundling (no Docker, no network: wheels come from .wheelhouse,
bytecode from the pinned Pyodide in node_modules)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import aws_cdk as cdk
import pytest
from cdk_nag import AwsSolutionsChecks

from stacks.config import parse_config
from stacks.constructs.bytecode import PYODIDE_DIR, cache_tag, pyc_magic
from stacks.constructs.functions import WHEELHOUSE_DIR, pip_install_command
from stacks.gatewatch_stack import GatewatchStack
from tests.infra.conftest import example_config

ROOT = Path(__file__).resolve().parents[2]
#: Engine modules that import nothing native (orjson and msgspec are arm64 binaries Pyodide cannot load).
PURE_MODULES = (
    "gatewatch.naming",
    "gatewatch.classify.taxonomy",
    "gatewatch.classify.rules",
    "gatewatch.notify.slack_blocks",
    "aws_lambda_powertools.logging",
    "jmespath",
)


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """The example app synthesized with the real local bundling: (template, root of the functions' asset)."""
    # GIVEN the wheelhouse and Pyodide that `make env` installs (so nothing is fetched now)
    assert WHEELHOUSE_DIR.is_dir(), "run `make env`: it downloads the arm64 wheels into .wheelhouse/"
    assert (PYODIDE_DIR / "pyodide.asm.wasm").is_file(), "run `make env`: npm ci installs Pyodide"
    assert "--no-index" in pip_install_command("out", requirements=Path("r.txt"), wheelhouse=WHEELHOUSE_DIR)
    # WHEN the app is synthesized with bundling on
    app = cdk.App(outdir=str(tmp_path_factory.mktemp("bundled") / "cdk.out"))
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stack = GatewatchStack(app, "Gatewatch", config=parse_config(example_config()))
    assembly = app.synth()
    template = assembly.get_stack_by_name(stack.stack_name).template
    assets = json.loads((Path(assembly.directory) / f"{stack.artifact_id}.assets.json").read_text())["files"]
    (asset,) = [a for a in assets.values() if a["destinations"] and a["source"].get("packaging") == "zip"]
    return template, Path(assembly.directory) / asset["source"]["path"]


def _runtime_version(template: dict) -> str:
    """The Python version of the functions' runtime ("python3.14" -> "3.14"); both must agree."""
    (runtime,) = {
        r["Properties"]["Runtime"] for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"
    }
    assert runtime.startswith("python")
    return runtime.removeprefix("python")


@pytest.mark.slow
def test_local_bundling_builds_an_arm64_asset_with_the_engine_alone(bundled):
    template, root = bundled
    # THEN both functions point at one asset that holds the handlers, the engine and arm64 wheels
    keys = {
        r["Properties"]["Code"]["S3Key"] for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"
    }
    assert len(keys) == 1
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
    # AND nothing of the toolbox: no CLI, report, docs generator, simulator, demo, rich, matplotlib or moto
    top_level = {p.name for p in root.iterdir()}
    for absent in ("gatewatch_cli", "gatewatch_demo", "stacks", "rich", "matplotlib", "moto", "tests", "bench"):
        assert absent not in top_level, absent
    ours = [p for package in ("gatewatch", "analyzer", "notifier") for p in (root / package).rglob("*")]
    # the allowlist copies sources only; the build adds their bytecode, nothing else
    assert {p.suffix for p in ours if p.is_file() and p.parent.name != "__pycache__"} == {".py"}
    assert {p.suffix for p in ours if p.is_file() and p.parent.name == "__pycache__"} == {".pyc"}
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


@pytest.mark.slow
def test_every_module_ships_bytecode_of_the_runtimes_python_version(bundled):
    template, root = bundled
    version = _runtime_version(template)
    # THEN every .py file of the asset (engine, handlers and wheels) has its .pyc for that version:
    # the file name CPython {version} looks for, its magic number, and hash-based without a source
    # check (flags = 1, PEP 552) — the zip keeps no timestamps and Lambda cannot rewrite a stale one
    sources = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    assert len(sources) > 100
    missing, wrong = [], []
    for source in sources:
        pyc = source.parent / "__pycache__" / f"{source.stem}.{cache_tag(version)}.pyc"
        if not pyc.is_file():
            missing.append(str(source.relative_to(root)))
            continue
        header = pyc.read_bytes()[:8]
        if header[:4] != pyc_magic(version) or int.from_bytes(header[4:8], "little") != 1:
            wrong.append((str(pyc.relative_to(root)), header.hex()))
    assert not missing, missing[:10]
    assert not wrong, wrong[:10]
    stray = [p for p in root.rglob("*.pyc") if f".{cache_tag(version)}." not in p.name]
    assert not stray, stray[:10]  # no bytecode of another Python (e.g. the build machine's 3.11)


@pytest.mark.slow
def test_the_runtimes_python_imports_the_shipped_bytecode_without_compiling(bundled):
    template, root = bundled
    node = shutil.which("node")
    assert node is not None
    # WHEN CPython of the runtime's version (Pyodide's) imports engine modules from the asset with
    # compiling from source disabled
    done = subprocess.run(
        [node, str(ROOT / "tests" / "infra" / "load_bytecode.mjs"), str(PYODIDE_DIR), str(root), *PURE_MODULES],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # THEN it is that version, and every module came from its shipped .pyc
    assert result["version"] == _runtime_version(template)
    assert result["errors"] == {}
    assert sorted(result["loaded"]) == sorted(PURE_MODULES)
    assert all(path.endswith(f".{cache_tag(result['version'])}.pyc") for path in result["loaded"].values())

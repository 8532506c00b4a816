"""Rules of the code itself that no linter setting states: no run-time code generation in what deploys."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import ROOT

DEPLOYED = ("functions", "stacks")
FORBIDDEN_CALLS = {"exec", "eval", "compile"}


def _calls_of_builtins(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        f"{path.relative_to(ROOT)}:{node.lineno}: {node.func.id}()"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS
    ]


def test_nothing_that_deploys_generates_or_evaluates_code_at_run_time():
    # GIVEN every Python file of the Lambda asset and the CDK app
    files = [p for folder in DEPLOYED for p in sorted((ROOT / folder).rglob("*.py")) if "__pycache__" not in p.parts]
    assert len(files) > 20
    # WHEN their calls are read  THEN none is exec, eval or the compile builtin (re.compile is a method)
    assert [call for path in files for call in _calls_of_builtins(path)] == []

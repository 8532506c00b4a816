#!/usr/bin/env python3
"""Fail when a module imports another module's private (`_underscore`) name.

Why a check of its own: ruff's PLC2701 allows such imports inside one top-level package, and inside
the engine is exactly where they made the modules lean on each other's internals. Each module's
public names are its contract; what starts with `_` may change without notice.

Usage: python tools/check_imports.py [PATH ...]   (default: the project's code and tests)
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATHS = ("functions", "gatewatch_cli", "gatewatch_demo", "stacks", "tests", "bench", "tools", "app.py")
PROJECT_PACKAGES = ("gatewatch", "analyzer", "notifier", "gatewatch_cli", "gatewatch_demo", "stacks", "tests", "bench")


def _python_files(paths: list[str]) -> Iterator[Path]:
    for name in paths:
        path = ROOT / name
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_imports(path: Path) -> Iterator[str]:
    """`file:line: from module import _name` for every private name imported from a project module."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] not in PROJECT_PACKAGES:
                continue
            for alias in node.names:
                if _is_private(alias.name) or any(_is_private(part) for part in node.module.split(".")):
                    yield f"{path.relative_to(ROOT)}:{node.lineno}: from {node.module} import {alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] in PROJECT_PACKAGES and any(_is_private(part) for part in parts):
                    yield f"{path.relative_to(ROOT)}:{node.lineno}: import {alias.name}"


def main(argv: list[str]) -> int:
    found = [line for path in _python_files(argv or list(DEFAULT_PATHS)) for line in private_imports(path)]
    for line in found:
        print(line)
    print(f"check_imports: {len(found)} import(s) of another module's private name", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

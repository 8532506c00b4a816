"""Bytecode for the Lambda runtime: the asset ships `.pyc` files compiled by the runtime's own CPython.

Why: Lambda's code directory is read-only, so without shipped bytecode every cold start compiles every
module it imports (measured: import of the analyzer ~2.5x slower). Why Pyodide: `.pyc` files are only
valid for the CPython minor version that wrote them (the magic number), and the machines that build
the asset have CPython 3.11 only; the npm package `pyodide` (pinned in package.json, installed by
`make env`) is CPython 3.14 compiled to WebAssembly, which Node runs offline. Bytecode is
platform-independent, so what it compiles is what python3.14 on arm64 loads.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PYODIDE_DIR = REPO_ROOT / "node_modules" / "pyodide"
COMPILER_SCRIPT = Path(__file__).with_name("compile_bytecode.mjs")
LAMBDA_TASK_ROOT = "/var/task"  # where Lambda unpacks the asset: the file names tracebacks show

#: The .pyc magic number of each CPython minor version (Include/internal/pycore_magic_number.h, the
#: value of the final release). A .pyc whose header differs is ignored and the module compiled again.
PYC_MAGIC_NUMBERS = {"3.11": 3495, "3.12": 3531, "3.13": 3571, "3.14": 3627}


def pyc_magic(python_version: str) -> bytes:
    """The first four bytes of every .pyc written by CPython `python_version` ("3.14")."""
    return PYC_MAGIC_NUMBERS[python_version].to_bytes(2, "little") + b"\r\n"


def cache_tag(python_version: str) -> str:
    """`cpython-314`: the name part of `__pycache__/module.cpython-314.pyc` that CPython 3.14 looks for."""
    return "cpython-" + python_version.replace(".", "")


class BytecodeError(RuntimeError):
    """The asset could not be given bytecode for the runtime (the message says what to do)."""


@dataclass(frozen=True)
class BytecodeReport:
    version: str
    magic: bytes
    cache_tag: str
    compiled: int


def compile_bytecode(
    asset_dir: Path, *, python_version: str, pyodide_dir: Path = PYODIDE_DIR, timeout_s: float = 300
) -> BytecodeReport:
    """Write `__pycache__/*.{cache_tag}.pyc` (unchecked-hash) beside every .py file of `asset_dir`.

    Raises BytecodeError when Node or Pyodide is missing, when Pyodide's CPython is not
    `python_version`, or when a file does not compile — an asset without bytecode would deploy and
    only be slower, so the build stops instead of shipping it silently.
    """
    node = shutil.which("node")
    if node is None:
        raise BytecodeError("gatewatch: compiling the Lambda bytecode needs Node.js (>= 20) on PATH")
    if not (pyodide_dir / "pyodide.mjs").is_file():
        raise BytecodeError(
            f"gatewatch: Pyodide is missing ({pyodide_dir}); run `make env` (npm ci installs the pinned "
            "`pyodide` package, the CPython that compiles the Lambda asset's bytecode)"
        )
    done = subprocess.run(
        [node, str(COMPILER_SCRIPT), str(pyodide_dir), str(asset_dir), LAMBDA_TASK_ROOT],
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise BytecodeError(f"gatewatch: compiling the Lambda bytecode failed:\n{done.stderr[-2000:]}")
    raw = json.loads(lines[-1])
    if raw["version"] != python_version:
        raise BytecodeError(
            f"gatewatch: Pyodide runs CPython {raw['version']}, but the Lambda runtime is python{python_version}: "
            "pin the `pyodide` release of that Python version in package.json (its major version is the "
            "Python version: 314.x is CPython 3.14)"
        )
    if raw["failed"]:
        shown = "; ".join(f"{f['file']}: {f['error']}" for f in raw["failed"][:5])
        raise BytecodeError(f"gatewatch: {len(raw['failed'])} file(s) of the asset do not compile: {shown}")
    report = BytecodeReport(raw["version"], bytes.fromhex(raw["magic"]), raw["cacheTag"], raw["compiled"])
    if report.magic != pyc_magic(python_version) or report.cache_tag != cache_tag(python_version):
        raise BytecodeError(
            f"gatewatch: Pyodide's CPython {report.version} writes magic {report.magic.hex()} / "
            f"{report.cache_tag}, not python{python_version}'s {pyc_magic(python_version).hex()} / "
            f"{cache_tag(python_version)}"
        )
    return report


__all__ = [
    "LAMBDA_TASK_ROOT",
    "PYC_MAGIC_NUMBERS",
    "PYODIDE_DIR",
    "BytecodeError",
    "BytecodeReport",
    "cache_tag",
    "compile_bytecode",
    "pyc_magic",
]

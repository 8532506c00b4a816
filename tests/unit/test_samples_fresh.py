"""The committed samples/ are exactly what tools/generate_samples.py writes: they cannot drift."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import ROOT, SAMPLES


def test_regenerating_the_samples_reproduces_the_committed_files_byte_for_byte(tmp_path):
    # GIVEN the generator run into an empty directory, as a user would run it
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "generate_samples.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    # THEN it writes the same set of files as samples/ holds
    fresh = sorted(p.name for p in tmp_path.iterdir())
    committed = sorted(p.name for p in SAMPLES.iterdir())
    assert fresh == committed
    # AND every file is identical (run `python tools/generate_samples.py` after changing the simulator)
    stale = [name for name in fresh if (tmp_path / name).read_bytes() != (SAMPLES / name).read_bytes()]
    assert not stale, f"samples/ is stale, regenerate with: python tools/generate_samples.py ({stale})"


def test_samples_stay_small_enough_for_the_repository():
    assert sum(p.stat().st_size for p in SAMPLES.iterdir()) < 2_000_000

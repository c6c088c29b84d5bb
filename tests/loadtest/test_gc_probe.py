"""The collector probe: a process started with it reports its collections and their time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROBE = Path(__file__).parents[2] / "loadtest" / "gc_probe"


def test_a_process_with_the_probe_reports_its_collections(tmp_path: Path):
    code = "import gc; gc.set_threshold(100); kept = [[] for _ in range(20_000)]"
    env = {**os.environ, "PYTHONPATH": str(PROBE), "GC_PROBE_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    (report,) = tmp_path.iterdir()
    line = report.read_text()
    counts = line.split("collections ")[1].split(",")[0].split(" / ")
    # One per 100 tracked allocations; every tenth is of an older generation.
    assert sum(map(int, counts)) >= 20_000 // 100 - 5, line
    assert " s of " in line and line.endswith("s CPU\n")


def test_without_its_folder_the_probe_does_nothing(tmp_path: Path):
    env = {**os.environ, "PYTHONPATH": str(PROBE)}
    env.pop("GC_PROBE_DIR", None)
    subprocess.run([sys.executable, "-c", "pass"], env=env, check=True, cwd=tmp_path)
    assert list(tmp_path.iterdir()) == []

"""``loadtest/bench_replay.py`` in a short form: it makes its file, replays it and splits it."""

from __future__ import annotations

import re
import subprocess
import sys


def test_the_replay_bench_times_its_workload():
    done = subprocess.run(
        [sys.executable, "-m", "loadtest.bench_replay", "--events", "3000", "--runs", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.search(r"3,000 events x 7 features: median \d+\.\d+ s", done.stdout), done.stdout
    stages = re.search(r"over 3,000: read [\d.]+, ingest [\d.]+, duplicates [\d.]+, "
                       r"monitors [\d.]+; total [\d.]+", done.stdout)  # fmt: skip
    assert stages, done.stdout

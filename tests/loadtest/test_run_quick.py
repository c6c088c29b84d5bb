"""CI's smoke test of the load test: every mode consumes every event it was given.

It asserts nothing about speed (benchmarks are not unit tests); a mode that falls short of
its events makes the runner fail.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_the_quick_load_test_runs_every_mode_to_the_end():
    done = subprocess.run(
        [sys.executable, "-m", "loadtest.run", "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [
        line for line in done.stdout.splitlines() if line.startswith("| ") and "---" not in line
    ]
    modes = {line.split("|")[2].strip() for line in rows[1:]}
    assert modes == {
        "producer (confluent-kafka)",
        "ceiling: consume + orjson",
        "bare Faust",
        "bare Faust, chunked",
        "naive Faust + river + Redis",
        "Driftline worker",
    }
    assert len(rows) - 1 == 2 * len(modes)
    assert "event-to-alert latency at" in done.stdout

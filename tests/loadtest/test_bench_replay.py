"""``loadtest/bench_replay.py`` in a short form: it makes its file, replays it and splits it."""

from __future__ import annotations

import re

from tests.loadtest.modules import run_module


def test_the_replay_bench_times_its_workload():
    printed = run_module("loadtest.bench_replay", "--events", "3000", "--runs", "1")
    assert re.search(r"3,000 events x 7 features: median \d+\.\d+ s", printed), printed
    stages = re.search(r"over 3,000: read [\d.]+, ingest [\d.]+, duplicates [\d.]+, "
                       r"monitors [\d.]+; total [\d.]+", printed)  # fmt: skip
    assert stages, printed

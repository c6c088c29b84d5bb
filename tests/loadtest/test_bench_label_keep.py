"""``loadtest/bench_label_keep.py``: a short run on the local stack's Redis, with older
buckets live, measures keeps that a join then finds (the bench refuses a run otherwise)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest


@pytest.mark.integration
@pytest.mark.parametrize("older", ["0", "5"])
def test_the_keep_bench_measures_keeps_the_join_finds(older):
    done = subprocess.run(
        [sys.executable, "-m", "loadtest.bench_label_keep", "--batches", "2",
         "--older-buckets", older],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.search(r"2,000 kept: \d+ bytes each .* Redis CPU \d+\.\d+ us each", done.stdout)

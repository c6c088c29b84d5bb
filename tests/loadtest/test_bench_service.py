"""``loadtest/bench_service.py``: its workload, and a short run on the local stack's Redis."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from loadtest.bench_service import interleaved


def test_the_models_take_turns_at_consecutive_offsets():
    records = interleaved(3, 4)
    assert [r.offset for r in records] == list(range(12))
    models = [r.value.split(b'"model_id":"')[1].split(b'"')[0] for r in records]
    assert models == [b"bench-0", b"bench-1", b"bench-2"] * 4


@pytest.mark.integration
def test_the_service_bench_applies_every_event():
    done = subprocess.run(
        [sys.executable, "-m", "loadtest.bench_service", "--models", "2",
         "--events-per-model", "3000", "--batch", "1000"],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.search(r"2 models x 3,000 events: \d+\.\d+ us CPU per event", done.stdout)

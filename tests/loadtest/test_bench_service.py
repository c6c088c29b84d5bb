"""``loadtest/bench_service.py``: its workload, and a short run on the local stack's Redis."""

from __future__ import annotations

import re

import pytest

from loadtest.bench_service import interleaved
from tests.loadtest.modules import run_module


def test_the_models_take_turns_at_consecutive_offsets():
    records = interleaved(3, 4)
    assert [r.offset for r in records] == list(range(12))
    models = [r.value.split(b'"model_id":"')[1].split(b'"')[0] for r in records]
    assert models == [b"bench-0", b"bench-1", b"bench-2"] * 4


@pytest.mark.integration
def test_the_service_bench_applies_every_event():
    printed = run_module("loadtest.bench_service", "--models", "2",
                         "--events-per-model", "3000", "--batch", "1000")  # fmt: skip
    assert re.search(r"2 models x 3,000 events: \d+\.\d+ us CPU per event", printed)

"""``loadtest/bench_label_keep.py``: a short run on the local stack's Redis, with older
buckets live, measures keeps that a join then finds (the bench refuses a run otherwise)."""

from __future__ import annotations

import re

import pytest

from tests.loadtest.modules import run_module


@pytest.mark.integration
@pytest.mark.parametrize("older", ["0", "5"])
def test_the_keep_bench_measures_keeps_the_join_finds(older):
    printed = run_module("loadtest.bench_label_keep", "--batches", "2", "--older-buckets", older)
    assert re.search(r"2,000 kept: \d+ bytes each .* Redis CPU \d+\.\d+ us each", printed)

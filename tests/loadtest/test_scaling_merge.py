"""The scale-out harness judges the group as one: each model's counts from the worker that
owns it, and a model applied by two workers (state not handed over) fails the run."""

from __future__ import annotations

import pytest

from loadtest.scaling import merged
from loadtest.work_done import Observed, Plan, WorkNotDone

PLAN = Plan({"a": 8_000, "b": 8_000}, warmup_events=200, reference_events=5_000,
            window_events=1_000)  # fmt: skip


def owner(model: str, accepted: int = 8_000) -> Observed:
    return Observed(accepted={model: accepted}, reference_ready={model: True}, windows={model: 2})


def test_two_workers_each_owning_a_model_pass_as_one_group():
    group = merged([owner("a"), owner("b")])
    assert group.accepted == {"a": 8_000, "b": 8_000}
    group.check(PLAN, "2 workers")


def test_a_model_applied_by_two_workers_fails_the_run():
    twice = merged([owner("a"), owner("b"), owner("a", accepted=1_000)])
    assert twice.accepted["a"] == 9_000
    with pytest.raises(WorkNotDone, match="a: 9,000 of 8,000"):
        twice.check(PLAN, "2 workers")

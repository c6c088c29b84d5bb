"""A stopping worker's waits on Kafka share one budget (``StopBudget``): a step that used it
up leaves the next one the floor, not a budget of its own."""

from __future__ import annotations

import pytest

from streams.adapters.faust import batch_consumer
from streams.adapters.faust.consumer_thread import StopBudget


@pytest.fixture
def clock(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(batch_consumer.time, "monotonic", lambda: now[0])
    return now


def test_the_first_step_gets_the_whole_budget_and_the_next_what_is_left(clock):
    budget = StopBudget(5.0)
    clock[0] += 30  # the clock starts at the first step, not when the budget is made
    assert budget.left() == 5.0
    clock[0] += 1.5  # the last commit answered after 1.5 s
    assert budget.left() == 3.5


def test_a_step_after_the_budget_ran_out_gets_the_floor_only(clock):
    budget = StopBudget(5.0)
    budget.left()
    clock[0] += 5.0  # the last commit waited it all out: no broker answers
    assert budget.left() == 1.0
    clock[0] += 60
    assert budget.left() == 1.0

"""The harnesses' wait for a workload: few scrapes mid-run, quick ones at both ends."""

from __future__ import annotations

import itertools

import pytest

from loadtest.progress import _pause, wait_taken
from loadtest.work_done import WorkNotDone


def test_the_wait_asks_quickly_before_the_first_event_and_near_the_end():
    assert _pause(0, 1_000, None, 5.0) == 0.05
    assert _pause(100, 100_000, (0.0, 0), 1.0) == 1.0  # ~999 s left at 100 events/s
    assert _pause(99_900, 100_000, (0.0, 0), 10.0) == 0.05  # 0.01 s left
    assert 0.05 < _pause(9_000, 10_000, (0.0, 0), 9.0) < 1.0  # 1 s left: half of it


def test_the_rate_is_the_one_seen_since_the_first_reading_not_since_zero():
    # 500,000 taken before the wait began, 1,000/s since: 99 s left, not a moment.
    assert _pause(501_000, 600_000, (0.0, 500_000), 1.0) == 1.0
    # No progress since the first reading: no rate, the pause grows with the wait.
    assert _pause(500_000, 600_000, (0.0, 500_000), 0.0) == 0.05
    assert _pause(500_000, 600_000, (0.0, 500_000), 0.3) == 0.3
    assert _pause(500_000, 600_000, (0.0, 500_000), 4.0) == 1.0


def test_the_wait_returns_when_every_event_is_taken():
    readings = itertools.chain([0, 0, 10, 500, 999], itertools.repeat(1_000))
    taken = wait_taken(lambda: next(readings), 1_000, timeout_s=30, what="test")
    assert taken.events == 1_000
    assert 0 < taken.seconds < 5  # from the last reading of none, not from the call


def test_work_done_between_two_readings_still_takes_time():
    readings = iter([0, 1_000])
    taken = wait_taken(lambda: next(readings), 1_000, timeout_s=30, what="test")
    assert taken.seconds >= 0.05  # one pause between the readings


def test_the_wait_says_how_far_it_got_when_time_runs_out():
    with pytest.raises(WorkNotDone, match="took 7 of 10 events"):
        wait_taken(lambda: 7, 10, timeout_s=0.2, what="test")

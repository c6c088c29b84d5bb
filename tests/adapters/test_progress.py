"""PartitionProgress: lag, time without progress, stalls, revocation."""

from __future__ import annotations

import pytest

from streams.adapters.faust.progress import PartitionProgress

P0, P1 = ("predictions", 0), ("predictions", 1)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


def test_a_partition_stuck_with_lag_stalls_after_stall_s(clock):
    progress = PartitionProgress(2.0, clock=clock)
    progress.assign([P0, P1])
    progress.handed({P0: [10, 11, 12], P1: [5]})
    progress.processed({P1: [5]})
    progress.observe(P0, 13)
    progress.observe(P1, 6)
    assert progress.lag(P0) == 3 and progress.lag(P1) == 0
    clock.now += 1.9
    progress.observe(P0, 13)
    assert progress.stalls() == []
    clock.now += 0.2
    (stall,) = progress.stalls()
    assert (stall.topic, stall.partition, stall.lag) == ("predictions", 0, 3)
    assert stall.seconds == pytest.approx(2.1)
    progress.processed({P0: [10, 11, 12]})
    assert progress.stalls() == [] and progress.lag(P0) == 0


def test_an_idle_partition_does_not_stall_when_records_arrive(clock):
    progress = PartitionProgress(2.0, clock=clock)
    progress.assign([P0])
    progress.handed({P0: [0]})
    progress.processed({P0: [0]})
    for _ in range(10):  # an hour of nothing to do
        clock.now += 360
        progress.observe(P0, 1)
    clock.now += 1
    progress.observe(P0, 50)  # new records: the clock starts now, not at the last progress
    assert progress.seconds_since_progress(P0) == pytest.approx(1.0)
    assert progress.stalls() == []


def test_unknown_position_or_watermark_is_no_lag_and_revoked_partitions_go(clock):
    progress = PartitionProgress(2.0, clock=clock)
    progress.assign([P0])
    progress.observe(P0, 100)
    assert progress.lag(P0) is None
    clock.now += 10
    assert progress.stalls() == []
    progress.handed({P0: [40]})
    assert progress.lag(P0) == 60
    progress.revoke([P0])
    assert progress.held == [] and progress.lag(P0) is None


def test_stall_s_must_be_positive():
    with pytest.raises(ValueError, match="stall_s"):
        PartitionProgress(0)

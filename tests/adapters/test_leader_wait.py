"""Waiting for a topic's partitions to have leaders, and for partitions just added to show."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest

from streams.adapters.kafka.admin import wait_for_leaders
from streams.core.errors import PublishFailed


@dataclass
class Partition:
    leader: int


@dataclass
class Topic:
    partitions: dict[int, Partition]
    error: object = None


@dataclass
class Metadata:
    topics: dict[str, Topic]


@dataclass
class Answers:
    """A metadata client answering ``list_topics`` with one topic's leaders, call by call
    (the last answer repeats)."""

    leaders: list[list[int]]
    calls: int = field(default=0)

    def list_topics(self, timeout: float) -> Metadata:
        leaders = self.leaders[min(self.calls, len(self.leaders) - 1)]
        self.calls += 1
        return Metadata({"t": Topic({p: Partition(leader) for p, leader in enumerate(leaders)})})


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda s: None)


def test_every_partition_needs_a_leader():
    client = Answers([[1, -1, 1], [1, 1, 1]])
    assert wait_for_leaders(client, ["t"], deadline=time.monotonic() + 5) == {"t": [0, 1, 2]}
    assert client.calls == 2


def test_partitions_just_added_are_waited_for():
    # Right after CreatePartitions the metadata can still show the old count, then the new
    # partitions without a leader.
    client = Answers([[1, 1, 1], [1, 1, 1, -1], [1, 1, 1, 1]])
    ready = wait_for_leaders(client, ["t"], deadline=time.monotonic() + 5, count=4)
    assert ready == {"t": [0, 1, 2, 3]}
    assert client.calls == 3


def test_a_count_never_reached_fails_at_the_deadline():
    client = Answers([[1, 1, 1]])
    with pytest.raises(PublishFailed, match=r"\['t'\]"):
        wait_for_leaders(client, ["t"], deadline=time.monotonic() - 1, count=4)

"""Partitions added to the topics a worker group consumes, only when that is safe.

A model's by-model partition is ``crc32(model id) % count`` (``partition_count.py``), so
added partitions move models. Safe only when no worker of the group runs and the group has
consumed every record of those topics: then no record is read again under the new count,
and no model has records left in its old partition while new ones reach another
(RELIABILITY.md, "Partitions added"). ``grow`` checks both, then adds the partitions to the
input topics and their by-model copies together; ``driftline partitions`` runs it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions

from streams.adapters.kafka.admin import connect_admin, wait_for_leaders
from streams.core.errors import DriftlineError
from streams.settings import Settings

__all__ = [
    "FewerPartitions",
    "GroupCheck",
    "PartitionsRefused",
    "consumed_topics",
    "create_partitions",
    "grow",
]  # fmt: skip

_TIMEOUT_S = 15.0


class PartitionsRefused(DriftlineError):
    """Adding the partitions now would not be safe, or cannot be done; the reason says which."""


class FewerPartitions(PartitionsRefused):
    """The count asked for is below a topic's: Kafka cannot remove partitions."""


@dataclass(frozen=True)
class GroupCheck:
    """What stands between the group and a partition change."""

    group: str
    members: int
    #: Records past the group's committed offsets, per topic (those with any).
    unconsumed: dict[str, int]

    def refusal(self) -> str | None:
        """Why partitions cannot be added now; None when they can."""
        if self.members:
            return (f"{self.members} worker(s) still in group {self.group}: stop them (scale "
                    "to 0) and run this again")  # fmt: skip
        if self.unconsumed:
            left = ", ".join(f"{n:,} on {topic}" for topic, n in sorted(self.unconsumed.items()))
            return (f"group {self.group} has records it has not consumed ({left}): pause the "
                    "producers, let the workers finish (driftline_consumer_lag 0), stop them "
                    "and run this again")  # fmt: skip
        return None


def consumed_topics(settings: Settings) -> tuple[str, ...]:
    """The topics the worker group reads: the inputs and their by-model copies, whose counts
    must stay equal (co-partitioned)."""
    return (settings.topic_predictions, settings.topic_labels, *settings.internal_topics)


def grow(settings: Settings, count: int, *, apply: bool = True) -> dict[str, tuple[int, int]]:
    """Give each consumed topic ``count`` partitions if the group allows it; each topic's
    change, ``(before, after)``. ``apply`` False: check and plan only. Raises
    ``PartitionsRefused``."""
    admin = connect_admin(settings.kafka)
    counts = _partition_counts(admin, consumed_topics(settings))
    fewer = {topic: n for topic, n in counts.items() if n > count}
    if fewer:
        topic, n = sorted(fewer.items())[0]
        raise FewerPartitions(f"{topic} has {n} partitions: Kafka cannot remove partitions")
    plan = {topic: (n, count) for topic, n in counts.items() if n < count}
    if not plan:
        return {}
    refusal = check_group(settings, admin, counts).refusal()
    if refusal is not None:
        raise PartitionsRefused(refusal)
    if apply:
        create_partitions(admin, plan, count)
    return plan


def create_partitions(admin: AdminClient, topics: Iterable[str], count: int) -> None:
    """Give each of ``topics`` ``count`` partitions, unchecked: ``grow`` says when it is safe.
    Returns once every new partition has a leader: workers started then are assigned them."""
    futures = admin.create_partitions([NewPartitions(topic, count) for topic in topics])
    for future in futures.values():
        future.result(timeout=_TIMEOUT_S)
    wait_for_leaders(admin, futures, deadline=time.monotonic() + _TIMEOUT_S, count=count)


def check_group(settings: Settings, admin: AdminClient, counts: dict[str, int]) -> GroupCheck:
    """The group's members and unconsumed records on the topics of ``counts``."""
    group = settings.app_id  # Faust's consumer group is the app id
    (described,) = admin.describe_consumer_groups([group]).values()
    members = len(described.result(timeout=_TIMEOUT_S).members)
    partitions = [TopicPartition(t, p) for t, n in counts.items() for p in range(n)]
    consumer = Consumer(settings.kafka.confluent({"group.id": group, "log_level": 3}))
    try:  # a consumer that never subscribes reads the group's commits without joining it
        committed = consumer.committed(partitions, timeout=_TIMEOUT_S)
        unconsumed: dict[str, int] = {}
        for tp in committed:
            low, high = consumer.get_watermark_offsets(tp, timeout=_TIMEOUT_S)
            left = high - (tp.offset if tp.offset >= 0 else low)
            if left > 0:
                unconsumed[tp.topic] = unconsumed.get(tp.topic, 0) + left
    finally:
        consumer.close()
    return GroupCheck(group, members, unconsumed)


def _partition_counts(admin: AdminClient, topics: Iterable[str]) -> dict[str, int]:
    """Partitions of each of ``topics`` that exists (a worker that never ran made none)."""
    found = admin.list_topics(timeout=_TIMEOUT_S).topics
    return {t: len(found[t].partitions) for t in topics if t in found and not found[t].error}

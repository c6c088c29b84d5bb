"""Where Redis's state is behind the group's committed offsets, the records between are read
again.

An offset is committed only once the state it leads to is saved, so a committed offset past
a partition's low-water mark in Redis (every model applied the partition up to there) means
Redis lost writes it had acknowledged: it restarted from a persistence file behind its last
writes, or a replica was promoted before it had them (RELIABILITY.md, finding 39). A worker
still holding the models finds that at its next save (``AppliedOffsets``); a worker that
takes the partitions afterwards would start from the commits, past what the state holds,
and never apply the records between. So once Faust has sought to the committed offsets (at
every assignment), each service's partitions are compared with its stored marks and sought
back to them where behind; the fences skip what the state holds of the records read again.
A committed partition with no mark at all is behind from its start: every save raises the
marks of the offsets it will let commit, so Redis lost them whole (it came back from before
the partition's first save, or with none of its keys; RELIABILITY.md, finding 43). It is read
from the earliest offset Kafka keeps, so the models' state is rebuilt as far as the topic's
retention allows. A topic Redis does not answer for (restarting, loading its data, hung)
is not read until it does: its partitions are paused and compared again every second
(``Uncompared``; finding 44), since read from the commits the records between would be lost.
With direct routing the input topic is checked as well: the records a router applies where
it reads them are committed with the input partition, not a by-model one.

A direct-routed worker from before the input check fenced its direct records at the last of
them, not at the end of their chunk: the first assignment after the upgrade may read again
the copies after a partition's last direct record, and report it as behind, once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from faust.types import TP

from streams.adapters.kafka.roads import direct_slot
from streams.adapters.redis.applied_offsets import AppliedOffsets
from streams.adapters.redis.road_store import RoadCheck
from streams.core.errors import StoreUnavailable

__all__ = ["MARKS_READ_S", "StateMarks", "Uncompared", "behind_direct_marks", "behind_marks",
           "rewind_behind_state", "state_marks"]  # fmt: skip

logger = logging.getLogger(__name__)

#: A service's check of its topic: committed offsets per partition -> where to read from.
StateMarks = Callable[[Mapping[int, int]], Awaitable[dict[int, int]]]

#: A partition's mark where Redis holds none: read from the start (offset 0, which Kafka resets
#: to the earliest it keeps, as ``consumer_auto_offset_reset`` says).
NO_MARK = -1

#: How long the compare may hold the seek (Faust bounds the whole seek by its request timeout).
MARKS_READ_S = 5.0


async def rewind_behind_state(consumer: Any, marks: Mapping[str, StateMarks]) -> Uncompared:
    """Seek the assigned partitions of ``marks``' topics whose committed offset (as Faust's
    ``consumer`` has just read it) is past their stored state back to it. Those of a topic
    Redis did not answer for within ``MARKS_READ_S`` are paused (read from the commits, the
    records between would never be applied) and compared again until it does: the
    ``Uncompared`` returned."""
    assigned = consumer.assignment()
    committed: dict[str, dict[int, int]] = {}
    for tp, offset in consumer._committed_offset.items():
        if offset and tp.topic in marks and tp in assigned:
            committed.setdefault(tp.topic, {})[tp.partition] = offset
    starts, unchecked = await _starts_behind(committed, marks)
    for tp, offset in starts.items():
        await consumer.seek(tp, offset)
    return Uncompared(consumer, unchecked, marks)


class Uncompared:
    """The partitions of one assignment whose commits could not be compared with Redis's
    state (a Redis restarting, or still loading its data): paused, compared again every
    ``every_s``, sought as ``rewind_behind_state`` seeks and resumed once compared. A
    rebalance ends it (``cancel``): the next assignment compares its own."""

    def __init__(
        self,
        consumer: Any,
        unchecked: dict[str, dict[int, int]],
        marks: Mapping[str, StateMarks],
        every_s: float = 1.0,
    ) -> None:
        self.consumer = consumer
        self.partitions = {TP(t, p) for t, offsets in unchecked.items() for p in offsets}
        self._task: asyncio.Task[None] | None = None
        if unchecked:
            logger.warning("could not compare the committed offsets of %s with the state in "
                           "Redis: their partitions wait for it", ", ".join(unchecked))  # fmt: skip
            consumer.pause_partitions(self.partitions)
            self._task = asyncio.ensure_future(self._compare(unchecked, marks, every_s))

    def cancel(self) -> set[TP]:
        """Stop comparing; the partitions still paused."""
        if self._task is not None:
            self._task.cancel()
        return self.partitions

    async def _compare(
        self, unchecked: dict[str, dict[int, int]], marks: Mapping[str, StateMarks], every_s: float
    ) -> None:
        generation = self.consumer.app.consumer_generation_id
        while unchecked:
            await asyncio.sleep(every_s)
            try:
                starts, still = await _starts_behind(unchecked, marks)
                if self.consumer.app.consumer_generation_id != generation:
                    return
                for tp, offset in starts.items():
                    await self.consumer.seek(tp, offset)
            except Exception:  # the partitions stay paused: never give up on them
                logger.exception("comparing the committed offsets with the state in Redis "
                                 "failed; trying again")  # fmt: skip
                continue
            unchecked = still
            compared = {tp for tp in self.partitions if tp.topic not in unchecked}
            if compared:
                logger.info("compared the committed offsets of %d partitions with the state "
                            "in Redis: reading them", len(compared))  # fmt: skip
                self.partitions -= compared
                self.consumer.resume_partitions(compared)


async def _starts_behind(
    committed: Mapping[str, dict[int, int]], marks: Mapping[str, StateMarks]
) -> tuple[dict[TP, int], dict[str, dict[int, int]]]:
    """Where to read the partitions of ``committed`` (per topic, partition -> committed
    offset) from where Redis's state is behind; and the topics it did not answer for."""
    # At once: a hung Redis holds the seek MARKS_READ_S, not that per topic.
    asked = [
        asyncio.wait_for(marks[topic](offsets), MARKS_READ_S)
        for topic, offsets in committed.items()
    ]
    answers = await asyncio.gather(*asked, return_exceptions=True)
    starts: dict[TP, int] = {}
    unchecked: dict[str, dict[int, int]] = {}
    for (topic, offsets), answer in zip(committed.items(), answers, strict=True):
        if isinstance(answer, StoreUnavailable | TimeoutError):
            logger.debug("the state of %s not compared: %s", topic, answer)
            unchecked[topic] = offsets
        elif isinstance(answer, BaseException):
            raise answer
        else:
            starts.update((TP(topic, partition), offset) for partition, offset in answer.items())
    return starts, unchecked


def state_marks(*services: AppliedOffsets) -> dict[str, StateMarks]:
    """The checks of the topics ``services`` read: each one's own, and with direct routing
    (a ``road_check`` set) the input topic its router reads."""
    marks = {applied.store.topic: behind_marks(applied) for applied in services}
    for applied in services:
        if applied.road_check is not None:
            marks[applied.road_check.roads.topic] = behind_direct_marks(applied, applied.road_check)
    return marks


def behind_marks(applied: AppliedOffsets) -> StateMarks:
    """The check of ``applied``'s own topic: a partition is behind where its committed
    offset is past its low-water mark, or from its start where it has no mark (the marks
    carry no TTL: only a Redis that lost them has none under a commit)."""

    async def behind(committed: Mapping[int, int]) -> dict[int, int]:
        marks = await applied.store.applied_offsets(list(committed))
        return _reported(applied, applied.store.topic, committed, _past(marks, committed))

    return behind


def behind_direct_marks(applied: AppliedOffsets, check: RoadCheck) -> StateMarks:
    """The check of the input topic a router reads with direct routing: the records it
    applies where it reads them are fenced by input partition (``direct_slot``), up to the
    end of each chunk (its copies included, ``DirectRouting``), so a partition whose road is
    direct now is behind where its committed offset is past the first record of the road
    after that fence (from the first record of the road where the fence is gone: a claim
    of the road stores one below it). Copy segments are left out: their records are
    checked where their copies are read.

    Where the router claims the direct road, a partition with no road stored at all was
    routed before only by copies (a switch from repartition routing) or Redis lost its
    roads: its direct records, if any, are not known. It is read from past the last of its
    own models' records applied (the low-water source offsets of its direct slot and of the
    by-model partition of its number, where those records go as copies), as copies (the
    road is claimed at the high-water mark): copies already applied are skipped by their
    source fences, so nothing counts twice. Its records copied to other by-model partitions
    (of models that map elsewhere) say nothing of its own: those partitions' marks are
    theirs, compared where they are read (RELIABILITY finding 46)."""

    async def behind(committed: Mapping[int, int]) -> dict[int, int]:
        road = await check.direct_road_now()
        if road is None:
            return {}
        marks = await applied.store.applied_offsets(map(direct_slot, committed))
        roads = await check.roads.read_many(list(committed))
        unrouted = {p: offset for p, offset in committed.items()
                    if check.claims_direct and not roads[p].starts}  # fmt: skip
        starts = {}
        for partition, offset in committed.items():
            mark, stored = marks.get(direct_slot(partition), NO_MARK), roads[partition]
            start = None if stored.last != road else stored.first_on(road, mark + 1)
            if start is not None and start < offset:
                starts[partition] = start
        topic = check.roads.topic
        return _reported(applied, topic, committed, starts) | await _unrouted(
            applied, topic, unrouted
        )

    return behind


async def _unrouted(
    applied: AppliedOffsets, topic: str, committed: dict[int, int]
) -> dict[int, int]:
    """Where to read the input partitions ``committed`` with no road stored from: past the
    last of their own models' records applied (``behind_direct_marks``)."""
    if not committed:
        return {}
    reached: dict[int, int] = {}
    for (slot, source_topic, partition), offset in (await applied.store.applied_sources()).items():
        own = slot in (partition, direct_slot(partition))
        if own and source_topic == topic and partition in committed:
            reached[partition] = max(reached.get(partition, NO_MARK), offset)
    starts = _past(reached, committed)
    if starts:
        # Not an ERROR: a switch from repartition routing looks the same (copies forwarded
        # but not yet applied are forwarded again, then skipped).
        logger.warning("%d partitions of %s have no road stored and commits past the last of "
                       "their records applied (%s): read again from there as copies (a switch "
                       "to direct routing, or Redis lost their roads)", len(starts), topic,
                       _shown(starts, committed))  # fmt: skip
    return starts


def _past(reached: Mapping[int, int], committed: Mapping[int, int]) -> dict[int, int]:
    """The partitions of ``committed`` whose commit is past the record after what
    ``reached`` says they were applied up to (none: from the start); that record."""
    return {p: reached.get(p, NO_MARK) + 1 for p, offset in committed.items()
            if offset > reached.get(p, NO_MARK) + 1}  # fmt: skip


def _shown(starts: Mapping[int, int], committed: Mapping[int, int]) -> str:
    return ", ".join(f"{p}: {starts[p]} < {committed[p]}" for p in sorted(starts)[:5])


def _reported(
    applied: AppliedOffsets, topic: str, committed: Mapping[int, int], starts: dict[int, int]
) -> dict[int, int]:
    if starts:
        shown = _shown(starts, committed)
        logger.error("Redis's state is behind the committed offsets of %d partitions of %s "
                     "(%s): it lost writes it had acknowledged; reading those records again",
                     len(starts), topic, shown)  # fmt: skip
        if applied.behind_commits is not None:
            applied.behind_commits.inc(len(starts))
    return starts

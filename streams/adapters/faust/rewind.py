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
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from faust.types import TP

from streams.core.errors import StoreUnavailable

__all__ = ["MARKS_READ_S", "StateMarks", "rewind_behind_state"]

logger = logging.getLogger(__name__)

#: A service's check of its topic: committed offsets per partition -> where to read from.
StateMarks = Callable[[Mapping[int, int]], Awaitable[dict[int, int]]]

#: How long the compare may hold the seek (Faust bounds the whole seek by its request timeout).
MARKS_READ_S = 5.0


async def rewind_behind_state(consumer: Any, marks: Mapping[str, StateMarks]) -> None:
    """Seek the assigned partitions of ``marks``' topics whose committed offset (as Faust's
    ``consumer`` has just read it) is past their stored state back to it."""
    assigned = consumer.assignment()
    committed: dict[str, dict[int, int]] = {}
    for tp, offset in consumer._committed_offset.items():
        if offset and tp.topic in marks and tp in assigned:
            committed.setdefault(tp.topic, {})[tp.partition] = offset
    for topic, offsets in committed.items():
        try:
            starts = await asyncio.wait_for(marks[topic](offsets), MARKS_READ_S)
        except (StoreUnavailable, TimeoutError) as exc:
            # Not a reason to hold the partitions: the batches wait for Redis anyway.
            logger.warning("could not compare the committed offsets of %s with the state in "
                           "Redis (%s): not checked at this assignment", topic, exc)  # fmt: skip
            continue
        for partition, offset in starts.items():
            await consumer.seek(TP(topic, partition), offset)

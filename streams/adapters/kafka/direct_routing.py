"""The routing stage's direct road: the records already on the partition their model maps
to, at offsets their partition's roads (``roads.py``) route direct, are not copied: the
router applies them itself, in the same step, and the chunk is acked once they are applied
too (``DRIFTLINE_ROUTING=direct``; ``routing.py`` has the copies).

The direct records of a partition are fenced up to the end of their run, copies included,
and a chunk whose last records of a partition on the direct road are not direct raises that
fence alone (``DirectRoute.passed``): with the chunk acked, a committed offset past the fence
means Redis lost writes (``streams/adapters/faust/rewind.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from streams.adapters.durable import DurableWriter
from streams.adapters.kafka.roads import (
    COPY,
    RoadRun,
    Roads,
    direct_road,
    direct_slot,
    split_direct,
)
from streams.core.contract.event import RawRecord

__all__ = ["DirectRoute", "DirectRouting", "RoadStore"]

#: A run's copies, sent: ``Router``'s publishing of them, one awaitable per partition.
Publishing = Callable[[Sequence[RawRecord], Sequence[bytes]], list[Awaitable[None]]]


class RoadStore(Protocol):
    """Where the roads of each input partition are kept (``RedisRoads``)."""

    async def claim(self, partition: int, start: int, road: str) -> Roads: ...

    async def read(self, partition: int) -> Roads: ...


@dataclass(frozen=True, slots=True)
class DirectRoute:
    """Where the records already on their model's partition go.

    Faust assigns topics of equal partition counts together, so input partition ``p`` and
    by-model partition ``p`` have one owner: a record of input partition ``p`` whose model
    maps to ``p`` can be ``apply``-ed by this worker at once, with no copy, second read or
    bundle framing (producers keying by model id with librdkafka's partitioner put every
    record so). ``partition_count`` is the input topic's; while it differs from the by-model
    topic's, every record is forwarded.

    Which road a record takes is fixed by its partition's ``roads`` (``roads.py``), so a
    record read again after a crash takes the road it took first. ``claim_direct``
    (``DRIFTLINE_ROUTING=direct``): the records past the high-water mark (``highwater``,
    from the consumer's last fetch) go direct; else they are copied, and only the records
    of direct segments stored earlier are still applied here.
    """

    apply: Callable[[list[RawRecord]], Awaitable[None]]
    partition_count: Callable[[], Awaitable[int | None]]
    roads: RoadStore
    highwater: Callable[[int], int | None]
    #: Returns once the copies already on by-model partition ``p`` are applied (or after a
    #: bound): a partition's direct records wait for it where copies of theirs may be ahead
    #: (its first since its roads were read, and those after a copy segment), so a change of
    #: road applies each model's records in their order.
    copies_applied: Callable[[int], Awaitable[None]]
    #: Raises the direct fences of the given slots (``roads.direct_slot``) to the offsets:
    #: a chunk's partitions whose last records were not direct, and a claim's start.
    passed: Callable[[dict[int, int]], Awaitable[None]]
    claim_direct: bool


class DirectRouting:
    """A router's direct route, and what it knows of it between chunks: each partition's
    roads as read or claimed, and the partitions whose copies to their own by-model
    partition were all applied before their last direct records (none sent since)."""

    def __init__(self, route: DirectRoute, writer: DurableWriter) -> None:
        self.route = route
        self.writer = writer
        self._roads: dict[int, Roads] = {}
        self._ordered: set[int] = set()

    def forget(self) -> None:
        """After a rebalance: another worker may have claimed a road meanwhile."""
        self._roads.clear()
        self._ordered.clear()

    def held(self, partition: int) -> Roads | None:
        """The partition's roads as this router read or claimed them since the rebalance."""
        return self._roads.get(partition)

    async def send(
        self, records: Sequence[RawRecord], keys: Sequence[bytes], partitions: int | None,
        publishing: Publishing, dead_lettered: Sequence[RawRecord] = (),
    ) -> None:  # fmt: skip
        """Forward the copies of ``records`` and apply the direct ones, in runs;
        ``partitions``: the count both topics have, or None while they differ (every record
        is copied then). ``dead_lettered``: the chunk's records dead-lettered instead (too
        large), which the direct fence passes as well."""
        wanted = direct_road(partitions) if partitions and self.route.claim_direct else COPY
        read = {r.partition for r in records}
        every = read | {r.partition for r in dead_lettered}
        roads = {p: await self._roads_of(p, wanted) for p in every}
        if partitions is None or not any(r.starts for r in roads.values()):
            self._ordered -= read  # any may go home
            await asyncio.gather(*publishing(records, keys))
            return
        runs = split_direct(records, keys, partitions, roads)
        for run in runs:
            await self._send_run(run, publishing)
        await self._pass(direct_road(partitions), runs, dead_lettered)

    async def _send_run(self, run: RoadRun, publishing: Publishing) -> None:
        """Forward ``run``'s copies and apply its direct records: those of a partition
        whose copies to its own by-model partition may not all be applied yet (its first
        direct records since a rebalance, or copies sent since its last wait) once they
        are, this run's included."""
        work = publishing(run.forwarded, run.keys)
        self._ordered -= run.copied_home
        if run.direct:
            waiting = {r.partition for r in run.direct} - self._ordered
            if waiting:
                await asyncio.gather(*work)
                work = []
                await asyncio.gather(*map(self.route.copies_applied, waiting))
                self._ordered |= waiting
            work.append(self.route.apply(run.direct))
        await asyncio.gather(*work)

    async def _pass(
        self, road: str, runs: list[RoadRun], dead_lettered: Sequence[RawRecord]
    ) -> None:
        """Raise the direct fence of the chunk's partitions on ``road`` to the chunk's end
        where no direct record of theirs did (its last records copied or dead-lettered)."""
        ends: dict[int, int] = {}
        fenced: dict[int, int] = {}  # where the runs' direct records were read
        for run in runs:  # in order: a later run's end of a partition is past an earlier's
            ends.update(run.ends)
            fenced.update(run.direct_ends)
        for record in dead_lettered:
            ends[record.partition] = max(ends.get(record.partition, -1), record.offset)
        passed = {direct_slot(p): end for p, end in ends.items()
                  if fenced.get(p) != end and self._roads[p].road_at(end) == road}  # fmt: skip
        if passed:
            await self.route.passed(passed)

    async def _roads_of(self, partition: int, wanted: str) -> Roads:
        """The partition's roads, ending in ``wanted`` once the high-water mark is known.
        Read first: a claim is a write, and while Redis takes no writes (a failover) the
        records of a partition whose road stays as it is must still flow."""
        known = self._roads.get(partition)
        if known is not None and known.last == wanted:
            return known
        store = self.route.roads
        if known is None:
            known = await self.writer.until_done("redis", lambda: store.read(partition))
        start = self.route.highwater(partition)
        if known.last != wanted and start is not None:  # else: nothing says where to start
            if wanted != COPY and wanted not in known.roads:
                # No record before ``start`` goes this road: its fence starts below, so that
                # a commit past ``start`` with no direct record saved shows as behind too.
                await self.route.passed({direct_slot(partition): start - 1})
            known = await self.writer.until_done(
                "redis", lambda: store.claim(partition, start, wanted)
            )
        self._roads[partition] = known
        return known

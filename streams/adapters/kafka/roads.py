"""Which road each input record takes, fixed once and for all: copied to the by-model topic,
or applied where it is read (``DRIFTLINE_ROUTING=direct``).

Each road has its own fence (``applied_offsets``), so a record must take the same road every
time it is read, or a crash between its first road and a re-read on the other applies it
twice. The roads of an input partition are therefore stored (Redis, ``RedisRoads``) as
segments: from each start offset on, one road, up to the next start. A router whose wanted
road is not the last segment's claims a new segment starting at the partition's high-water
mark: no record there has been read yet, by it or by any earlier owner of the partition, so
no record ever changes road. The records between its commit and the mark keep the road they
were first routed on, whoever routes them now. With no segment stored, every record is
copied (the only road before direct routing).

A router paused past a rebalance (a zombie) still routes by the roads it read before: it may
copy a record of a direct segment claimed since, or apply directly one of a copy segment,
and the record's own road applies it too, under a fence of its own. So where records are
applied, those that came by another road than the stored one are skipped
(``came_its_road``, called by ``road_store.RoadCheck`` for ``applied_offsets``).
"""

from __future__ import annotations

import bisect
import logging
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from streams.core.contract.event import RawRecord

__all__ = ["COPY", "RoadRun", "Roads", "came_its_road", "direct_read_at", "direct_road",
           "direct_slot", "home_partition", "split_direct"]  # fmt: skip

logger = logging.getLogger(__name__)
#: Stored roads whose left-out segments were logged (once each, however often read).
_REPORTED: set[str] = set()

#: The road of copies: forwarded to the by-model topic and applied by its consumer.
COPY = "c"


def home_partition(key: bytes, partitions: int) -> int:
    """The by-model partition of the model keyed ``key``: ``crc32(key) % partitions``, as
    librdkafka's "consistent" partitioner maps it, so a model's copies go where records
    keyed by its id are published."""
    return zlib.crc32(key) % partitions


def direct_road(partitions: int) -> str:
    """The direct road with ``partitions`` partitions on both topics: a record goes direct
    when its model's home partition (``home_partition``) is its own."""
    return f"d{partitions}"


@dataclass(frozen=True, slots=True)
class Roads:
    """The segments of one input partition: ``roads[i]`` from ``starts[i]`` on."""

    starts: tuple[int, ...] = ()
    roads: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str | bytes | None) -> Roads:
        """From the stored form, ``"START ROAD,START ROAD"`` (starts in order; none stored:
        no segment). A segment starting where the one before does replaces it: two claims at
        one high-water mark (a replacement that took its first chunk before any new record
        came), the first of which no record took. A segment of another form, or before the
        one before (written by something else), is left out and logged: its records take the
        road of the segments around it, so they are applied, possibly twice, rather than
        never.

        >>> Roads.parse(b"120 d8,5000 c").road_at(4999)
        'd8'
        >>> Roads.parse("garbage,300 d2").roads
        ('d2',)
        >>> Roads.parse("300 d2,300 c").roads
        ('c',)
        """
        stored = text.decode(errors="replace") if isinstance(text, bytes) else text or ""
        starts: list[int] = []
        roads: list[str] = []
        for segment in stored.split(",") if stored else ():
            start, _, road = segment.partition(" ")
            well_formed = start.isdecimal() and road and " " not in road
            if well_formed and starts and int(start) == starts[-1]:
                roads[-1] = road
            elif well_formed and (not starts or int(start) > starts[-1]):
                starts.append(int(start))
                roads.append(road)
            elif stored not in _REPORTED and len(_REPORTED) < 100:  # read again every batch
                _REPORTED.add(stored)
                logger.error("stored roads %r: segment %r left out", stored, segment)
        return cls(tuple(starts), tuple(roads))

    def text(self) -> str:
        """The stored form, as ``parse`` reads it.

        >>> Roads.parse("120 d8,5000 c").text()
        '120 d8,5000 c'
        """
        return ",".join(
            f"{start} {road}" for start, road in zip(self.starts, self.roads, strict=True)
        )

    @property
    def last(self) -> str:
        """The road of every record past the last start (and of all, with none)."""
        return self.roads[-1] if self.roads else COPY

    def road_at(self, offset: int) -> str:
        """The road of the record at ``offset``."""
        at = bisect.bisect_right(self.starts, offset)
        return self.roads[at - 1] if at else COPY

    def first_on(self, road: str, offset: int) -> int | None:
        """The first offset at or past ``offset`` that takes ``road``; None if none does.

        >>> Roads.parse("120 d8,400 c,900 d8").first_on("d8", 450)
        900
        >>> Roads.parse("120 d8,400 c").first_on("d8", 450) is None
        True
        """
        if self.road_at(offset) == road:
            return offset
        later = bisect.bisect_right(self.starts, offset)
        return next((s for s, r in zip(self.starts[later:], self.roads[later:], strict=True)
                     if r == road), None)  # fmt: skip


def came_its_road(slot: int, partition: int, offset: int, roads: Roads, direct: str | None) -> bool:
    """Whether the record at ``offset`` of input ``partition``, read at fence ``slot`` (a
    by-model partition, or below 0 where it was applied as read: ``direct_read_at``), came
    by the road its partition's stored ``roads`` give it. ``direct``: the direct road
    routers take now (``direct_road`` of the partition count), None while the two topics'
    counts differ (every record is copied then).

    A record goes direct when its segment's road is ``direct`` and its model maps to its
    own partition, which is the by-model partition its copy is read from.

    >>> came_its_road(2, 2, 500, Roads.parse("120 d8"), "d8")  # a zombie's copy
    False
    >>> came_its_road(2, 2, 500, Roads.parse("120 d8"), "d9")  # copied since the count grew
    True
    >>> came_its_road(-3, 2, 500, Roads.parse("120 d8,400 c"), "d8")  # a zombie's direct one
    False
    """
    goes_direct = direct is not None and roads.road_at(offset) == direct
    if slot < 0:
        return goes_direct
    return not (goes_direct and slot == partition)


def direct_read_at(partition: int, offset: int) -> tuple[int, int]:
    """The ``read_at`` of the records of input partition ``partition`` applied where they
    were read, in a chunk that ends at ``offset``: a fence slot of their own
    (``applied_offsets``), below every by-model partition's."""
    return direct_slot(partition), offset


def direct_slot(partition: int) -> int:
    """The fence slot of input partition ``partition``'s records applied where read."""
    return -1 - partition


@dataclass(slots=True)
class RoadRun:
    """A piece of a chunk that the router sends in one step: the records to forward (and
    their keys), and those to apply where they were read. ``copied_home``: the input
    partitions some of whose forwarded records go to their own by-model partition, where
    direct records of the same model may follow them (``Router.forward`` orders the two).
    ``ends``: the last offset of each input partition's records in the run; ``direct_ends``,
    of those with direct records, which are read there (``direct_read_at``)."""

    forwarded: list[RawRecord] = field(default_factory=list)
    keys: list[bytes] = field(default_factory=list)
    direct: list[RawRecord] = field(default_factory=list)
    copied_home: set[int] = field(default_factory=set)
    ends: dict[int, int] = field(default_factory=dict)
    direct_ends: dict[int, int] = field(default_factory=dict)


def split_direct(
    records: Sequence[RawRecord],
    keys: Sequence[bytes],
    partitions: int,
    roads: Mapping[int, Roads],
) -> list[RoadRun]:
    """The records to forward (and their keys), and those to apply where they were read: on
    the partition their model maps to (``home_partition`` is their own), at an
    offset its ``roads`` route direct with this partition count.

    A chunk is cut where a partition's records go back from direct to copies (a copy
    segment between two direct ones, read again after a crash): the copies after the cut are
    applied after the direct records before it, and before the direct records after it, so
    a model's records keep their order. Chunks away from a change of road are one run.

    The direct records of one partition are read at the run's last record of the partition,
    copies included, as a bundle's records are at the bundle's offset: applied in one batch,
    they are fenced as one (and each by its source offset), and the fence's runs stay long.
    Their fence then reaches past the run's copies too, so that a committed offset past it
    means Redis lost writes (``streams/adapters/faust/rewind.py``)."""
    road = direct_road(partitions)
    run = RoadRun()
    runs = [run]
    went_direct: set[int] = set()  # the partitions with direct records in this run
    for record, key in zip(records, keys, strict=True):
        partition = record.partition
        home = home_partition(key, partitions) == partition
        if home and roads[partition].road_at(record.offset) == road:
            run.direct.append(record)
            run.ends[partition] = record.offset
            went_direct.add(partition)
            continue
        if home:
            if partition in went_direct:
                run, went_direct = RoadRun(), set()
                runs.append(run)
            run.copied_home.add(partition)
        run.forwarded.append(record)
        run.keys.append(key)
        run.ends[partition] = record.offset
    for run in runs:
        run.direct_ends = {p: run.ends[p] for p in {r.partition for r in run.direct}}
        read_at = {p: direct_read_at(p, end) for p, end in run.direct_ends.items()}
        run.direct = [RawRecord(r.value, r.timestamp_ms, r.source, r.partition, r.offset,
                                r.key, read_at[r.partition]) for r in run.direct]  # fmt: skip
    return runs

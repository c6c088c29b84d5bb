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
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

__all__ = ["COPY", "Roads", "direct_road"]

#: The road of copies: forwarded to the by-model topic and applied by its consumer.
COPY = "c"


def direct_road(partitions: int) -> str:
    """The direct road with ``partitions`` partitions on both topics: a record goes direct
    when its model maps to its own partition, ``crc32(key) % partitions``."""
    return f"d{partitions}"


@dataclass(frozen=True, slots=True)
class Roads:
    """The segments of one input partition: ``roads[i]`` from ``starts[i]`` on."""

    starts: tuple[int, ...] = ()
    roads: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str | bytes | None) -> Roads:
        """From the stored form, ``"START ROAD,START ROAD"`` (starts in order; none stored:
        no segment).

        >>> Roads.parse(b"120 d8,5000 c").road_at(4999)
        'd8'
        """
        if isinstance(text, bytes):
            text = text.decode()
        if not text:
            return cls()
        pairs = [segment.split(" ") for segment in text.split(",")]
        return cls(tuple(int(start) for start, _ in pairs), tuple(road for _, road in pairs))

    @property
    def last(self) -> str:
        """The road of every record past the last start (and of all, with none)."""
        return self.roads[-1] if self.roads else COPY

    def road_at(self, offset: int) -> str:
        """The road of the record at ``offset``."""
        at = bisect.bisect_right(self.starts, offset)
        return self.roads[at - 1] if at else COPY

"""The roads of each input partition (``streams/adapters/kafka/roads.py``) in Redis.

One hash per input topic, ``<prefix>:roads:<topic>``: field the partition, value its
segments, ``"START ROAD,START ROAD"``. A claim appends a segment only if the last one's road
differs, in one Lua script, so two claims of one road (a worker and a zombie of it, or a
retried call) leave one segment. Segments are few (one per change of mode or partition
count) and never expire: they say how records were routed for as long as any may be read
again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from streams.adapters.durable import DurableWriter
from streams.adapters.kafka.roads import Roads, came_its_road
from streams.core.contract.event import RawRecord
from streams.core.errors import StoreUnavailable

__all__ = ["RedisRoads", "RoadCheck", "roads_key"]

logger = logging.getLogger(__name__)

_CLAIM = """
local roads = redis.call('HGET', KEYS[1], ARGV[1]) or ''
local last = string.match(roads, '(%S+)$') or 'c'
if last ~= ARGV[3] then
  local segment = ARGV[2] .. ' ' .. ARGV[3]
  if roads == '' then roads = segment else roads = roads .. ',' .. segment end
  redis.call('HSET', KEYS[1], ARGV[1], roads)
end
return roads
"""


def roads_key(prefix: str, topic: str) -> str:
    """The hash of ``topic``'s roads: field a partition, value ``Roads.parse``'s form."""
    return f"{prefix}:roads:{topic}"


class RedisRoads:
    """The stored roads of one input topic's partitions."""

    def __init__(self, client: aioredis.Redis, *, prefix: str, topic: str) -> None:
        self.client = client
        self.topic = topic
        self.key = roads_key(prefix, topic)
        self._claim = client.register_script(_CLAIM)

    async def claim(self, partition: int, start: int, road: str) -> Roads:
        """The partition's roads, with ``road`` from ``start`` on unless it is the last
        already. ``start`` must be past every record routed so far (the high-water mark)."""
        try:
            stored = await self._claim(keys=[self.key], args=[partition, start, road])
        except RedisError as exc:
            raise StoreUnavailable(f"could not write {self.key}: {exc}") from exc
        return Roads.parse(stored)

    async def restore(self, held: Mapping[int, Roads]) -> dict[int, Roads]:
        """Write back ``held`` (a router's roads of some partitions, as it read or claimed
        them) where Redis has none for the partition (it lost its keys); the roads stored
        after, one round trip. Roads stored meanwhile (a claim since) are kept."""
        fields = [str(p) for p in held]
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for partition, roads in held.items():
                    pipe.hsetnx(self.key, str(partition), roads.text())
                pipe.hmget(self.key, fields)
                stored = (await pipe.execute())[-1]
        except RedisError as exc:
            raise StoreUnavailable(f"could not write {self.key}: {exc}") from exc
        return {int(p): Roads.parse(text) for p, text in zip(fields, stored, strict=True)}

    async def read(self, partition: int) -> Roads:
        """The partition's roads as stored."""
        try:
            stored = await self.client.hget(self.key, str(partition))
        except RedisError as exc:
            raise StoreUnavailable(f"could not read {self.key}: {exc}") from exc
        return Roads.parse(stored)

    async def read_many(self, partitions: Collection[int]) -> dict[int, Roads]:
        """The stored roads of each of ``partitions``, in one round trip."""
        fields = [str(p) for p in partitions]
        try:
            stored = await self.client.hmget(self.key, fields)
        except RedisError as exc:
            raise StoreUnavailable(f"could not read {self.key}: {exc}") from exc
        return {int(p): Roads.parse(text) for p, text in zip(fields, stored, strict=True)}


@dataclass(frozen=True)
class RoadCheck:
    """What a routed record is checked against where it is applied (``came_its_road``):
    its topic's stored roads, read again for each batch, and the direct road the routing
    stage takes now (``Router.direct_road_now``: None while every record is copied)."""

    roads: RedisRoads
    direct_road_now: Callable[[], Awaitable[str | None]]
    #: The roads the routing stage holds of a partition (read or claimed), or None: written
    #: back where Redis lost them (``AppliedOffsets``).
    held: Callable[[int], Roads | None] = lambda partition: None  # a stage that routes none
    #: Whether the routing stage claims the direct road (``DRIFTLINE_ROUTING=direct``), or
    #: only applies the direct segments stored before (every record copied since).
    claims_direct: bool = False

    async def on_their_roads(
        self, records: list[RawRecord], writer: DurableWriter
    ) -> list[RawRecord]:
        """``records`` less the routed ones that came by another road than their stored one
        (a router's that routed by roads read before a rebalance: their own road applies
        them). The caller skips them like records applied already: its batch still moves
        past them."""
        topic = self.roads.topic
        routed = {r.partition for r in records if r.read_at is not None and r.source == topic}
        if not routed:
            return records
        stored = await writer.until_done("redis", lambda: self.roads.read_many(routed))
        stored.update(await self._restore(stored, writer))
        direct = await self.direct_road_now()
        kept = [
            r for r in records
            if r.read_at is None or r.source != topic
            or came_its_road(r.read_at[0], r.partition, r.offset, stored[r.partition], direct)
        ]  # fmt: skip
        if len(kept) < len(records):
            logger.warning("%d records came by another road than their partition's stored "
                           "roads give them (a router routing by roads read before a "
                           "rebalance): skipped, their own road applies them",
                           len(records) - len(kept))  # fmt: skip
        return kept

    async def _restore(self, stored: dict[int, Roads], writer: DurableWriter) -> dict[int, Roads]:
        """Where Redis holds no roads of a partition whose roads the routing stage holds,
        Redis lost them (a router claims before it routes): they are written back, or its
        direct records would all be taken for a zombie's and skipped, and a replacement
        would read those records again as copies."""
        held = {p: roads for p, road in stored.items()
                if not road.starts and (roads := self.held(p)) and roads.starts}  # fmt: skip
        if not held:
            return {}
        logger.error("Redis holds no roads of %d input partitions of %s that this worker routes "
                     "by (it lost its keys): writing back the roads it holds", len(held),
                     self.roads.topic)  # fmt: skip
        return await writer.until_done("redis", lambda: self.roads.restore(held))

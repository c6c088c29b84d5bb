"""A record routed by stale roads is applied by its own road only, against the real Redis.

A router paused past a rebalance (a zombie) routes by the roads it read before: it can copy
records of a direct segment the partition's new owner has claimed since, or apply directly
records of a copy segment. Each road has its own fence, so before the roads were checked
where records are applied, those records were applied twice (450 of 300 here, both ways).
"""

from __future__ import annotations

from dataclasses import replace

import faust
import pytest
import redis
import redis.asyncio as aioredis

from loadtest.chaos_stream import state_totals
from streams.adapters.kafka.roads import COPY, Roads, direct_read_at, direct_road
from streams.adapters.redis.road_store import RedisRoads, RoadCheck
from streams.core.contract.event import RawRecord
from tests.integration.test_paused_writer import EVENTS, WINDOW, M, Worker, on_redis

pytestmark = pytest.mark.integration

SWITCH = 150  # where the new owner's segment starts: the partition's high-water mark then
BY_MODEL = M[0].partition  # m maps to its own partition: a direct segment takes it


def copies(records: list[RawRecord]) -> list[RawRecord]:
    """``records`` as the by-model consumer reads them (at their index there)."""
    return [replace(r, read_at=(BY_MODEL, r.offset)) for r in records]


def direct(records: list[RawRecord]) -> list[RawRecord]:
    """``records`` as the routing stage applies them, read at the chunk's last one."""
    return [replace(r, read_at=direct_read_at(r.partition, records[-1].offset)) for r in records]


def applied(
    stack_config, claims: list[tuple[int, str]], batches, now: str | None = direct_road(2),
    held: Roads | None = None,
) -> tuple[dict, float, Roads]:  # fmt: skip
    """The roads of M's partition claimed (start, road) in order, then ``batches`` on one
    worker whose routing stage takes the direct road ``now`` and holds the roads ``held``:
    m's stored total, the events the worker counted, and the roads stored after."""

    async def go(
        client: aioredis.Redis, prefix: str, dlq: faust.TopicT
    ) -> tuple[dict, float, Roads]:
        roads = RedisRoads(client, prefix=prefix, topic=M[0].source)
        for start, road in claims:
            await roads.claim(M[0].partition, start, road)
        worker = Worker(client, prefix, dlq)

        async def direct_road_now() -> str | None:
            return now

        holds = {M[0].partition: held}.get if held else lambda partition: None
        worker.service.applied.road_check = RoadCheck(roads, direct_road_now, holds)
        for batch in batches:
            await worker.service.process(batch)
        with redis.Redis.from_url(stack_config.redis_url) as sync:
            totals = state_totals(sync, prefix, WINDOW)
        return totals, worker.processed(), await roads.read(M[0].partition)

    return on_redis(stack_config, "roads-fence", go)


def test_a_zombie_routers_copies_of_a_direct_segment_are_not_applied(stack_config):
    totals, processed, _ = applied(stack_config, [(SWITCH, direct_road(2))], [
        copies(M[:SWITCH]),  # copied before the switch
        direct(M[SWITCH:]),  # the new owner's, applied where it reads them
        copies(M[SWITCH:]),  # the zombie's, by the roads it read before the switch
    ])  # fmt: skip
    assert (totals, processed) == ({"m:v1": EVENTS}, EVENTS)


def test_a_zombie_routers_direct_records_of_a_copy_segment_are_not_applied(stack_config):
    totals, processed, _ = applied(stack_config, [(0, direct_road(2)), (SWITCH, COPY)], [
        direct(M[:SWITCH]),
        copies(M[SWITCH:]),  # the new owner copies again
        direct(M[SWITCH:]),  # the zombie, still direct
    ])  # fmt: skip
    assert (totals, processed) == ({"m:v1": EVENTS}, EVENTS)


def test_copies_of_a_direct_segment_of_another_partition_count_are_applied(stack_config):
    """Partitions added since the segment was claimed: its records can only be copied."""
    totals, processed, _ = applied(stack_config, [(SWITCH, direct_road(2))], [
        copies(M[:SWITCH]),
        copies(M[SWITCH:]),  # read again once the counts changed: copied by every router
    ], now=direct_road(3))  # fmt: skip
    assert (totals, processed) == ({"m:v1": EVENTS}, EVENTS)


def test_while_every_record_is_copied_no_copy_is_skipped(stack_config):
    totals, processed, _ = applied(stack_config, [(SWITCH, direct_road(2))], [
        copies(M[:SWITCH]), copies(M[SWITCH:]),
    ], now=None)  # fmt: skip
    assert (totals, processed) == ({"m:v1": EVENTS}, EVENTS)


def test_roads_redis_lost_are_written_back_from_the_routers(stack_config):
    """Redis lost its keys, the roads with them, while the routing stage holds them: its
    direct records were all taken for a zombie's and skipped (RELIABILITY finding 40). The
    roads it holds are written back, and every record is applied once."""
    held = Roads((0,), (direct_road(2),))
    totals, processed, stored = applied(stack_config, [], [
        direct(M[:SWITCH]), direct(M[SWITCH:]),
    ], held=held)  # fmt: skip
    assert (totals, processed, stored) == ({"m:v1": EVENTS}, EVENTS, held)

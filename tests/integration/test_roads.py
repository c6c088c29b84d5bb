"""Each input record keeps the road it was first routed on, whatever the router's mode: the
roads stored in Redis, the router, the real broker (``streams/adapters/kafka/roads.py``)."""

from __future__ import annotations

import asyncio
import uuid
import zlib
from collections.abc import Callable

import pytest

from streams.adapters.kafka.admin import ensure_topics
from streams.adapters.kafka.direct_routing import DirectRoute
from streams.adapters.kafka.producer import KafkaProducer
from streams.adapters.kafka.records import end_offsets, read_from
from streams.adapters.kafka.roads import COPY, Roads, direct_road
from streams.adapters.kafka.routing import Router, routed_records
from streams.adapters.redis.client import connect
from streams.adapters.redis.road_store import RedisRoads
from streams.core.contract.event import RawRecord
from streams.settings import Settings
from tests.integration.test_producer import writer

pytestmark = pytest.mark.integration

PARTITIONS = 4
# A model id that maps to input partition 2 of 4, and one that does not.
ON, OFF = "m-on", "m-off"


@pytest.fixture
def case(settings: Settings) -> tuple[Settings, str, str]:
    """The settings, a fresh by-model topic and a fresh Redis prefix."""
    assert zlib.crc32(ON.encode()) % PARTITIONS == 2 != zlib.crc32(OFF.encode()) % PARTITIONS
    run = uuid.uuid4().hex[:8]
    topic = f"roads-{run}"
    ensure_topics(settings.kafka, [topic], partitions=PARTITIONS)
    return settings, topic, f"roads-{run}"


def _records(offsets: range, model: str = ON) -> list[RawRecord]:
    return [
        RawRecord(b'{"model_id": "%s", "n": %d}' % (model.encode(), o), 0, "predictions", 2, o)
        for o in offsets
    ]


class _Run:
    """Routers of one input topic, each with its mode and the high-water mark it sees."""

    def __init__(self, settings: Settings, topic: str, prefix: str) -> None:
        self.settings, self.topic, self.prefix = settings, topic, prefix
        self.applied: list[int] = []
        #: Each wait for a by-model partition's copies: the partition, the copies on the
        #: topic then, and how many records had been applied directly before it.
        self.waits: list[tuple[int, int, int]] = []
        self.passed: list[dict[int, int]] = []  # the direct fences raised past copies

    async def route(
        self, chunks: list[list[RawRecord]], *, direct: bool, highwater: int, inputs: int = 4
    ) -> Roads:
        """Route ``chunks`` with one new router; the roads stored after."""
        client = connect(self.settings.redis_url, socket_timeout=5)
        producer = KafkaProducer(self.settings.kafka, timeout_s=30, max_message_bytes=1_000_000)
        roads = RedisRoads(client, prefix=self.prefix, topic="predictions")

        async def apply(records: list[RawRecord]) -> None:
            self.applied += [r.offset for r in records]

        async def input_count() -> int:
            return inputs

        async def copies_applied(partition: int) -> None:
            on_topic = len(self.copied())
            self.waits.append((partition, on_topic, len(self.applied)))

        async def passed(reached: dict[int, int]) -> None:
            self.passed.append(reached)

        route = DirectRoute(apply, input_count, roads, _const(highwater), copies_applied,
                            passed, claim_direct=direct)  # fmt: skip
        router = Router(producer.topic(self.topic), writer()[0], bundle_bytes=8192, direct=route)
        try:
            for chunk in chunks:
                await router.forward(chunk)
            return await roads.read(2)
        finally:
            await producer.close()
            await client.aclose()

    def copied(self) -> list[int]:
        ends = end_offsets(self.settings.kafka, self.topic)
        read = read_from(
            self.settings.kafka, self.topic, dict.fromkeys(range(PARTITIONS), 0),
            count=sum(ends.values()),
        )  # fmt: skip
        held = []
        for r in read:
            headers = list(r.headers.items())
            held += routed_records(
                self.topic, r.partition, r.offset, r.timestamp_ms, r.value, r.key, headers
            )
        return sorted(c.offset for c in held)


def _const(value: int) -> Callable[[int], int]:
    return lambda partition: value


def test_a_mode_change_takes_effect_at_the_high_water_mark_and_never_moves_a_record(case):
    run = _Run(*case)
    # Copy mode over an empty store: everything copied, nothing written.
    roads = asyncio.run(run.route([_records(range(0, 50))], direct=False, highwater=50))
    assert roads == Roads() and run.applied == []
    # Direct from here: the records up to the mark (read again after a crash, or not read by
    # the worker before) keep the copy road.
    roads = asyncio.run(run.route([_records(range(40, 120))], direct=True, highwater=100))
    assert roads == Roads((100,), (direct_road(4),))
    assert run.applied == list(range(100, 120))
    # The first direct records waited for every copy before them to be applied (the
    # monitoring stage's part), the chunk's own copies on the topic first.
    assert run.waits == [(2, 50 + 60, 0)]
    # Back to copies (a rollback) from 150: 100-149 stay direct, whoever reads them again.
    run.applied.clear()
    chunks = [_records(range(110, 130)), _records(range(130, 170))]
    roads = asyncio.run(run.route(chunks, direct=False, highwater=150))
    assert roads == Roads((100, 150), (direct_road(4), COPY))
    assert run.applied == list(range(110, 150))
    assert run.waits[1:] == [(2, 110, 0)], "a new router waits once, before its first"
    # Copies: 0-49, 40-99 again, and 150-169; never a record of the direct segment.
    assert run.copied() == sorted([*range(0, 50), *range(40, 100), *range(150, 170)])


def test_records_of_other_models_and_other_partition_counts_are_copied(case):
    run = _Run(*case)
    off = _records(range(0, 30), model=OFF)
    roads = asyncio.run(run.route([off], direct=True, highwater=0))
    assert roads == Roads((0,), (direct_road(4),)) and run.applied == []
    # The input topic with 8 partitions, the by-model one with 4: no record can be applied
    # where it is read, and the road from the mark on is the copy's.
    roads = asyncio.run(run.route([_records(range(30, 60))], direct=True, highwater=40, inputs=8))
    assert roads == Roads((0, 40), (direct_road(4), COPY)) and run.applied == []
    assert run.copied() == list(range(0, 60))


def test_claiming_the_last_road_again_writes_nothing(case):
    settings, _, prefix = case

    async def claims() -> list[Roads]:
        client = connect(settings.redis_url, socket_timeout=5)
        roads = RedisRoads(client, prefix=prefix, topic="predictions")
        try:
            return [
                await roads.claim(1, 10, direct_road(4)),
                await roads.claim(1, 20, direct_road(4)),  # a zombie, or a retried call
                await roads.claim(1, 30, COPY),
                await roads.claim(1, 40, COPY),
                await roads.claim(3, 5, COPY),  # copies are the road of a partition with none
                await roads.read(3),
            ]
        finally:
            await client.aclose()

    d4 = direct_road(4)
    assert asyncio.run(claims()) == [
        Roads((10,), (d4,)), Roads((10,), (d4,)), Roads((10, 30), (d4, COPY)),
        Roads((10, 30), (d4, COPY)), Roads(), Roads(),
    ]  # fmt: skip


def test_roads_garbled_by_something_else_read_as_copies_and_a_claim_still_takes(case):
    """Garbage in a partition's roads made every batch raise (the ingest agent restarted
    into it for ever). Its segments now read as none (every record a copy, the road before
    direct routing) and a claim appended after it is honoured."""
    settings, _, prefix = case

    async def garbled() -> list[Roads]:
        client = connect(settings.redis_url, socket_timeout=5)
        roads = RedisRoads(client, prefix=prefix, topic="predictions")
        try:
            await client.hset(roads.key, mapping={"0": b"garbage", "1": b"[1, 2]"})
            return [
                *(await roads.read_many([0, 1])).values(),
                await roads.claim(0, 50, direct_road(4)),
                await roads.read(0),
            ]
        finally:
            await client.aclose()

    d4 = direct_road(4)
    assert asyncio.run(garbled()) == [Roads(), Roads(), Roads((50,), (d4,)), Roads((50,), (d4,))]

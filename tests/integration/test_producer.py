"""The routing stage's librdkafka producer against the real broker: order, headers, failures."""

from __future__ import annotations

import asyncio
import random
import uuid
import zlib

import pytest
from prometheus_client import CollectorRegistry, Counter

from streams.adapters.durable import DurableWriter
from streams.adapters.failures import failure_reason
from streams.adapters.kafka.admin import ensure_topics
from streams.adapters.kafka.producer import KafkaProducer
from streams.adapters.kafka.records import end_offsets, read_from
from streams.adapters.kafka.routing import NO_MODEL, Router, model_key, routed_records
from streams.core.contract.event import RawRecord

pytestmark = pytest.mark.integration


def writer() -> tuple[DurableWriter, Counter]:
    registry = CollectorRegistry()
    failures = Counter("failures", "", ["target", "reason"], registry=registry)
    return DurableWriter(Counter("retries", "", ["target"], registry=registry), failures), failures


def test_records_arrive_in_order_with_their_keys_and_headers(settings):
    topic = f"producer-{uuid.uuid4().hex[:8]}"
    ensure_topics(settings.kafka, [topic], partitions=2)
    messages = [(b"model-a", f"{i}".encode(), [("n", f"{i}".encode())]) for i in range(3000)]

    async def send() -> None:
        producer = KafkaProducer(settings.kafka, timeout_s=30, max_message_bytes=1_000_000)
        await writer()[0].publish(producer.topic(topic), messages, in_order=True)
        await producer.close()

    asyncio.run(send())
    records = read_from(settings.kafka, topic, {0: 0, 1: 0}, count=3000, timeout_s=10)
    assert len(records) == 3000, "every record delivered"
    assert sum(end_offsets(settings.kafka, topic).values()) == 3000, "and only once"
    assert {r.partition for r in records} == {records[0].partition}, "one key, one partition"
    assert [r.value for r in records] == [f"{i}".encode() for i in range(3000)]
    assert all(r.key == b"model-a" and r.headers["n"] == r.value for r in records)


def test_a_record_too_large_is_refused_permanently_and_rescued(settings):
    topic = f"producer-{uuid.uuid4().hex[:8]}"
    ensure_topics(settings.kafka, [topic], partitions=1)
    huge = (b"k", b"x" * 20_000, None)

    def rescue(message, exc):
        assert failure_reason(exc) == "too_large"
        return (message[0], b"truncated", None)

    async def send() -> None:
        producer = KafkaProducer(settings.kafka, timeout_s=30, max_message_bytes=10_000)
        await durable.publish(producer.topic(topic), [huge, (b"k", b"small", None)], rescue=rescue)
        await producer.close()

    durable, failures = writer()
    asyncio.run(send())
    records = read_from(settings.kafka, topic, {0: 0}, count=2, timeout_s=10)
    # The copy goes in the next round of sends, after the records that went through.
    assert sorted(r.value for r in records) == [b"small", b"truncated"]
    assert end_offsets(settings.kafka, topic) == {0: 2}, "nothing else"
    assert failures.labels(topic, "too_large")._value.get() == 1


def test_records_without_a_model_id_all_go_to_one_partition(settings):
    # The routing fence finds a re-forwarded copy only in its original's partition; the
    # router keys a record whose model id cannot be read with NO_MODEL (b""), which
    # librdkafka's default partitioner ("consistent_random") would scatter at random.
    topic = f"producer-{uuid.uuid4().hex[:8]}"
    ensure_topics(settings.kafka, [topic], partitions=4)
    messages = [(NO_MODEL, f"not json {i}".encode(), None) for i in range(200)]
    messages += [(b"model-a", b"{}", None), (b"model-b", b"{}", None)]

    async def send() -> None:
        producer = KafkaProducer(settings.kafka, timeout_s=30, max_message_bytes=1_000_000)
        await writer()[0].publish(producer.topic(topic), messages, in_order=True)
        await producer.close()

    asyncio.run(send())
    records = read_from(settings.kafka, topic, dict.fromkeys(range(4), 0), count=202, timeout_s=10)
    assert len(records) == 202
    unkeyed = {r.partition for r in records if r.key in (None, NO_MODEL)}
    assert len(unkeyed) == 1, f"records with no model id spread over partitions {unkeyed}"
    # Keys that are not empty still map as librdkafka's CRC32 partitioner maps them.
    for record in records:
        if record.key:
            assert record.partition == zlib.crc32(record.key) % 4


def _source(rng: random.Random, i: int) -> RawRecord:
    value = b'{"model_id": "m%d", "n": %d, "pad": "%s"}' % (
        rng.randrange(9),
        i,
        b"p" * rng.randrange(400),
    )
    return RawRecord(value, 1_000 + i, "predictions", i % 3, i, b"request-%d" % i)


def _place(r: RawRecord) -> tuple:
    return r.value, r.timestamp_ms, r.source, r.partition, r.offset, r.key


def test_the_router_bundles_a_chunk_by_partition_and_it_reads_back_whole(settings):
    topic = f"producer-{uuid.uuid4().hex[:8]}"
    ensure_topics(settings.kafka, [topic], partitions=4)
    rng = random.Random(5)
    records = [_source(rng, i) for i in range(3000)]
    records[100] = RawRecord(b"x" * 9000, 5, "predictions", 0, 100)  # larger than a bundle

    async def forward() -> None:
        producer = KafkaProducer(settings.kafka, timeout_s=30, max_message_bytes=1_000_000)
        router = Router(producer.topic(topic), writer()[0], bundle_bytes=8192)
        await router.forward(records[:1500])
        await router.forward(records[1500:])
        await producer.close()

    asyncio.run(forward())
    ends = end_offsets(settings.kafka, topic)
    assert sum(ends.values()) < 400, "bundles, not a copy per record"
    read = read_from(settings.kafka, topic, dict.fromkeys(range(4), 0), count=sum(ends.values()))
    held: dict[int, list[RawRecord]] = {}
    for r in read:
        headers = list(r.headers.items())
        copies = routed_records(
            topic, r.partition, r.offset, r.timestamp_ms, r.value, r.key, headers
        )
        held.setdefault(r.partition, []).extend(copies)
    for partition, copies in held.items():
        expected = [s for s in records if zlib.crc32(model_key(s.value)) % 4 == partition]
        assert list(map(_place, copies)) == list(map(_place, expected)), "each in its order"
    assert sum(map(len, held.values())) == 3000

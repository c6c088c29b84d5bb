"""Publishing and reading back records with confluent-kafka: for the demo, tests and load tools."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from streams.adapters.kafka.admin import wait_for_leaders
from streams.core.errors import PublishFailed
from streams.kafka_config import KafkaConfig

__all__ = ["ReadRecord", "close_producers", "end_offsets", "publish", "read_from", "read_record"]

# Room for the oversized records the tests send on purpose; the broker caps them anyway.
_PRODUCER_MAX_MESSAGE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ReadRecord:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]
    #: The record's timestamp (CreateTime unless the topic says otherwise), ms.
    timestamp_ms: int = 0


#: Headers of a published record: (name, value) pairs.
Headers = list[tuple[str, str | bytes | None]]
#: What ``publish`` sends: ``(key, value)``, or ``(key, value, headers)``.
Outgoing = tuple[bytes | None, bytes | None] | tuple[bytes | None, bytes | None, Headers]


def publish(
    kafka: KafkaConfig,
    topic: str,
    records: Iterable[Outgoing],
    *,
    compression: str = "none",
) -> list[tuple[int, int]]:
    """Publish ``(key, value)`` pairs, or ``(key, value, headers)``, in order; return each
    one's ``(partition, offset)``.

    Raises ``PublishFailed`` if any record was not delivered.
    """
    producer = _producer(kafka, compression)
    positions: list[tuple[int, int] | None] = []
    errors: list[str] = []

    def delivered(index: int):
        def report(error: KafkaError | None, message) -> None:
            if error is not None:
                errors.append(f"record {index}: {error}")
            else:
                positions[index] = (message.partition(), message.offset())

        return report

    for index, (key, value, *headers) in enumerate(records):
        positions.append(None)
        while True:
            try:
                producer.produce(topic, value=value, key=key, on_delivery=delivered(index),
                                 headers=headers[0] if headers else None)  # fmt: skip
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    if producer.flush(30) or errors:
        _producers.pop((kafka, compression), None)  # the next call starts afresh
        raise PublishFailed(f"not every record reached {topic}: {errors[:3]}")
    return [position for position in positions if position is not None]


def _producer(kafka: KafkaConfig, compression: str) -> Producer:
    """One producer per configuration for the process: an idempotent producer's first send
    waits ~0.5 s for its producer id, which a producer per call paid every time."""
    key = (kafka, compression)
    if key not in _producers:
        _producers[key] = Producer(
            kafka.confluent(
                {
                    "message.max.bytes": _PRODUCER_MAX_MESSAGE_BYTES,
                    "linger.ms": 5,
                    # Written once to all in-sync replicas, so a broker's death loses none.
                    "enable.idempotence": True,
                    "acks": "all",
                    "compression.type": compression,
                    # Errors only: a fresh broker makes librdkafka warn "GETPID ... retrying"
                    # on stderr while it is fine; a real failure still raises PublishFailed.
                    "log_level": 3,
                }
            )
        )
    return _producers[key]


_producers: dict[tuple[KafkaConfig, str], Producer] = {}


def close_producers() -> None:
    """Drop the kept producers: before their brokers go away for good, so that none goes on
    reconnecting to them (and logging each refusal)."""
    for producer in _producers.values():
        producer.flush(5)
    _producers.clear()


def end_offsets(kafka: KafkaConfig, topic: str, *, timeout_s: float = 15.0) -> dict[int, int]:
    """The next offset of each partition of ``topic``.

    Waits out the moments after a topic is created, when its partitions have no leader yet.
    """
    consumer = Consumer(kafka.confluent({"group.id": "driftline-offsets"}))
    deadline = time.monotonic() + timeout_s
    try:
        partitions = wait_for_leaders(consumer, [topic], deadline=deadline)[topic]
        offsets = {}
        for partition in partitions:
            while True:
                try:
                    _, high = consumer.get_watermark_offsets(
                        TopicPartition(topic, partition), timeout=5
                    )
                    break
                except KafkaException:
                    # NOT_LEADER_FOR_PARTITION, which librdkafka does not flag retriable.
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            # A topic created a moment ago may not report a watermark yet (-1001): empty.
            offsets[partition] = max(high, 0)
        return offsets
    finally:
        consumer.close()


def read_from(
    kafka: KafkaConfig,
    topic: str,
    start: dict[int, int],
    *,
    count: int,
    timeout_s: float = 30.0,
) -> list[ReadRecord]:
    """Read up to ``count`` records from the given offsets on, waiting at most ``timeout_s``."""
    consumer = Consumer(
        kafka.confluent(
            {
                "group.id": "driftline-reader",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "fetch.message.max.bytes": _PRODUCER_MAX_MESSAGE_BYTES,
            }
        )
    )
    consumer.assign([TopicPartition(topic, p, offset) for p, offset in start.items()])
    records: list[ReadRecord] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            records.append(read_record(message))
    finally:
        consumer.close()
    return records


def read_record(message: Message) -> ReadRecord:
    """A consumed ``message`` as a ``ReadRecord``."""
    # The stub types these for every kind of message; a consumed one has its partition and
    # offset, and its headers as a list of (name, bytes) pairs.
    headers = cast("list[tuple[str, bytes]]", message.headers() or [])
    return ReadRecord(
        cast(int, message.partition()),
        cast(int, message.offset()),
        message.key(),
        message.value(),
        {name: value for name, value in headers},
        message.timestamp()[1],
    )

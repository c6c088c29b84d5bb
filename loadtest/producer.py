"""Publishing simulated prediction events as fast as the broker takes them (confluent-kafka).

Run alone: .venv/bin/python -m loadtest.producer [--events 1000000] [--models 1] [--topic T]
"""

from __future__ import annotations

import argparse
import os
import time

from confluent_kafka import Producer

from streams.adapters.kafka.admin import ensure_topics
from streams.kafka_config import KafkaConfig
from streams.settings import Settings
from streams.simulation import StreamConfig, keyed_events

__all__ = ["encode_workload", "interleave", "kafka_from_env", "produce"]


def kafka_from_env(default_bootstrap: str) -> KafkaConfig:
    """The benchmark's Kafka: ``DRIFTLINE_KAFKA_*`` if set (a secured cluster), else the
    local stack's plain listener at ``default_bootstrap``. Workers inherit the same env."""
    return Settings.from_env({"DRIFTLINE_KAFKA_BOOTSTRAP": default_bootstrap, **os.environ}).kafka


def encode_workload(events: int, models: int) -> list[tuple[bytes, bytes]]:
    """``events`` encoded events, spread evenly over ``models`` models, interleaved in time."""
    streams = [StreamConfig(model_id=f"bench-m{i}", seed=i) for i in range(models)]
    return interleave(streams, events // models)


def interleave(
    streams: list[StreamConfig], per_model: int, *, offset: int = 0
) -> list[tuple[bytes, bytes]]:
    """``per_model`` keyed events of each stream from event ``offset`` on, taking turns as
    live models would."""
    columns = [keyed_events(stream, per_model, offset=offset) for stream in streams]
    return [record for row in zip(*columns, strict=True) for record in row]


def produce(kafka: KafkaConfig, topic: str, records: list[tuple[bytes, bytes]]) -> float:
    """Publish ``records`` asynchronously; the seconds it took until all were acknowledged."""
    failures: list[str] = []

    def delivered(error, _message) -> None:
        if error is not None:
            failures.append(str(error))

    producer = Producer(
        kafka.confluent(
            {
                "linger.ms": 20,
                "batch.num.messages": 10_000,
                "queue.buffering.max.messages": 1_000_000,
                "compression.type": "lz4",
                "acks": "all",
            }
        )
    )
    started = time.perf_counter()
    send = producer.produce
    for key, value in records:
        try:
            send(topic, value, key, on_delivery=delivered)
        except BufferError:
            producer.poll(0.05)
            send(topic, value, key, on_delivery=delivered)
    producer.flush(60)
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} records failed, e.g. {failures[0]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=1)
    parser.add_argument("--topic", default=f"bench-producer-{os.getpid()}")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    args = parser.parse_args()
    kafka = kafka_from_env(args.bootstrap)
    ensure_topics(kafka, [args.topic], partitions=4)
    started = time.perf_counter()
    records = encode_workload(args.events, args.models)
    encoded = time.perf_counter() - started
    seconds = produce(kafka, args.topic, records)
    print(
        f"encoded {len(records)} events in {encoded:.1f}s; published in {seconds:.2f}s: "
        f"{len(records) / seconds:,.0f} events/s"
    )


if __name__ == "__main__":
    main()

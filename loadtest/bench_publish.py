"""CPU per record of the routing stage's write path: ``DurableWriter.publish`` through the
librdkafka ``KafkaProducer`` to the local broker, chunks of 2,000 ~500-byte records with the
four source headers, in order (as the routing stage sends them). Every record must be
delivered: a chunk with any failure raises.

Run: .venv/bin/python -m loadtest.bench_publish [--chunks 50]   (the stack is started if needed)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid

from prometheus_client import CollectorRegistry, Counter

from loadtest.producer import kafka_from_env
from streams import stack
from streams.adapters.durable import DurableWriter, Message
from streams.adapters.kafka.admin import ensure_topics
from streams.adapters.kafka.producer import KafkaProducer
from streams.adapters.kafka.routing import source_headers
from streams.core.contract.event import RawRecord

CHUNK = 2_000


def chunk() -> list[Message]:
    value = b"x" * 500
    return [
        (f"m{i % 4}".encode(), value, source_headers(RawRecord(value, 0, "input", 0, i)))
        for i in range(CHUNK)
    ]


async def measure(bootstrap: str, chunks: int) -> tuple[float, float]:
    kafka = kafka_from_env(bootstrap)
    topic = f"bench-publish-{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka, [topic], partitions=4)
    registry = CollectorRegistry()
    failures = Counter("failures", "", ["target", "reason"], registry=registry)
    writer = DurableWriter(Counter("retries", "", ["target"], registry=registry), failures)
    producer = KafkaProducer(kafka, timeout_s=30, max_message_bytes=1_000_000)
    target, messages = producer.topic(topic), chunk()
    await writer.publish(target, messages, in_order=True)  # connections and metadata first
    cpu, wall = time.process_time(), time.monotonic()
    for _ in range(chunks):
        await writer.publish(target, messages, in_order=True)
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    await producer.close()
    failed = [s for s in failures.collect()[0].samples if s.name.endswith("_total")]
    if any(sample.value for sample in failed):
        raise RuntimeError("records failed: the run measured nothing")
    records = chunks * CHUNK
    return 1e6 * cpu / records, 1e6 * wall / records


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=50)
    args = parser.parse_args()
    config = stack.StackConfig.from_env(os.environ)
    stack.up(config, log=lambda line: None)
    cpu, wall = asyncio.run(measure(config.kafka_bootstrap, args.chunks))
    print(f"publish: {cpu:.2f} us CPU and {wall:.1f} us wall per record "
          f"({args.chunks} x {CHUNK:,} records)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

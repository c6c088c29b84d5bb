"""A finished run's Redis keys and topics deleted.

Left behind, a 300,000-event run's kept predictions and duplicate ids are hundreds of MB in
the stack's Redis, and its topics as much on the broker's disk. Over a few runs Redis held
1.3 GB and forked for seconds at a time to write it (its snapshots and AOF rewrites),
taking a core from the workers of a later run while it was timed (BENCHMARKS.md,
2026-12-06).
"""

from __future__ import annotations

import contextlib

import redis
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from streams.settings import Settings


def forget_run(settings: Settings) -> None:
    """Delete the keys under ``settings.redis_prefix`` and every topic the run's workers use."""
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=10)
    try:
        keys = list(client.scan_iter(f"{settings.redis_prefix}:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.unlink(*keys[start : start + 1000])
    finally:
        client.close()
    admin = AdminClient(settings.kafka.confluent())
    topics = [*settings.topics, *settings.internal_topics]
    for future in admin.delete_topics(topics, operation_timeout=30).values():
        with contextlib.suppress(KafkaException):  # a topic the run never made
            future.result()

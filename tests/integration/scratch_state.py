"""A scratch corner of the stack's Redis for tests of the state store: a key prefix of the
test's own, and the store and writer over it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from streams.adapters.durable import DurableWriter
from streams.adapters.prometheus.metrics import IngestMetrics
from streams.adapters.redis.state_store import RedisMonitorStore


def store_and_writer(
    client: aioredis.Redis, prefix: str, topic: str = "predictions"
) -> tuple[RedisMonitorStore, IngestMetrics, DurableWriter]:
    store = RedisMonitorStore(client, prefix=prefix, topic=topic)
    metrics = IngestMetrics(CollectorRegistry())
    return store, metrics, DurableWriter(metrics.retries, metrics.publish_failures)


@contextlib.asynccontextmanager
async def scratch_redis(stack_config, name: str) -> AsyncIterator[tuple[aioredis.Redis, str]]:
    """A client, and a key prefix of the test's own whose keys are deleted after it."""
    client = aioredis.Redis.from_url(stack_config.redis_url)
    prefix = f"{name}-{time.monotonic_ns()}"
    try:
        yield client, prefix
    finally:
        await lose_every_key(client, prefix)
        await client.aclose()


async def lose_every_key(client: aioredis.Redis, prefix: str) -> None:
    """Delete every key under ``prefix``: what Redis restarted without its data leaves."""
    keys = await client.keys(f"{prefix}:*")
    if keys:  # DEL takes one key at least
        await client.delete(*keys)

"""What keeping predictions for the label join costs Redis: memory per kept prediction (its
kept fields, and its id), and Redis's CPU time per kept prediction, on the stack's Redis.

Keeps ``--batches`` x 1,000 predictions of one model (UUID ids, a score and two segment
attributes, as the worker keeps them) through ``RedisLabelJoin.keep``, under a prefix of its
own; ``used_memory`` before and after, then again after deleting the id hashes; Redis's CPU
from ``INFO cpu``. Checks the work: every prediction is found again by a join.

``--older-buckets N`` measures a join that has run for a while: the model's kept predictions
of the N buckets before now (20,000 each, by a clock moved back) are still live, and each
keep looks for its ids in every live bucket. A worker reaches that after a TTL of running
(5 older buckets at most: a bucket is a quarter of the TTL). The TTL is 300 s, as in the
load tests; the clock is held still while measuring.

Run: .venv/bin/python -m loadtest.bench_label_keep [--batches 100] [--older-buckets 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid

import redis.asyncio as aioredis

from streams import stack
from streams.adapters.redis.label_join import RedisLabelJoin
from streams.core.contract.event import LabelEvent, PredictionEvent

BATCH = 1000
TTL_S = 300


def _batch() -> list[PredictionEvent]:
    now_ms = int(time.time() * 1000)
    attributes = {"region": "eu", "channel": "web"}
    event = PredictionEvent
    return [event(uuid.uuid4().hex, "bench-keep", "v1", now_ms, {}, 1, 0.73, attributes=attributes)
            for _ in range(BATCH)]  # fmt: skip


async def _used(client: aioredis.Redis) -> int:
    return int((await client.info("memory"))["used_memory"])


async def _redis_cpu_s(client: aioredis.Redis) -> float:
    cpu = await client.info("cpu")
    return float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"])


async def measure(url: str, batches: int, older_buckets: int = 0) -> str:
    client = aioredis.Redis.from_url(url)
    prefix = f"bench-keep-{uuid.uuid4().hex[:8]}"
    clock = [time.time()]
    join = RedisLabelJoin(client, prefix=prefix, ttl_s=TTL_S, clock=lambda: clock[0])
    try:
        now_s = clock[0]
        for back in range(older_buckets, 0, -1):
            clock[0] = now_s - back * join.bucket_s
            for _ in range(20):
                await join.keep(_batch())
        clock[0] = now_s
        before, cpu_before = await _used(client), await _redis_cpu_s(client)
        last: list[PredictionEvent] = []
        for _ in range(batches):
            last = _batch()
            await join.keep(last)
        cpu = await _redis_cpu_s(client) - cpu_before
        kept = await _used(client) - before
        labels = [LabelEvent(e.event_id, e.model_id, 1, e.timestamp_ms) for e in last]
        joined = await join.join(labels, [(0, i) for i in range(len(labels))],
                                 now_ms=int(now_s * 1000))  # fmt: skip
        if any(result.joined is None for result in joined):
            raise RuntimeError("a kept prediction was not found: the run measured nothing")
        with_ids = await _used(client)
        async for key in client.scan_iter(f"{prefix}:*:ids:{int(now_s // join.bucket_s)}"):
            await client.delete(key)
        ids = with_ids - await _used(client)
        n = batches * BATCH
        return (f"{n:,} kept: {kept / n:.0f} bytes each (ids {ids / n:.0f}, kept fields "
                f"{(kept - ids) / n:.0f}); Redis CPU {1e6 * cpu / n:.2f} us each")  # fmt: skip
    finally:
        async for key in client.scan_iter(f"{prefix}:*"):
            await client.delete(key)
        await client.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--older-buckets", type=int, default=0, choices=range(6))
    args = parser.parse_args()
    config = stack.StackConfig.from_env(os.environ)
    stack.up(config, log=lambda line: None)
    print(asyncio.run(measure(config.redis_url, args.batches, args.older_buckets)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

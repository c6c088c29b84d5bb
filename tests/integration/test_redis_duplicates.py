"""The worker's duplicate filter against the real Redis: a copy within the batch, in a later
batch and from the bucket before is found; a record read again at its own position, and the
same request scored by another version, are not copies."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis

from streams.adapters.redis.duplicates import RedisDuplicates
from streams.core.contract.event import PredictionEvent

pytestmark = pytest.mark.integration


def event(event_id: str, version: str = "v1") -> PredictionEvent:
    return PredictionEvent(event_id, "it-dup", version, 0, {}, "1", 0.5)


def test_copies_are_found_and_re_reads_are_not(stack_config):
    async def check() -> None:
        client = aioredis.Redis.from_url(stack_config.redis_url)
        seen = RedisDuplicates(client, prefix=f"it-dup-{uuid.uuid4().hex[:8]}", ttl_s=60)
        try:
            first = [event("a"), event("b"), event("a"), event("a", "v2")]
            assert await seen.duplicates(first, [(0, 0), (0, 1), (0, 2), (0, 3)], now_s=600) == [
                False, False, True, False,
            ]  # fmt: skip
            # A crash replays the batch: the same records at their own positions.
            again = await seen.duplicates(first[:2], [(0, 0), (0, 1)], now_s=601)
            assert again == [False, False]
            # The next bucket still sees the one before; a bucket later, they are forgotten.
            later = [event("b"), event("c")]
            assert await seen.duplicates(later, [(1, 5), (1, 6)], now_s=665) == [True, False]
            assert await seen.duplicates([event("a")], [(1, 7)], now_s=790) == [False]
            many = [event(f"id-{i % 4_500}") for i in range(9_000)]
            flags = await seen.duplicates(many, [(2, i) for i in range(9_000)], now_s=900)
            assert flags == [False] * 4_500 + [True] * 4_500
        finally:
            await client.aclose()

    asyncio.run(check())

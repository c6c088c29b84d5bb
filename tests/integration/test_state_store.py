"""The monitor store's atomic step on a real Redis: no reference chunks beside a profile,
retired versions' state deleted with the batch's offsets."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis
import redis.asyncio as aioredis

from streams.adapters.redis.state_store import MonitorUpdate, RedisMonitorStore

pytestmark = pytest.mark.integration

CHUNK = {"numeric_names": ["x"], "numeric": [[1.0]], "categorical": {}}
PROFILE = {"model_id": "m", "model_version": "v1", "numeric": {}}


@pytest.fixture
def prefix(stack_config):
    prefix = f"test-store-{uuid.uuid4().hex[:8]}"
    yield prefix
    client = redis.Redis.from_url(stack_config.redis_url)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def run(stack_config, prefix, operation):
    async def go():
        client = aioredis.Redis.from_url(stack_config.redis_url)
        try:
            return await operation(RedisMonitorStore(client, prefix=prefix, topic="t", ttl_s=60))
        finally:
            await client.aclose()

    return asyncio.run(go())


def keys(stack_config, prefix) -> set[str]:
    client = redis.Redis.from_url(stack_config.redis_url)
    return {key.decode().removeprefix(prefix + ":") for key in client.scan_iter(f"{prefix}:*")}


def test_the_batch_that_completes_the_reference_leaves_no_chunks(stack_config, prefix):
    gathering = MonitorUpdate("m", "v1", {"n": 1}, None, [CHUNK])
    run(stack_config, prefix, lambda store: store.save([gathering], {0: 1}))
    assert keys(stack_config, prefix) == {"state:m:v1", "reference:m:v1", "offsets:t"}
    # The last chunk is in the profile built from it: it must not be pushed after the DEL.
    done = MonitorUpdate("m", "v1", {"n": 2}, PROFILE, [CHUNK])
    run(stack_config, prefix, lambda store: store.save([done], {0: 2}))
    assert keys(stack_config, prefix) == {"state:m:v1", "profile:m:v1", "offsets:t"}


def test_a_registered_profile_drops_the_chunks_gathered_so_far(stack_config, prefix):
    gathering = MonitorUpdate("m", "v1", {"n": 1}, None, [CHUNK, CHUNK])
    run(stack_config, prefix, lambda store: store.save([gathering], {0: 1}))
    run(stack_config, prefix, lambda store: store.register_profile(PROFILE))
    assert "reference:m:v1" not in keys(stack_config, prefix)


def test_loading_a_monitor_clears_chunks_left_beside_its_profile(stack_config, prefix):
    client = redis.Redis.from_url(stack_config.redis_url)
    client.set(f"{prefix}:profile:m:v1", b'{"model_id": "m"}')
    client.rpush(f"{prefix}:reference:m:v1", b"{}")
    stored = run(stack_config, prefix, lambda store: store.fetch("m", "v1")).parse()
    assert stored.profile == {"model_id": "m"} and stored.reference == []
    assert keys(stack_config, prefix) == {"profile:m:v1"}


def test_retired_versions_lose_state_and_chunks_in_the_same_step(stack_config, prefix):
    old = MonitorUpdate("m", "old", {"n": 1}, None, [CHUNK])
    built = MonitorUpdate("m", "built", {"n": 1}, PROFILE, [])
    run(stack_config, prefix, lambda store: store.save([old, built], {0: 1}))
    new = MonitorUpdate("m", "new", {"n": 1}, None, [CHUNK])
    retired = [("m", "old"), ("m", "built")]
    # A stale writer (offset behind) changes nothing, deletions included.
    assert not run(stack_config, prefix, lambda store: store.save([new], {0: 1}, retired))
    assert "state:m:old" in keys(stack_config, prefix)
    assert run(stack_config, prefix, lambda store: store.save([new], {0: 2}, retired))
    assert keys(stack_config, prefix) == {
        "state:m:new",
        "reference:m:new",
        "profile:m:built",
        "offsets:t",
    }

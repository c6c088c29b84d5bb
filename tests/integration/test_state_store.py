"""The monitor store's atomic step on a real Redis: no reference chunks beside a profile,
retired versions' state deleted with the batch's offsets, each model fenced on its own, and
state stored under the key names of before read and moved."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis
import redis.asyncio as aioredis

from streams.adapters.redis.state_store import RedisMonitorStore
from streams.adapters.redis.stored_values import MonitorUpdate

pytestmark = pytest.mark.integration

CHUNK = {"numeric_names": ["x"], "numeric": [[1.0]], "categorical": {}}
PROFILE = {"model_id": "m", "model_version": "v1", "numeric": {}}
# The model's own fence, its last save's token and the topic's low-water mark.
FENCES = ("{m}:offsets:t", "{m}:written:t", "offsets:t")


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
    assert keys(stack_config, prefix) == {"{m}:state:v1", "{m}:reference:v1", *FENCES}
    # The last chunk is in the profile built from it: it must not be pushed after the DEL.
    done = MonitorUpdate("m", "v1", {"n": 2}, PROFILE, [CHUNK])
    run(stack_config, prefix, lambda store: store.save([done], {0: 2}))
    assert keys(stack_config, prefix) == {"{m}:state:v1", "{m}:profile:v1", *FENCES}


def test_a_registered_profile_drops_the_chunks_gathered_so_far(stack_config, prefix):
    gathering = MonitorUpdate("m", "v1", {"n": 1}, None, [CHUNK, CHUNK])
    run(stack_config, prefix, lambda store: store.save([gathering], {0: 1}))
    run(stack_config, prefix, lambda store: store.register_profile(PROFILE))
    assert "{m}:reference:v1" not in keys(stack_config, prefix)


def test_loading_a_monitor_clears_chunks_left_beside_its_profile(stack_config, prefix):
    client = redis.Redis.from_url(stack_config.redis_url)
    client.set(f"{prefix}:{{m}}:profile:v1", b'{"model_id": "m"}')
    client.rpush(f"{prefix}:{{m}}:reference:v1", b"{}")
    stored = run(stack_config, prefix, lambda store: store.fetch("m", "v1")).parse()
    assert stored.profile == {"model_id": "m"} and stored.reference == []
    assert keys(stack_config, prefix) == {"{m}:profile:v1"}


def test_retired_versions_lose_state_and_chunks_in_the_same_step(stack_config, prefix):
    old = MonitorUpdate("m", "old", {"n": 1}, None, [CHUNK])
    built = MonitorUpdate("m", "built", {"n": 1}, PROFILE, [])
    run(stack_config, prefix, lambda store: store.save([old, built], {0: 1}, token="t1"))
    new = MonitorUpdate("m", "new", {"n": 1}, None, [CHUNK])
    retired = [("m", "old"), ("m", "built")]
    # A stale writer (one that read before that save) changes nothing, deletions included.
    stale = {"m": ""}
    assert run(
        stack_config, prefix, lambda store: store.save([new], {0: 2}, retired, expected=stale)
    ) == {"m"}
    assert "{m}:state:old" in keys(stack_config, prefix)
    assert (
        run(
            stack_config,
            prefix,
            lambda store: store.save([new], {0: 2}, retired, expected={"m": "t1"}),
        )
        == set()
    )
    assert keys(stack_config, prefix) == {
        "{m}:state:new",
        "{m}:reference:new",
        "{m}:profile:built",
        *FENCES,
    }


def test_each_model_is_fenced_on_its_own(stack_config, prefix):
    a, b = (MonitorUpdate(m, "v1", {"n": 1}, None, []) for m in "ab")
    assert (
        run(stack_config, prefix, lambda store: store.save([a, b], {0: 5, 1: 3}, token="t1"))
        == set()
    )
    # A stale writer of model a is refused; model b, which it did not touch, is not held up.
    stale = {"a": "", "b": "t1"}
    refused = run(
        stack_config, prefix, lambda store: store.save([a, b], {0: 6}, expected=stale, token="t2")
    )
    assert refused == {"a"}
    fences = run(stack_config, prefix, lambda store: store.model_fences(["a", "b", "c"]))
    # Each partition's offset is raised, never lowered (partition 1 was not in the last save).
    assert fences == {
        "a": ({0: 5, 1: 3}, {}, "t1"),
        "b": ({0: 6, 1: 3}, {}, "t2"),
        "c": ({}, {}, ""),
    }
    # The low-water marks are raised only once every model of a batch is saved.
    assert run(stack_config, prefix, lambda store: store.applied_offsets([0, 1])) == {0: 5, 1: 3}
    assert (
        run(stack_config, prefix, lambda store: store.save([b], {0: 7}, expected={"b": "t2"}))
        == set()
    )
    assert run(stack_config, prefix, lambda store: store.applied_offsets([0, 1])) == {0: 7, 1: 3}


def test_a_save_retried_after_its_reply_was_lost_finds_its_own_write(stack_config, prefix):
    # The first attempt ran on the server; its reply timed out, so the writer retries the
    # same save: it must not take its own fence for another worker's and drop the batch.
    first = MonitorUpdate("a", "v1", {"n": 1}, None, [])
    first_save = {"a": ""}
    for _ in range(2):
        saved = run(
            stack_config,
            prefix,
            lambda store: store.save([first], {0: 5}, token="t1", expected=first_save),
        )
        assert saved == set()
    # Another writer that read before it is still refused, and the state is the first's.
    other = MonitorUpdate("a", "v1", {"n": 2}, None, [])
    refused = run(
        stack_config,
        prefix,
        lambda store: store.save([other], {0: 5}, token="t2", expected=first_save),
    )
    assert refused == {"a"}
    stored = run(stack_config, prefix, lambda store: store.fetch("a", "v1"))
    assert stored is not None and stored.parse().snapshot == {"n": 1}
    assert "{a}:written:t" in keys(stack_config, prefix)


def test_state_stored_under_the_old_names_is_read_then_moved(stack_config, prefix):
    # As the store of before wrote it: P:state:M:V with a TTL, a registered profile without
    # one, and the topic's fence P:offsets:T.
    client = redis.Redis.from_url(stack_config.redis_url)
    client.set(f"{prefix}:state:m:v1", b'{"n": 7}', ex=600)
    client.set(f"{prefix}:profile:m:v1", b'{"model_id": "m"}')
    client.hset(f"{prefix}:offsets:t", mapping={"0": 41})
    applied = run(stack_config, prefix, lambda store: store.applied_offsets([0]))
    assert applied == {0: 41}, "the old fence still covers every model"
    stored = run(stack_config, prefix, lambda store: store.fetch("m", "v1")).parse()
    assert stored.snapshot == {"n": 7} and stored.profile == {"model_id": "m"}
    assert keys(stack_config, prefix) == {"{m}:state:v1", "{m}:profile:v1", "offsets:t"}
    assert 0 < client.ttl(f"{prefix}:{{m}}:state:v1") <= 600
    assert client.ttl(f"{prefix}:{{m}}:profile:v1") == -1
    # Read again: from the new keys.
    again = run(stack_config, prefix, lambda store: store.fetch("m", "v1")).parse()
    assert again == stored


def test_a_server_that_lost_its_scripts_gets_them_again(stack_config, prefix):
    # As a replica promoted by a failover, or a restarted server: EVALSHA answers NOSCRIPT.
    async def flushed_then_saved(store):
        first = MonitorUpdate("m", "v1", {"n": 1}, None, [])
        assert await store.save([first], {0: 1}) == set()
        await store.client.script_flush()
        return await store.save([MonitorUpdate("m", "v1", {"n": 2}, None, [])], {0: 2})

    assert run(stack_config, prefix, flushed_then_saved) == set()
    stored = run(stack_config, prefix, lambda store: store.fetch("m", "v1")).parse()
    assert stored.snapshot == {"n": 2}

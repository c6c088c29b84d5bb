"""Redis's memory settings, against a real worker, broker and Redis: one that answers but
refuses every write (out of memory: ``maxmemory`` reached under the default ``noeviction``
policy) stalls the stream, says why in ``/health`` and the log, loses nothing, and resumes
once Redis takes writes again; one that evicts keys when full is warned of at start."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis
import redis.asyncio as aioredis

from streams.adapters.redis.acl import acl_rules
from streams.adapters.redis.eviction import eviction_warning
from streams.settings import Settings
from streams.simulation import StreamConfig
from streams.stack.worker import WorkerProcess, free_port
from tests.integration.conftest import (
    isolated_env,
    publish_stream,
    wait_for,
    wait_until_processed,
    worker_through,
)

pytestmark = pytest.mark.integration


def test_a_redis_out_of_memory_fails_health_naming_it_and_nothing_is_lost(stack_config, tmp_path):
    env = isolated_env(stack_config, tmp_path / "faust") | {
        "DRIFTLINE_REFERENCE_EVENTS": "500",
        "DRIFTLINE_WINDOW_EVENTS": "250",
    }
    stream = StreamConfig(model_id="it-oom", seed=3)
    worker = worker_through(env, tmp_path / "worker.log", stream, 1_000)
    client = redis.Redis.from_url(stack_config.redis_url)
    try:
        assert worker.health()[0] == 200
        client.config_set("maxmemory", 1)  # every write refused: OOM command not allowed
        publish_stream(Settings.from_env(env), stream, 1_000, offset=1_000)

        def redis_check() -> dict:
            return worker.health()[1]["redis"]

        refused = wait_for(lambda: not redis_check()["ok"] and redis_check(),
                           "the redis check to fail while every write fails", 30)  # fmt: skip
        assert "writes to redis failing for" in refused["error"]
        assert "maxmemory" in refused["error"]
        assert worker.health()[0] == 503
        assert worker.metric_total("driftline_events_processed_total") == 1_000
    finally:
        client.config_set("maxmemory", 0)
    wait_until_processed(worker, 2_000)
    wait_for(lambda: worker.health()[0] == 200, "/health to pass again", 30)
    assert worker.stop() == 0
    log = (tmp_path / "worker.log").read_text()
    assert "writing to redis failed, retrying until it succeeds" in log
    assert "writing to redis succeeded again" in log


def test_a_worker_warns_at_start_of_a_redis_that_evicts_keys(stack_config, tmp_path):
    env = isolated_env(stack_config, tmp_path / "faust")
    client = redis.Redis.from_url(stack_config.redis_url)
    client.config_set("maxmemory-policy", "allkeys-lru")
    client.config_set("maxmemory", 2 << 30)  # far above what the tests hold: nothing evicted
    said = "Redis evicts keys when full (maxmemory 2147483648 bytes, maxmemory-policy allkeys-lru)"
    log_path = tmp_path / "worker.log"
    try:
        worker = WorkerProcess(env, web_port=free_port(), log_path=log_path)
        worker.start()
        worker.wait_for_partitions()
        # The check is a Faust task, started once the worker's tables are recovered: it may
        # come a moment after the partitions (a CI run stopped the worker before it).
        wait_for(lambda: said in log_path.read_text(), "the eviction warning", 30)
        assert worker.stop() == 0
    finally:
        client.config_set("maxmemory", 0)
        client.config_set("maxmemory-policy", "noeviction")
    log = log_path.read_text()
    assert said in log
    assert "set maxmemory-policy noeviction" in log


def test_the_eviction_check_says_nothing_of_a_redis_that_does_not_evict_or_hides_it(stack_config):
    async def warnings() -> list[str | None]:
        said = []
        for url in (stack_config.redis_url, restricted_url):
            client = aioredis.Redis.from_url(url)
            try:
                said.append(await eviction_warning(client))
            finally:
                await client.aclose()
        return said

    admin = redis.Redis.from_url(stack_config.redis_url)
    user, password = f"no-info-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    admin.execute_command("ACL", "SETUSER", user, "reset", "on", f">{password}",
                          *acl_rules("no-info"))  # fmt: skip
    restricted_url = f"redis://{user}:{password}@127.0.0.1:{stack_config.redis_port}/0"
    admin.config_set("maxmemory-policy", "allkeys-lru")  # limit 0: no limit, nothing evicted
    try:
        assert asyncio.run(warnings()) == [None, None]
    finally:
        admin.config_set("maxmemory-policy", "noeviction")
        admin.execute_command("ACL", "DELUSER", user)

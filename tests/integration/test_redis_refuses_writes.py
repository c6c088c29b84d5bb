"""A Redis that answers but refuses every write (out of memory: ``maxmemory`` reached under
the default ``noeviction`` policy) stalls the stream, says why in ``/health`` and the log,
loses nothing, and resumes once Redis takes writes again. Real worker, broker and Redis."""

from __future__ import annotations

import time

import pytest
import redis

from streams.settings import Settings
from streams.simulation import StreamConfig
from tests.integration.conftest import (
    isolated_env,
    publish_stream,
    wait_until_processed,
    worker_through,
)

pytestmark = pytest.mark.integration


def wait_for(predicate, timeout_s: float):
    deadline = time.monotonic() + timeout_s
    while not (result := predicate()) and time.monotonic() < deadline:
        time.sleep(0.25)
    return result


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

        refused = wait_for(lambda: not redis_check()["ok"] and redis_check(), 30)
        assert refused, "the redis check stayed ok while every write failed"
        assert "writes to redis failing for" in refused["error"]
        assert "maxmemory" in refused["error"]
        assert worker.health()[0] == 503
        assert worker.metric_total("driftline_events_processed_total") == 1_000
    finally:
        client.config_set("maxmemory", 0)
    wait_until_processed(worker, 2_000)
    assert wait_for(lambda: worker.health()[0] == 200, 30), worker.health()
    assert worker.stop() == 0
    log = (tmp_path / "worker.log").read_text()
    assert "writing to redis failed, retrying until it succeeds" in log
    assert "writing to redis succeeded again" in log

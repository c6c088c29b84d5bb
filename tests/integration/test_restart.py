"""A worker that crashes mid-stream is replaced by one that resumes from Redis: it neither
re-learns its reference (nor the spec a warm-up inferred) nor applies an event twice, and the
drift is still caught once."""

from __future__ import annotations

import time

import orjson
import pytest
import redis

from streams.cli import main
from streams.settings import Settings
from streams.simulation import Scenario, StreamConfig
from streams.stack.worker import WorkerProcess
from tests.integration.conftest import (
    free_port,
    isolated_env,
    publish_stream,
    read_alerts,
    wait_until_processed,
    worker_through,
)

pytestmark = pytest.mark.integration

BEFORE_CRASH, AFTER_CRASH, DRIFT_AT = 3_000, 3_000, 3_300
STREAM = StreamConfig(
    model_id="it-restart",
    seed=9,
    scenarios=(Scenario(kind="abrupt", feature="x7", start=DRIFT_AT, magnitude=1.0),),
)


def seen(worker: WorkerProcess) -> float:
    return worker.metric_total("driftline_events_processed_total") + worker.metric_total(
        "driftline_replayed_records_skipped_total"
    )


def test_a_crashed_worker_resumes_from_redis(stack_config, tmp_path):
    env = isolated_env(stack_config, tmp_path / "faust") | {
        # The input topic's own offsets and commits: the repartition path's are
        # tests/integration/test_ownership.py's.
        "DRIFTLINE_ROUTING": "keyed",
        "DRIFTLINE_WARMUP_EVENTS": "100",
        "DRIFTLINE_REFERENCE_EVENTS": "2000",
        "DRIFTLINE_WINDOW_EVENTS": "500",
        "DRIFTLINE_COMMIT_INTERVAL_S": "3600",  # no commit before the kill: all redelivered
    }
    settings = Settings.from_env(env)
    first = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "first.log")
    first.start()
    publish_stream(settings, STREAM, BEFORE_CRASH)
    wait_until_processed(first, BEFORE_CRASH)
    first.kill()  # before any commit: every record will be redelivered

    second = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "second.log")
    second.start()
    try:
        publish_stream(settings, STREAM, AFTER_CRASH, offset=BEFORE_CRASH)
        deadline = time.monotonic() + 90
        while seen(second) < BEFORE_CRASH + AFTER_CRASH:  # every record of the topic
            assert time.monotonic() < deadline, "the second worker did not see every record"
            time.sleep(0.25)
        assert second.metric_total("driftline_events_processed_total") == AFTER_CRASH
        skipped = second.metric_total("driftline_replayed_records_skipped_total")
        assert skipped == BEFORE_CRASH, "every redelivered record skipped, none applied twice"
        alerts = read_alerts(settings)
    finally:
        assert second.stop() == 0
    drift = [orjson.loads(a.value) for a in alerts]
    drift = [a for a in drift if a["type"] == "data_drift"]
    # Had the second worker re-learned its reference from the drifted events, nothing fires.
    assert [(a["feature"], a["status"]) for a in drift] == [("x7", "firing")]
    trigger = int(drift[0]["trigger"]["event_id"].rsplit("-", 1)[1])
    assert DRIFT_AT < trigger <= DRIFT_AT + 1_000


def test_a_worker_killed_right_after_a_warm_up_leaves_the_inferred_spec(
    stack_config, tmp_path, monkeypatch
):
    # The periodic sync never runs here: the batch that inferred the spec stores it, before
    # the state built on it.
    env = isolated_env(stack_config, tmp_path / "faust") | {
        "DRIFTLINE_WARMUP_EVENTS": "100",
        "DRIFTLINE_REFERENCE_EVENTS": "200",
        "DRIFTLINE_WINDOW_EVENTS": "100",
        "DRIFTLINE_SPEC_REFRESH_S": "3600",
    }
    settings = Settings.from_env(env)
    stream = StreamConfig(model_id="it-warm-kill", seed=4)
    worker_through(env, tmp_path / "worker.log", stream, 500).kill()

    with redis.Redis.from_url(settings.redis_url) as client:
        stored = client.hget(f"{settings.redis_prefix}:specs", stream.model_id)
    assert stored is not None and orjson.loads(stored)["source"] == "inferred"
    # What a successor or an operator reads: the state and the spec it rests on.
    for name, value in env.items():
        if name.startswith("DRIFTLINE_"):
            monkeypatch.setenv(name, value)
    out = tmp_path / "live.html"
    assert main(["report", "--from-redis", stream.model_id, "v1", "--out", str(out)]) == 0

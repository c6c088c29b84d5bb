"""The model and version caps on the real broker and Redis, with real worker processes.

Warm-up slots of one-event model ids expire and a real model gets in; a second worker that
shares the Redis prefix sees the same slots; versions past the cap are dead-lettered with
``version_limit``, and a new deployment retires an idle version.
"""

from __future__ import annotations

import json
import time

import orjson
import pytest
import redis

from streams.adapters.kafka.records import publish, read_from
from streams.samples import sample_events
from streams.settings import Settings
from streams.stack.worker import WorkerProcess, free_port
from tests.integration.conftest import isolated_env, new_run_names, wait_for

pytestmark = pytest.mark.integration

TIMEOUT_S = 4
MAX_MODELS = 5
SPEC = {
    "model_id": "it-versions",
    "features": {
        "age": {"type": "number"},
        "tenure_months": {"type": "number"},
        "monthly_spend": {"type": "number"},
        "plan": {"type": "string"},
        "has_support_ticket": {"type": "boolean"},
    },
}


def one_event(model_id: str, *, version: str = "v1", seed: int = 7) -> bytes:
    decoded = orjson.loads(next(sample_events(model_id, 1, seed=seed)))
    decoded["model_version"] = version
    return orjson.dumps(decoded)


def dead_letter_reasons(settings: Settings, count: int) -> list[str]:
    letters = read_from(
        settings.kafka,
        settings.topic_dlq,
        dict.fromkeys(range(settings.partitions), 0),
        count=count,
        timeout_s=30,
    )
    return [letter.headers["driftline.dlq.reason"].decode() for letter in letters]


def start_worker(env: dict[str, str], log_path) -> WorkerProcess:
    worker = WorkerProcess(env, web_port=free_port(), log_path=log_path)
    worker.start()
    return worker


def test_expired_warm_ups_free_their_slots_across_workers(stack_config, tmp_path):
    caps = {
        "DRIFTLINE_WARMUP_TIMEOUT_S": str(TIMEOUT_S),
        "DRIFTLINE_MAX_MODELS": str(MAX_MODELS),
        "DRIFTLINE_WARMUP_EVENTS": "20",
    }
    env_a = isolated_env(stack_config, tmp_path / "faust-a") | caps
    # Worker B reads topics of its own but shares worker A's Redis prefix: the slots.
    env_b = env_a | new_run_names()
    env_b |= {"DRIFTLINE_REDIS_PREFIX": env_a["DRIFTLINE_REDIS_PREFIX"]}
    env_b |= {"DRIFTLINE_DATA_DIR": str(tmp_path / "faust-b")}
    settings_a, settings_b = Settings.from_env(env_a), Settings.from_env(env_b)
    worker_a = start_worker(env_a, tmp_path / "a.log")
    worker_b = start_worker(env_b, tmp_path / "b.log")
    try:
        flood = [(b"flood", one_event(f"flood-{n}")) for n in range(50)]
        publish(settings_a.kafka, settings_a.topic_predictions, flood)
        wait_for(
            lambda: worker_a.metric_total("driftline_events_rejected_total") == 45,
            what="45 model_limit rejections on worker A",
        )
        assert worker_a.metric_total("driftline_events_processed_total") == MAX_MODELS
        assert (
            worker_a.metric_total("driftline_events_unwatched_total", reason="warmup") == MAX_MODELS
        )
        assert worker_a.metric_total("driftline_events_rejected_total", reason="model_limit") == 45
        slots = redis.Redis.from_url(settings_a.redis_url)
        key = f"{settings_a.redis_prefix}:warmups"
        assert slots.zcard(key) == MAX_MODELS

        # Worker B sees A's slots: its own new model finds the cap full.
        wait_for(lambda: worker_b.metric_total("driftline_models_known") >= 0, what="B's metrics")
        publish(
            settings_b.kafka,
            settings_b.topic_predictions,
            [(b"real-b", one_event("real-b"))],
        )
        assert dead_letter_reasons(settings_b, 1) == ["model_limit"]
        wait_for(
            lambda: worker_b.metric_total("driftline_models_known") == MAX_MODELS,
            what="worker B to count worker A's warm-up slots",
        )

        time.sleep(TIMEOUT_S + 1)
        real = [(b"real", value) for value in sample_events("real", 30)]
        publish(settings_a.kafka, settings_a.topic_predictions, real)
        wait_for(
            lambda: worker_a.metric_total("driftline_events_processed_total", model="real") == 30,
            what="the real model's 30 events to be accepted",
        )
        assert worker_a.metric_total("driftline_events_rejected_total") == 45
        # The expired warm-ups' model ids left the metric labels.
        models = {dict(labels).get("model", "") for _, labels in worker_a.metrics()}
        assert not {m for m in models if m.startswith("flood-")}, models
        # The warm-up completed (20 events): its slot is given back, no flood slot is left.
        wait_for(lambda: slots.zcard(key) == 0, timeout_s=10, what="the slots to be freed")
        wait_for(
            lambda: slots.hget(f"{settings_a.redis_prefix}:specs", "real") is not None,
            timeout_s=10,
            what="the real model's inferred spec",
        )
    finally:
        assert worker_a.stop() == 0
        assert worker_b.stop() == 0


def test_versions_past_the_cap_are_dead_lettered_and_idle_ones_retired(stack_config, tmp_path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "versions.json").write_text(json.dumps(SPEC))
    env = isolated_env(stack_config, tmp_path / "faust") | {
        "DRIFTLINE_SPECS_DIR": str(tmp_path / "specs"),
        "DRIFTLINE_MAX_VERSIONS_PER_MODEL": "3",
        "DRIFTLINE_VERSION_IDLE_S": "3",
    }
    settings = Settings.from_env(env)
    model = SPEC["model_id"]
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        records = [(model.encode(), one_event(model, version=f"v{n}")) for n in range(30)]
        publish(settings.kafka, settings.topic_predictions, records)
        reasons = dead_letter_reasons(settings, 27)
        assert reasons == ["version_limit"] * 27
        wait_for(
            lambda: worker.metric_total("driftline_events_processed_total") == 3,
            what="the 3 watched versions' events",
        )
        processed = worker.metric_total("driftline_events_processed_total", model=model)
        rejected = worker.metric_total(
            "driftline_events_rejected_total", model=model, reason="version_limit"
        )
        assert (processed, rejected) == (3, 27)
        assert processed + len(reasons) == len(records)
        client = redis.Redis.from_url(settings.redis_url)
        states = f"{settings.redis_prefix}:{{{model}}}:state:*"
        assert sorted(client.scan_iter(states)) == [
            f"{settings.redis_prefix}:{{{model}}}:state:v{n}".encode() for n in range(3)
        ]

        # Once the old versions are idle, a new deployment retires the least recently seen.
        time.sleep(4)
        publish(
            settings.kafka,
            settings.topic_predictions,
            [(model.encode(), one_event(model, version="new"))],
        )
        wait_for(
            lambda: worker.metric_total("driftline_events_processed_total") == 4,
            what="the new deployment's event",
        )
        kept = {key.decode().rsplit(":", 1)[1] for key in client.scan_iter(states)}
        assert len(kept) == 3 and "new" in kept, kept
        (retired,) = {"v0", "v1", "v2"} - kept
        for kind in ("state", "reference"):
            assert not client.exists(f"{settings.redis_prefix}:{kind}:{model}:{retired}")
    finally:
        assert worker.stop() == 0

"""A worker with registered spec files and the reject policy, on the real broker and Redis."""

from __future__ import annotations

import json
import time

import orjson
import pytest
import redis

from streams.adapters.kafka.records import publish, read_from
from streams.core.contract.spec import ModelSpec
from streams.samples import sample_events
from streams.settings import Settings
from streams.stack.worker import WorkerProcess
from tests.integration.conftest import free_port, isolated_env, wait_until_processed

pytestmark = pytest.mark.integration

MODEL = "it-registered"
SPEC = {
    "model_id": MODEL,
    "features": {
        "age": {"type": "number", "min": 0, "max": 130},
        "tenure_months": {"type": "number"},
        "monthly_spend": {"type": "number"},
        "plan": {"type": "string", "categories": ["basic", "plus", "gold"]},
        "has_support_ticket": {"type": "boolean"},
    },
}


def with_features(event: bytes, **features: object) -> bytes:
    decoded = orjson.loads(event)
    decoded["features"].update(features)
    return orjson.dumps(decoded)


def test_spec_rules_and_the_reject_policy(stack_config, tmp_path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "churn.json").write_text(json.dumps(SPEC))
    env = isolated_env(stack_config, tmp_path / "faust") | {
        "DRIFTLINE_UNKNOWN_MODELS": "reject",
        "DRIFTLINE_SPECS_DIR": str(tmp_path / "specs"),
    }
    settings = Settings.from_env(env)
    # A hand-written spec of the wrong shape in Redis is skipped, not the worker's end.
    store = redis.Redis.from_url(settings.redis_url)
    store.hset(
        f"{settings.redis_prefix}:specs", "broken", b'{"model_id": "broken", "features": {"a": 1}}'
    )
    worker = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "worker.log")
    worker.start()
    try:
        good = list(sample_events(MODEL, 30))
        records = [
            *good,
            with_features(good[0], age=500),
            with_features(good[1], plan="platinum"),
            with_features(good[2], age="41"),
            next(sample_events("stranger", 1)),
        ]
        publish(settings.kafka, settings.topic_predictions, [(b"k", v) for v in records])
        letters = read_from(
            settings.kafka,
            settings.topic_dlq,
            dict.fromkeys(range(settings.partitions), 0),
            count=4,
        )
        reasons = sorted(letter.headers["driftline.dlq.reason"].decode() for letter in letters)
        assert reasons == ["out_of_range", "unknown_category", "unknown_model", "wrong_type"]
        deadline = time.monotonic() + 20
        while worker.metric_total("driftline_events_processed_total") < 30:
            assert time.monotonic() < deadline, "the valid events were not all counted"
            time.sleep(0.25)
        assert worker.metric_total("driftline_events_processed_total", model=MODEL) == 30

        stored = store.hget(f"{settings.redis_prefix}:specs", MODEL)
        assert orjson.loads(stored)["source"] == "registered"
    finally:
        assert worker.stop() == 0
    log = (tmp_path / "worker.log").read_text()
    assert "skipping the spec stored at" in log and "feature 'a' must be an object" in log


def test_a_spec_stored_during_a_warm_up_wins_over_the_one_it_infers(stack_config, tmp_path):
    """Another worker or an operator stored the model's spec while this worker was warming up
    (and its periodic sync is an hour away): the batch that infers a spec finds the stored
    one, and the worker applies it from then on. The stored one marks a PII feature and no
    key is set: its values are dropped, and the log says so, as for a spec the sync finds."""
    model = "it-warm-race"
    env = isolated_env(stack_config, tmp_path / "faust") | {
        "DRIFTLINE_WARMUP_EVENTS": "40",
        "DRIFTLINE_SPEC_REFRESH_S": "3600",
    }
    settings = Settings.from_env(env)
    events = list(sample_events(model, 60))
    worker = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "worker.log")
    worker.start()
    try:
        publish(settings.kafka, settings.topic_predictions, [(b"k", v) for v in events[:20]])
        wait_until_processed(worker, 20)
        plan = SPEC["features"]["plan"] | {"pii": True}
        stored = ModelSpec.from_dict(
            SPEC | {"model_id": model, "features": SPEC["features"] | {"plan": plan}}
        )
        with redis.Redis.from_url(settings.redis_url) as client:
            client.hset(f"{settings.redis_prefix}:specs", model, orjson.dumps(stored.to_dict()))
        publish(settings.kafka, settings.topic_predictions, [(b"k", v) for v in events[20:]])
        wait_until_processed(worker, 60)
        # The inferred spec has no range: only the stored one refuses an age of 500.
        publish(
            settings.kafka, settings.topic_predictions, [(b"k", with_features(events[0], age=500))]
        )
        letters = read_from(settings.kafka, settings.topic_dlq,
                            dict.fromkeys(range(settings.partitions), 0), count=1)  # fmt: skip
        assert [letter.headers["driftline.dlq.reason"] for letter in letters] == [b"out_of_range"]
        with redis.Redis.from_url(settings.redis_url) as client:
            kept = client.hget(f"{settings.redis_prefix}:specs", model)
        assert orjson.loads(kept)["source"] == stored.source
        log = worker.log_path.read_text()
        assert f"model {model} has PII features or attributes and no DRIFTLINE_PII_KEY" in log
    finally:
        assert worker.stop() == 0

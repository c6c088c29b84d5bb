"""Adversarial probing on the real broker and Redis: a worker with a spec naming
``source_attribute`` publishes the prober's ``adversarial`` alerts, by hashed source only,
and keeps its counters in Redis with no source in clear."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import orjson
import pytest
import redis
from jsonschema import Draft202012Validator

from streams.adapters.kafka.records import publish
from streams.core.contract.pii import PiiPolicy
from streams.settings import Settings
from streams.simulation.probing import FEATURES, PROBER, ProbingConfig, probing_events, to_json
from streams.stack.worker import WorkerProcess
from tests.integration.conftest import free_port, isolated_env, read_all, wait_until_processed

pytestmark = pytest.mark.integration

EVENTS = 4_000
SPEC = {
    "model_id": "probed",
    "features": {name: {"type": "number"} for name in FEATURES},
    # PII: the label join's kept predictions then hold it hashed too (the tracker always does).
    "attributes": {"client_id": {"pii": True}},
    "source_attribute": "client_id",
}
SCHEMA = json.loads((Path(__file__).parents[2] / "schemas" / "alert.json").read_text())


def stored_values(settings: Settings) -> list[bytes]:
    """The string and hash values of the run's Redis keys (where monitor state lives)."""
    client = redis.Redis.from_url(settings.redis_url)
    values: list[bytes] = []
    try:
        for key in client.scan_iter(f"{settings.redis_prefix}:*"):
            kind = client.type(key)
            if kind == b"string":
                values.append(client.get(key) or b"")
            elif kind == b"hash":
                values += client.hgetall(key).values()
    finally:
        client.close()
    return values


def test_a_prober_is_named_by_its_hash_on_the_alerts_topic(stack_config, tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "probed.json").write_text(json.dumps(SPEC))
    key = secrets.token_hex(16)
    env = isolated_env(stack_config, tmp_path / "faust") | {
        "DRIFTLINE_SPECS_DIR": str(specs),
        "DRIFTLINE_REFERENCE_EVENTS": "1000",
        "DRIFTLINE_ABUSE_WINDOW_EVENTS": "1500",
        "DRIFTLINE_PII_KEY": key,
    }
    settings = Settings.from_env(env)
    config = ProbingConfig(seed=6, clients=200, attack_share=0.05, attack_start=1_000)
    records = [(b"probed", orjson.dumps(to_json(e))) for e in probing_events(config, 0, EVENTS)]
    worker = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "worker.log")
    worker.start()
    try:
        publish(settings.kafka, settings.topic_predictions, records)
        wait_until_processed(worker, EVENTS, timeout_s=120)
        alerts = [orjson.loads(r.value) for r in read_all(settings, settings.topic_alerts)]
    finally:
        assert worker.stop() == 0
    adversarial = [a for a in alerts if a["type"] == "adversarial"]
    prober = PiiPolicy(key=key.encode()).redact(PROBER)
    assert {a["adversarial"]["source"] for a in adversarial} == {prober}
    patterns = {a["adversarial"]["pattern"] for a in adversarial if a["status"] == "firing"}
    assert {"near_duplicates", "threshold_probing"} <= patterns
    for alert in adversarial:
        Draft202012Validator(SCHEMA).validate(alert)
    stored = stored_values(settings)
    assert any(prober.encode() in value for value in stored), "no tracker state in Redis"
    assert not any(b"client-" in value for value in stored)

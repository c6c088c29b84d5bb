"""PII on the real broker and Redis: a worker fed e-mails, ages, zip codes and phone numbers
(features and attributes marked PII), with labels, leaves none of them in any Redis key of
its run or on its alerts, retraining-request and dead-letter topics; a dictionary attack
without the key recovers nothing; without a key the worker refuses to start."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys

import numpy as np
import orjson
import pytest
import redis

from streams.adapters.kafka.records import publish
from streams.settings import Settings
from streams.stack.worker import WorkerProcess
from tests import pii_stream
from tests.integration.conftest import (
    free_port,
    isolated_env,
    read_all,
    wait_for_labels,
    wait_until_processed,
)

pytestmark = pytest.mark.integration

EVENTS, HEALTHY = 2_000, 1_000


def labels(evts: list[dict]) -> list[tuple[bytes, bytes]]:
    # Right until HEALTHY, then 40% wrong: performance alerts and a retraining request.
    rng = np.random.default_rng(3)
    out = []
    for i, e in enumerate(evts):
        label = e["prediction"] ^ int(i >= HEALTHY and rng.random() < 0.4)
        value = {"event_id": e["event_id"], "model_id": e["model_id"], "label": label}
        out.append((e["model_id"].encode(), orjson.dumps(value)))
    return out


def bad_events() -> list[dict]:
    """Rejected events that carry PII: an age out of range, an e-mail of the wrong type."""
    old, wrong = pii_stream.events(50_000, 2, drift_at=0)
    old["features"]["age"] = 150
    old["features"]["email"] = "rejected.one.pii@example.org"
    wrong["features"]["zip"] = 94199
    wrong["attributes"]["phone"] = "+1-212-555-0199"
    return [old, wrong]


def redis_dump(url: str, prefix: str) -> bytes:
    """Every key of the run and its whole value, whatever its type."""
    client = redis.Redis.from_url(url)
    parts: list[bytes] = []
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        kind = client.type(key).decode()
        parts.append(key)
        if kind == "string":
            parts.append(client.get(key) or b"")
        elif kind == "list":
            parts += client.lrange(key, 0, -1)
        elif kind == "hash":
            parts += [b for pair in client.hgetall(key).items() for b in pair]
        elif kind == "set":
            parts += list(client.smembers(key))
        elif kind == "zset":
            parts += [m for m, _ in client.zrange(key, 0, -1, withscores=True)]
        else:
            raise AssertionError(f"{key!r} is a {kind}: scan it too")
    client.close()
    return b"\n".join(parts)


def test_no_raw_pii_leaves_the_worker(stack_config, tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "pii.json").write_text(json.dumps(pii_stream.SPEC))
    env = isolated_env(stack_config, tmp_path / "faust") | {
        "DRIFTLINE_SPECS_DIR": str(specs),
        "DRIFTLINE_REFERENCE_EVENTS": "500",
        "DRIFTLINE_WINDOW_EVENTS": "200",
        "DRIFTLINE_LABEL_RETRY_S": "0.5",
        "DRIFTLINE_DLQ_REDACT_PII": "true",
        # The healthy labels are the performance reference (the default, 10,000, is more).
        "DRIFTLINE_PERFORMANCE_REFERENCE_LABELS": str(HEALTHY),
    }
    settings = Settings.from_env(env)

    refused = subprocess.run([sys.executable, "-m", "streams.cli", "worker"], env=env,
                             capture_output=True, timeout=120)  # fmt: skip
    assert refused.returncode != 0
    assert b"has PII features or attributes and no DRIFTLINE_PII_KEY" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr

    key = secrets.token_hex(32)
    worker = WorkerProcess(env | {"DRIFTLINE_PII_KEY": key}, web_port=free_port(),
                           log_path=tmp_path / "worker.log")  # fmt: skip
    evts = pii_stream.events(0, EVENTS, drift_at=HEALTHY)
    bad = bad_events()
    worker.start()
    try:
        records = [(pii_stream.MODEL.encode(), orjson.dumps(e)) for e in evts + bad]
        publish(settings.kafka, settings.topic_predictions, records)
        wait_until_processed(worker, EVENTS)
        publish(settings.kafka, settings.topic_labels, labels(evts))
        wait_for_labels(worker, "joined", EVENTS, timeout_s=90)
        alerts = read_all(settings, settings.topic_alerts)
        requests = read_all(settings, settings.topic_retrain)
        dead = read_all(settings, settings.topic_dlq)
    finally:
        assert worker.stop() == 0
    stored = redis_dump(settings.redis_url, settings.redis_prefix)

    kinds = {orjson.loads(a.value)["type"] for a in alerts}
    assert {"data_drift", "performance"} <= kinds, kinds
    assert requests and len(dead) == 2
    assert all(d.headers["driftline.dlq.pii"] == b"redacted" for d in dead)
    published = [r.value for r in alerts + requests + dead]
    published += [v for d in dead for v in d.headers.values()]
    everything = stored + b"\n".join(published)
    raw = pii_stream.distinctive_values(evts + bad)
    assert [v for v in raw if v in everything] == []
    assert b"pii@example.org" not in everything and b"555-" not in everything

    hashes = {m.decode() for m in pii_stream.HASH.findall(everything)}
    assert len(hashes) > 40  # samples, profile categories, kept attributes, dead letters
    values = pii_stream.candidates(evts + bad)
    wrong = [b"\0" * 32, key[:32].encode(), secrets.token_bytes(32)]
    assert pii_stream.dictionary_attack(hashes, values, keys=wrong) == set()
    # With the right key the same attack finds them: the check above can fail.
    assert pii_stream.dictionary_attack(hashes, values[:500], keys=[key.encode()])

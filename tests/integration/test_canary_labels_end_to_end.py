"""A canary judged by its labels on the real broker and Redis: a candidate v2 on 10% of a
model's traffic with healthy scores, whose labels say it is wrong 30% more often than v1.

One worker run: 6,000 events (v2 from event 1,200 on, 10 s canary windows at 100 events/s of
event time), then every event's label. The labels fail the canary on accuracy alone, and
``driftline canary`` reads that verdict from Redis.
"""

from __future__ import annotations

import time

import numpy as np
import orjson
import pytest

from streams.adapters.kafka.records import publish
from streams.cli import main
from streams.settings import Settings
from streams.simulation.rollout import rollout_events
from streams.stack.worker import WorkerProcess
from tests.integration.conftest import (
    free_port,
    isolated_env,
    read_alerts,
    wait_for_labels,
    wait_until_processed,
)

pytestmark = pytest.mark.integration

MODEL = "it-canary-labels"


def _labels(events):
    rng = np.random.default_rng(4)
    rows = []
    for e in events:
        wrong = bool(rng.random() < 0.1) ^ bool(e["model_version"] == "v2" and rng.random() < 0.3)
        rows.append({"event_id": e["event_id"], "model_id": MODEL,
                     "label": e["prediction"] ^ wrong, "timestamp": e["timestamp"]})  # fmt: skip
    return [(MODEL.encode(), orjson.dumps(row)) for row in rows]


def _canary_fail(settings, timeout_s=30.0):
    """The canary alerts once one says fail (label alerts are published after the labels
    are counted, so the count alone is no signal)."""
    deadline = time.monotonic() + timeout_s
    while True:
        alerts = [orjson.loads(a.value) for a in read_alerts(settings)]
        canary = [a for a in alerts if a["type"] == "canary"]
        if any(a["canary"]["verdict"] == "fail" for a in canary) or time.monotonic() > deadline:
            return canary
        time.sleep(0.25)


def test_flipped_labels_fail_the_canary_on_accuracy(stack_config, tmp_path, monkeypatch, capsys):
    env = isolated_env(stack_config, tmp_path / "faust") | {
        "DRIFTLINE_WARMUP_EVENTS": "100", "DRIFTLINE_REFERENCE_EVENTS": "1000",
        "DRIFTLINE_WINDOW_EVENTS": "250", "DRIFTLINE_CANARY_WINDOW_S": "10",
        "DRIFTLINE_CANARY_MIN_EVENTS": "300",
    }  # fmt: skip
    settings = Settings.from_env(env)
    events = rollout_events(6000, model_id=MODEL, candidate_after=1200, seed=0)
    worker = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "worker.log")
    worker.start()
    try:
        publish(settings.kafka, settings.topic_predictions,
                [(MODEL.encode(), orjson.dumps(e)) for e in events])  # fmt: skip
        wait_until_processed(worker, len(events))
        publish(settings.kafka, settings.topic_labels, _labels(events))
        wait_for_labels(worker, "joined", len(events))
        canary = _canary_fail(settings)
    finally:
        assert worker.stop() == 0

    failed = [a for a in canary if a["canary"]["verdict"] == "fail"]
    assert len(failed) == 1 and failed[0]["model_version"] == "v2"
    checks = {c["name"]: c for c in failed[0]["canary"]["checks"]}
    assert {n for n, c in checks.items() if c["outcome"] == "fail"} == {"accuracy"}
    assert checks["accuracy"]["value"] < -0.05 and checks["accuracy"]["evidence"]["interval"][1] < 0
    for name, value in env.items():
        if name.startswith("DRIFTLINE_"):
            monkeypatch.setenv(name, value)
    capsys.readouterr()
    code = main(["canary", MODEL, "--baseline", "v1", "--candidate", "v2"])
    assert code == 1 and "accuracy: fail" in capsys.readouterr().out

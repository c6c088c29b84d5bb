"""A rollout on the real broker and Redis: a candidate v2 on 10% of a model's traffic.

One worker run for the module: a model whose v2 shifts its scores and a model whose v2 is
healthy, 9,000 events each (v2 from event 2,000 on, 10 s canary windows at 100 events/s of
event time). The shifted v2 inherits v1's reference (prediction_drift) and gets a ``fail``
verdict, the healthy one ``pass``; ``driftline canary`` reads them from Redis with its exit
codes.
"""

from __future__ import annotations

import os
import subprocess
import sys

import jsonschema
import orjson
import pytest

from streams.adapters.kafka.records import publish
from streams.settings import Settings
from streams.simulation.rollout import rollout_events
from streams.stack.worker import WorkerProcess
from tests.integration.conftest import free_port, isolated_env, read_alerts, wait_until_processed

pytestmark = pytest.mark.integration

EVENTS, START = 9000, 2000
SCHEMA = orjson.loads(open("schemas/alert.json", "rb").read())


@pytest.fixture(scope="module")
def rollout(stack_config, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rollout")
    env = isolated_env(stack_config, tmp / "faust") | {
        "DRIFTLINE_WARMUP_EVENTS": "100",
        "DRIFTLINE_REFERENCE_EVENTS": "1000",
        "DRIFTLINE_WINDOW_EVENTS": "500",
        "DRIFTLINE_CANARY_WINDOW_S": "10",
    }
    settings = Settings.from_env(env)
    records = []
    for model_id, shift in (("it-canary-bad", 0.15), ("it-canary-ok", 0.0)):
        events = rollout_events(EVENTS, model_id=model_id, score_shift=shift,
                                candidate_after=START, seed=0)  # fmt: skip
        records += [(model_id.encode(), orjson.dumps(e)) for e in events]
    worker = WorkerProcess(env, web_port=free_port(), log_path=tmp / "worker.log")
    worker.start()
    try:
        publish(settings.kafka, settings.topic_predictions, records)
        wait_until_processed(worker, len(records))
        alerts = [orjson.loads(letter.value) for letter in read_alerts(settings)]
    finally:
        assert worker.stop() == 0
    return env, alerts


def canary(env, model_id, *flags):
    command = [sys.executable, "-m", "streams.cli", "canary", model_id, *flags]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60,
                          cwd=os.getcwd(), check=False)  # fmt: skip


def test_the_shifted_candidate_fails_and_the_healthy_one_passes(rollout):
    _, alerts = rollout
    verdicts = {(a["model_id"], a["canary"]["verdict"]) for a in alerts if a["type"] == "canary"}
    assert verdicts == {("it-canary-bad", "fail"), ("it-canary-ok", "pass")}
    for alert in alerts:
        jsonschema.validate(alert, SCHEMA)


def test_the_shifted_candidate_raises_prediction_drift_against_the_inherited_reference(rollout):
    _, alerts = rollout
    drift = {(a["model_id"], a["model_version"], a["feature"]) for a in alerts
             if a["type"] == "prediction_drift" and a["status"] == "firing"}  # fmt: skip
    assert ("it-canary-bad", "v2", "score") in drift
    assert not [d for d in drift if d[:2] == ("it-canary-ok", "v2")]


def test_driftline_canary_exit_codes_from_redis(rollout):
    env, _ = rollout
    bad = canary(env, "it-canary-bad", "--baseline", "v1", "--candidate", "v2")
    assert bad.returncode == 1, bad.stderr
    assert "fail" in bad.stdout and "score_distribution: fail" in bad.stdout
    ok = canary(env, "it-canary-ok", "--baseline", "v1", "--candidate", "v2", "--json")
    assert ok.returncode == 0, ok.stderr
    report = orjson.loads(ok.stdout)
    assert report["verdict"] == "pass" and report["events"]["candidate"] >= 500
    never = canary(env, "it-canary-ok", "--baseline", "v2", "--candidate", "v1")
    assert never.returncode == 3, never.stderr
    unknown = canary(env, "no-such-model", "--baseline", "v1", "--candidate", "v2")
    assert unknown.returncode == 3, unknown.stderr

"""A rollout on the real broker and Redis: a candidate v2 on 10% of a model's traffic.

One worker run for the module: a model whose v2 shifts its scores and a model whose v2 is
healthy, 6,000 and 8,000 events (v2 from event 1,200 on, 10 s canary windows at 100
events/s of event time, verdicts from 300 events of each version; a pass needs the positive
rates shown equivalent, so it takes longer than a fail: tests/core/test_rollout.py). The
shifted v2 inherits v1's reference (prediction_drift) and gets a ``fail`` verdict, the
healthy one ``pass``; ``driftline canary`` reads them from Redis with its exit codes.
"""

from __future__ import annotations

import jsonschema
import orjson
import pytest

from streams.adapters.kafka.records import publish
from streams.cli import main
from streams.settings import Settings
from streams.simulation.rollout import rollout_events
from streams.stack.worker import WorkerProcess
from tests.integration.conftest import free_port, isolated_env, read_alerts, wait_until_processed

pytestmark = pytest.mark.integration

START = 1200
with open("schemas/alert.json", "rb") as schema:
    SCHEMA = orjson.loads(schema.read())


@pytest.fixture(scope="module")
def rollout(stack_config, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rollout")
    env = isolated_env(stack_config, tmp / "faust") | {
        "DRIFTLINE_WARMUP_EVENTS": "100",
        "DRIFTLINE_REFERENCE_EVENTS": "1000",
        "DRIFTLINE_WINDOW_EVENTS": "250",
        "DRIFTLINE_CANARY_WINDOW_S": "10",
        "DRIFTLINE_CANARY_MIN_EVENTS": "300",
    }
    settings = Settings.from_env(env)
    records = []
    for model_id, shift, count in (("it-canary-bad", 0.15, 6000), ("it-canary-ok", 0.0, 8000)):
        events = rollout_events(count, model_id=model_id, score_shift=shift,
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


@pytest.fixture
def canary(rollout, monkeypatch, capsys):
    """``driftline canary`` in this process, with the worker's environment: (exit code,
    stdout)."""
    env, _ = rollout
    for name, value in env.items():
        if name.startswith("DRIFTLINE_"):
            monkeypatch.setenv(name, value)

    def run(*argv: str) -> tuple[int, str]:
        code = main(["canary", *argv])
        return code, capsys.readouterr().out

    return run


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


def test_driftline_canary_exit_codes_from_redis(canary):
    code, out = canary("it-canary-bad", "--baseline", "v1", "--candidate", "v2")
    assert code == 1 and "v2 vs v1: fail" in out and "score_distribution: fail" in out
    code, out = canary("it-canary-ok", "--baseline", "v1", "--candidate", "v2", "--json")
    report = orjson.loads(out)
    assert code == 0 and report["verdict"] == "pass" and report["events"]["candidate"] >= 300
    assert canary("it-canary-ok", "--baseline", "v2", "--candidate", "v1")[0] == 3  # never ran
    assert canary("no-such-model", "--baseline", "v1", "--candidate", "v2")[0] == 3

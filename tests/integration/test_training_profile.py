"""A profile registered from training data with `driftline profile --store` is what the
worker judges against, from the first event on."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from streams.settings import Settings
from streams.simulation import Scenario, StreamConfig, write_jsonl
from streams.stack.worker import WorkerProcess
from tests.integration.conftest import (
    free_port,
    isolated_env,
    publish_stream,
    read_alerts,
    wait_until_processed,
)

pytestmark = pytest.mark.integration


def test_the_worker_uses_the_registered_training_profile(stack_config, tmp_path):
    env = isolated_env(stack_config, tmp_path / "faust") | {
        "DRIFTLINE_WARMUP_EVENTS": "100",
        "DRIFTLINE_REFERENCE_EVENTS": "1000000",  # never reached: only the profile can judge
        "DRIFTLINE_WINDOW_EVENTS": "500",
    }
    settings = Settings.from_env(env)
    write_jsonl(tmp_path / "train.jsonl", StreamConfig(model_id="it-trained", seed=8), 4_000)
    subprocess.run(
        [sys.executable, "-m", "streams.cli", "profile", str(tmp_path / "train.jsonl"),
         "--model-id", "it-trained", "--store"],
        env=env, check=True, capture_output=True,
    )  # fmt: skip

    drift = Scenario(kind="abrupt", feature="x7", start=5_000, magnitude=1.0)
    stream = StreamConfig(model_id="it-trained", seed=8, scenarios=(drift,))
    worker = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "worker.log")
    worker.start()
    try:
        publish_stream(settings, stream, 2_000, offset=4_000)
        wait_until_processed(worker, 2_000)
        letters = read_alerts(settings)
    finally:
        assert worker.stop() == 0
    alerts = [orjson.loads(letter.value) for letter in letters]
    assert [(a["feature"], a["status"]) for a in alerts if a["type"] == "data_drift"] == [
        ("x7", "firing")
    ]
    assert not [a for a in alerts if a["type"] == "anomaly"]

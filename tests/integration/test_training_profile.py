"""A profile registered from training data with `driftline profile --store` is what the
worker judges against, from the first event on."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from streams.adapters.kafka.records import publish
from streams.settings import Settings
from streams.simulation import Scenario, StreamConfig, generate_events, keyed_labels, write_jsonl
from streams.stack.worker import WorkerProcess
from tests.integration.conftest import (
    free_port,
    isolated_env,
    publish_stream,
    read_alerts,
    wait_for_labels,
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


def test_the_worker_judges_labels_against_the_profiles_validation_reference(stack_config, tmp_path):
    # The reference from labels never completes in the test (the default, 10,000): only the
    # labelled validation set stored with the profile can judge the degraded labels.
    from tests.adapters.test_validation_labels import validation_rows, write_rows

    config = StreamConfig(model_id="validated", seed=11)
    env = isolated_env(stack_config, tmp_path / "faust") | {"DRIFTLINE_LABEL_RETRY_S": "0.5"}
    settings = Settings.from_env(env)
    write_jsonl(tmp_path / "train.jsonl", config, 2_000)
    write_rows(tmp_path / "validation.jsonl", validation_rows(5_000))
    subprocess.run(
        [sys.executable, "-m", "streams.cli", "profile", str(tmp_path / "train.jsonl"),
         "--model-id", "validated", "--labels", str(tmp_path / "validation.jsonl"), "--store"],
        env=env, check=True, capture_output=True,
    )  # fmt: skip

    worker = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "worker.log")
    worker.start()
    try:
        publish_stream(settings, config, 3_000)
        wait_until_processed(worker, 3_000)
        chunks = generate_events(config, 3_000)
        degraded = [r for c in chunks for r in keyed_labels(config, c, flip_rate=0.45)]
        publish(settings.kafka, settings.topic_labels, degraded)
        wait_for_labels(worker, "joined", 3_000)
        reference = worker.metric_total(
            "driftline_performance", metric="accuracy", view="reference"
        )
        alerts = [orjson.loads(letter.value) for letter in read_alerts(settings)]
    finally:
        assert worker.stop() == 0
    assert reference > 0.6  # the validation set's, not NaN (no reference learned yet)
    performance = [a for a in alerts if a["type"] == "performance" and a["status"] == "firing"]
    assert performance, "no performance alert: the validation reference was not used"
    assert int(performance[0]["trigger"]["event_id"].rsplit("-", 1)[1]) < 3_000

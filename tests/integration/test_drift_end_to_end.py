"""One injected drift on the real broker and Redis: one firing alert for that feature when it
starts, one resolved alert when it ends, nothing for the other features."""

from __future__ import annotations

import time

import orjson
import pytest

from streams.adapters.kafka_records import publish, read_from
from streams.adapters.worker_process import WorkerProcess
from streams.settings import Settings
from streams.simulation import Scenario, StreamConfig, encode_events, generate_events
from tests.integration.conftest import free_port, isolated_env

pytestmark = pytest.mark.integration

EVENTS, DRIFT_AT, DRIFT_END, WINDOW = 8_000, 3_250, 5_250, 500
STREAM = StreamConfig(
    model_id="it-e2e",
    seed=21,
    scenarios=(
        Scenario(kind="variance", feature="x11", start=DRIFT_AT, end=DRIFT_END, magnitude=2.0),
    ),
)


def test_one_episode_fires_and_resolves_for_the_drifting_feature_only(stack_config, tmp_path):
    env = isolated_env(stack_config, tmp_path / "faust") | {
        "DRIFTLINE_WARMUP_EVENTS": "100",
        "DRIFTLINE_REFERENCE_EVENTS": "2000",
        "DRIFTLINE_WINDOW_EVENTS": str(WINDOW),
    }
    settings = Settings.from_env(env)
    worker = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "worker.log")
    worker.start()
    try:
        key = STREAM.model_id.encode()
        records = [
            (key, value)
            for chunk in generate_events(STREAM, EVENTS)
            for value in encode_events(STREAM, chunk)
        ]
        positions = publish(settings.kafka_bootstrap, settings.topic_predictions, records)
        deadline = time.monotonic() + 60
        while worker.metric_total("driftline_events_processed_total") < EVENTS:
            assert time.monotonic() < deadline
            time.sleep(0.25)
        letters = read_from(
            settings.kafka_bootstrap,
            settings.topic_alerts,
            dict.fromkeys(range(settings.partitions), 0),
            count=20,
            timeout_s=3,
        )
        assert worker.metric_total("driftline_alerts_total", model=STREAM.model_id) == len(letters)
    finally:
        assert worker.stop() == 0

    alerts = [orjson.loads(letter.value) for letter in letters]
    assert all(letter.key == key for letter in letters)
    drift = [a for a in alerts if a["type"] == "data_drift"]
    assert [(a["feature"], a["status"]) for a in drift] == [("x11", "firing"), ("x11", "resolved")]
    firing, resolved = drift
    assert firing["episode_id"] == resolved["episode_id"]
    fired_at = int(firing["trigger"]["event_id"].rsplit("-", 1)[1])
    assert DRIFT_AT < fired_at <= DRIFT_AT + 2 * WINDOW
    assert firing["window"]["count"] == WINDOW
    # The trigger names the record: its partition and offset are where it was published.
    assert (firing["trigger"]["partition"], firing["trigger"]["offset"]) == positions[fired_at]
    resolved_at = int(resolved["trigger"]["event_id"].rsplit("-", 1)[1])
    assert DRIFT_END < resolved_at <= DRIFT_END + 4 * WINDOW
    assert not [
        a for a in alerts if a["feature"] not in ("x11", None) and a["type"] != "prediction_drift"
    ]

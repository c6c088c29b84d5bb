"""One injected drift on the real broker and Redis: one firing alert for that feature when it
starts, one resolved alert when it ends, nothing for the other features."""

from __future__ import annotations

import orjson
import pytest

from streams.settings import Settings
from streams.simulation import Scenario, StreamConfig
from streams.stack.worker import WorkerProcess
from tests.integration.conftest import (
    free_port,
    isolated_env,
    publish_stream,
    read_alerts,
    wait_until_processed,
)

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
        positions = publish_stream(settings, STREAM, EVENTS)
        wait_until_processed(worker, EVENTS)
        letters = read_alerts(settings)
        assert worker.metric_total("driftline_alerts_total", model=STREAM.model_id) == len(letters)
    finally:
        assert worker.stop() == 0

    alerts = [orjson.loads(letter.value) for letter in letters]
    assert all(letter.key == STREAM.model_id.encode() for letter in letters)
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

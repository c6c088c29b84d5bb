"""Per-segment checks on the real broker and Redis: a worker with a spec that segments by
region raises an alert naming the region that drifted, and none naming another.

Cheap: the drift is in ``r1`` (19% of the traffic: its reference fills in ~5,000 events),
large enough that the global checks may see it too; drift in 5% of the traffic caught in its
segment alone is shown by tests/core/test_segments.py and loadtest/bench_segments.py."""

from __future__ import annotations

import orjson
import pytest

from loadtest.segment_stream import segment_records, segment_spec
from streams.adapters.kafka.records import publish
from streams.settings import Settings
from streams.stack.worker import WorkerProcess
from tests.integration.conftest import free_port, isolated_env, read_alerts, wait_until_processed

pytestmark = pytest.mark.integration

MODEL, EVENTS, DRIFT_AT = "it-segments", 12_000, 8_000


def test_a_drift_in_one_region_is_an_alert_naming_it(stack_config, tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "regional.json").write_bytes(orjson.dumps(segment_spec(MODEL).to_dict()))
    env = isolated_env(stack_config, tmp_path / "faust") | {
        "DRIFTLINE_SPECS_DIR": str(specs),
        "DRIFTLINE_REFERENCE_EVENTS": "1000",
        "DRIFTLINE_WINDOW_EVENTS": "500",
    }
    settings = Settings.from_env(env)
    worker = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "worker.log")
    worker.start()
    try:
        records = segment_records(EVENTS, model_id=MODEL, drift_at=DRIFT_AT, region=1)
        publish(settings.kafka, settings.topic_predictions, [(MODEL.encode(), r) for r in records])
        wait_until_processed(worker, EVENTS)
        letters = read_alerts(settings)
        assert worker.metric_total("driftline_alerts_total", model=MODEL) == len(letters)
    finally:
        assert worker.stop() == 0
    alerts = [orjson.loads(letter.value) for letter in letters]
    segmented = [a for a in alerts if "segment" in a]
    assert [(a["feature"], a["status"], a["segment"]) for a in segmented] == [
        ("x1", "firing", {"attribute": "region", "value": "r1"})
    ]
    assert {a["feature"] for a in alerts} <= {"x1"}
    fired_at = int(segmented[0]["trigger"]["event_id"].rsplit("-", 1)[1])
    assert DRIFT_AT < fired_at <= EVENTS

"""Delayed labels on the real broker and Redis: joined to their predictions, counted by
outcome, a degraded model raises performance alerts and one retraining request."""

from __future__ import annotations

import orjson
import pytest

from streams.adapters.kafka.records import publish
from streams.settings import Settings
from streams.simulation import StreamConfig, generate_events, keyed_labels
from streams.stack.worker import WorkerProcess
from tests.integration.conftest import (
    free_port,
    isolated_env,
    publish_stream,
    read_alerts,
    read_all,
    wait_for_labels,
    wait_until_processed,
)

pytestmark = pytest.mark.integration

EVENTS, HEALTHY = 2_000, 1_000
STREAM = StreamConfig(model_id="it-labels", seed=31)


def labels(start: int, count: int, flip_rate: float) -> list[tuple[bytes, bytes]]:
    chunks = generate_events(STREAM, count, offset=start)
    return [r for chunk in chunks for r in keyed_labels(STREAM, chunk, flip_rate=flip_rate)]


def test_labels_join_and_a_degraded_model_is_caught(stack_config, tmp_path):
    # A reference of the 1,000 healthy labels (the default, 10,000, would outlast the test).
    env = isolated_env(stack_config, tmp_path / "faust") | {
        "DRIFTLINE_LABEL_RETRY_S": "0.5", "DRIFTLINE_PERFORMANCE_REFERENCE_LABELS": str(HEALTHY)
    }  # fmt: skip
    settings = Settings.from_env(env)
    worker = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "worker.log")
    worker.start()
    try:
        publish_stream(settings, STREAM, EVENTS)
        wait_until_processed(worker, EVENTS)
        publish(settings.kafka, settings.topic_labels,
                labels(0, HEALTHY, 0.0) + labels(HEALTHY, EVENTS - HEALTHY, 0.4))  # fmt: skip
        wait_for_labels(worker, "joined", EVENTS)
        # Repeated labels, labels before their prediction, and one that is not a label.
        key = STREAM.model_id.encode()
        early = [(key, orjson.dumps({"event_id": f"it-labels-{i}", "model_id": "it-labels",
                                      "label": 1})) for i in range(EVENTS, EVENTS + 3)]  # fmt: skip
        publish(settings.kafka, settings.topic_labels,
                labels(0, 5, 0.0) + early + [(key, b'{"event_id": "x"}')])  # fmt: skip
        wait_for_labels(worker, "duplicate", 5)
        wait_for_labels(worker, "early", 3)
        publish_stream(settings, STREAM, 3, offset=EVENTS)  # their predictions come after all
        wait_for_labels(worker, "joined", EVENTS + 3)
        assert worker.metric_total("driftline_labels_total", outcome="rejected") == 1
        accuracy = worker.metric_total("driftline_performance", metric="accuracy", view="window")
        reference = worker.metric_total("driftline_performance", metric="accuracy",
                                        view="reference")  # fmt: skip
        alerts = [orjson.loads(a.value) for a in read_alerts(settings)]
        requests = [orjson.loads(r.value) for r in read_all(settings, settings.topic_retrain)]
        dead = read_all(settings, settings.topic_labels_dlq)
    finally:
        assert worker.stop() == 0

    assert reference > 0.7 and accuracy < reference - 0.1
    performance = [a for a in alerts if a["type"] == "performance" and a["status"] == "firing"]
    assert "accuracy_drop_lower_bound" in {a["statistic"]["name"] for a in performance}
    fired_at = int(performance[0]["trigger"]["event_id"].rsplit("-", 1)[1])
    assert HEALTHY < fired_at <= EVENTS
    assert len(requests) == 1 and requests[0]["model_id"] == STREAM.model_id
    assert [d.value for d in dead] == [b'{"event_id": "x"}']

"""AlertConsumer on the real broker: duplicates skipped, offsets committed only after the
handler returned, retraining requests likewise."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from streams.adapters.kafka.admin import ensure_topics
from streams.adapters.kafka.records import publish
from streams.client import AlertConsumer
from streams.settings import Settings
from tests.integration.conftest import isolated_env

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).parents[2] / "schemas" / "examples"


def test_each_alert_once_committed_after_the_handler(stack_config, tmp_path):
    settings = Settings.from_env(isolated_env(stack_config, tmp_path))
    ensure_topics(settings.kafka, [settings.topic_alerts, settings.topic_retrain], partitions=1)
    alerts = sorted((EXAMPLES / "alert/valid").glob("*.json"))
    first, second = alerts[0].read_bytes(), alerts[1].read_bytes()
    publish(settings.kafka, settings.topic_alerts,
            [(b"m", first), (b"m", b"not an alert"), (b"m", first), (b"m", second)])  # fmt: skip
    request = (EXAMPLES / "retrain_request/valid/accuracy_drop.json").read_bytes()
    publish(settings.kafka, settings.topic_retrain, [(b"m", request), (b"m", request)])
    group = f"g-{uuid.uuid4().hex[:6]}"

    with AlertConsumer(group, settings=settings) as consumer, pytest.raises(RuntimeError):
        for _ in consumer.alerts(idle_timeout_s=5):
            raise RuntimeError("the handler failed")  # the first alert stays uncommitted
    with AlertConsumer(group, settings=settings) as consumer:
        handled = [a.alert_id for a in consumer.alerts(idle_timeout_s=3)]
        requests = list(consumer.retrain_requests(idle_timeout_s=3))
        assert (consumer.duplicates, consumer.skipped) == (2, 1)
    with AlertConsumer(group, settings=settings) as consumer:
        assert list(consumer.alerts(idle_timeout_s=2)) == []  # all committed
    assert len(handled) == 2 and handled[0] != handled[1]
    assert [r.model_id for r in requests] == ["churn"]

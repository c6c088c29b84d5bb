"""Explanations through the real broker and Redis: the worker's anomaly alert names the
feature behind the anomalous events' distance, as replay's does."""

from __future__ import annotations

import orjson
import pytest

from streams.simulation import Scenario, StreamConfig
from tests.integration.conftest import publish_stream, read_alerts, wait_until_processed

pytestmark = pytest.mark.integration

EVENTS, SHIFT_AT = 10_000, 7_000
STREAM = StreamConfig(
    model_id="it-explain",
    seed=3,
    scenarios=(Scenario(kind="abrupt", feature="x7", start=SHIFT_AT, magnitude=6.0),),
)


def test_an_anomaly_alert_names_the_shifted_feature_first(worker, settings):
    before = worker.metric_total("driftline_events_processed_total")
    publish_stream(settings, STREAM, EVENTS)
    wait_until_processed(worker, before + EVENTS)
    mine = [orjson.loads(r.value) for r in read_alerts(settings) if r.key == b"it-explain"]

    anomaly = [a for a in mine if a["type"] == "anomaly" and a["status"] == "firing"]
    assert anomaly, "a 6 sigma shift must make events anomalous"
    explanation = anomaly[0]["explanation"]
    assert explanation["method"] == "mahalanobis_share"
    assert explanation["features"][0]["name"] == "x7"
    assert explanation["features"][0]["contribution"] > 0.5
    assert int(anomaly[0]["trigger"]["event_id"].rsplit("-", 1)[1]) >= SHIFT_AT

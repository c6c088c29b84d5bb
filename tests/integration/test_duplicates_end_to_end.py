"""Producer retries on the real broker and Redis: an event published twice is counted once,
watched once and joined to its label once (``DRIFTLINE_DEDUP_TTL_S``, on by default)."""

from __future__ import annotations

import pytest

from streams.adapters.kafka.records import publish
from streams.simulation import StreamConfig, generate_events, keyed_events, keyed_labels
from tests.integration.conftest import wait_for_metric

pytestmark = pytest.mark.integration

EVENTS, COPIES = 300, 100
STREAM = StreamConfig(model_id="it-duplicates", seed=41)


def test_an_event_published_twice_counts_once_and_joins_once(worker, settings):
    model = {"model": STREAM.model_id}
    records = keyed_events(STREAM, EVENTS)
    publish(settings.kafka, settings.topic_predictions, records)
    wait_for_metric(worker, "driftline_events_processed_total", EVENTS, **model)
    # The producer "retries" the first 100: the same events again, at new offsets.
    publish(settings.kafka, settings.topic_predictions, records[:COPIES])
    wait_for_metric(worker, "driftline_duplicate_events_total", COPIES, **model)
    labels = [r for chunk in generate_events(STREAM, COPIES) for r in keyed_labels(STREAM, chunk)]
    publish(settings.kafka, settings.topic_labels, labels)
    wait_for_metric(worker, "driftline_labels_total", COPIES, outcome="joined", **model)

    assert worker.metric_total("driftline_events_processed_total", **model) == EVENTS
    assert worker.metric_total("driftline_duplicate_events_total", **model) == COPIES
    assert worker.metric_total("driftline_labels_total", outcome="joined", **model) == COPIES
    assert worker.metric_total("driftline_labels_total", outcome="duplicate", **model) == 0

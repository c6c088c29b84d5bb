from __future__ import annotations

from prometheus_client import CollectorRegistry

from streams.adapters.metrics import IngestMetrics
from streams.core import EventDecoder, Ingestor, SpecRegistry
from tests.core.conftest import event_dict, record


def test_a_batch_is_counted_per_model_and_reason():
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    ingestor = Ingestor(EventDecoder(), SpecRegistry(warmup_events=1))
    batch = [
        record(event_dict()),
        record(event_dict(event_id="2")),
        record(event_dict(features={"age": "x", "income": 1, "plan": "a", "active": True})),
        record(b"nope"),
        record(b"[]"),
        record(b"nope again"),
    ]
    metrics.observe_batch(ingestor.ingest(batch), seconds=0.01)

    def value(name, **labels):
        return registry.get_sample_value(name, labels)

    assert value("driftline_events_processed_total", model="churn") == 2
    assert value("driftline_events_rejected_total", model="churn", reason="wrong_type") == 1
    assert value("driftline_events_rejected_total", model="_unknown", reason="not_json") == 2
    assert value("driftline_events_rejected_total", model="_unknown", reason="not_an_object") == 1
    assert value("driftline_batch_size_count") == 1
    assert value("driftline_batch_size_sum") == 6
    assert value("driftline_last_batch_timestamp_seconds") > 0

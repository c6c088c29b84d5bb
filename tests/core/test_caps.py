"""The model and version caps through the ingestor and the monitor: what each event becomes."""

from __future__ import annotations

from streams.core import EventDecoder, Ingestor, ModelSpec, Reason, SpecRegistry
from streams.core.drift.model_monitor import MonitorConfig
from streams.core.drift.monitor import Monitor
from tests.core.conftest import event_dict, record

SPEC = ModelSpec.from_dict(
    {
        "model_id": "churn",
        "features": {
            "age": {"type": "number"},
            "income": {"type": "number"},
            "plan": {"type": "string"},
            "active": {"type": "boolean"},
        },
    }
)


def versions(*names: str, start: int = 0):
    return [
        record(event_dict(event_id=f"e{n}", model_version=name), offset=start + n)
        for n, name in enumerate(names)
    ]


def test_versions_past_the_cap_are_rejected_never_accepted():
    registry = SpecRegistry([SPEC], max_versions_per_model=3, version_idle_s=300)
    ingestor, monitor = Ingestor(EventDecoder(), registry), Monitor(registry, MonitorConfig())
    registry.advance(0.0)
    result = ingestor.ingest(versions(*(f"v{n}" for n in range(30))))
    monitor.process(result.accepted, result.positions)

    assert [e.model_version for e in result.accepted] == ["v0", "v1", "v2"]
    assert {r.reason for r in result.rejected} == {Reason.VERSION_LIMIT}
    assert len(result.accepted) + len(result.rejected) == 30
    # Named in metrics: the model is known, the label set stays bounded.
    assert {r.model_id for r in result.rejected} == {"churn"}
    assert sorted(monitor.monitors) == [("churn", "v0"), ("churn", "v1"), ("churn", "v2")]
    assert monitor.unwatched == 0


def test_a_retired_versions_monitor_is_dropped_for_the_new_deployment():
    registry = SpecRegistry([SPEC], max_versions_per_model=2, version_idle_s=300)
    ingestor, monitor = Ingestor(EventDecoder(), registry), Monitor(registry, MonitorConfig())
    registry.advance(0.0)
    result = ingestor.ingest(versions("old", "current"))
    monitor.process(result.accepted, result.positions)
    registry.advance(200.0)
    result = ingestor.ingest(versions("current", start=2))
    monitor.process(result.accepted, result.positions)

    registry.advance(400.0)
    result = ingestor.ingest(versions("new", start=3))
    assert not result.rejected
    outcome = monitor.process(result.accepted, result.positions)
    retired = registry.take_retired()
    monitor.retire(retired)
    assert retired == [("churn", "old")]
    assert sorted(monitor.monitors) == [("churn", "current"), ("churn", "new")]
    assert outcome.touched == (("churn", "new"),)


def test_warm_up_events_are_counted_unwatched_by_model_and_reason():
    registry = SpecRegistry(warmup_events=3)
    ingestor, monitor = Ingestor(EventDecoder(), registry), Monitor(registry, MonitorConfig())
    records = [record(event_dict(event_id=f"e{n}", model_id="fresh"), offset=n) for n in range(5)]
    result = ingestor.ingest(records)
    outcome = monitor.process(result.accepted, result.positions)
    # The spec was learned during the batch, so the batch's events meet a monitor.
    assert outcome.unwatched == {}

    registry = SpecRegistry(warmup_events=10)
    ingestor, monitor = Ingestor(EventDecoder(), registry), Monitor(registry, MonitorConfig())
    result = ingestor.ingest(records)
    outcome = monitor.process(result.accepted, result.positions)
    assert outcome.unwatched == {("fresh", "warmup"): 5}
    assert monitor.unwatched == 5


def test_events_over_the_monitor_cap_are_counted_unwatched_as_such():
    registry = SpecRegistry([SPEC], max_versions_per_model=5)
    monitor = Monitor(registry, MonitorConfig(), max_versions=1)
    result = Ingestor(EventDecoder(), registry).ingest(versions("a", "b", "b"))
    outcome = monitor.process(result.accepted, result.positions)
    assert outcome.unwatched == {("churn", "monitor_limit"): 2}


def test_a_version_retired_and_readmitted_in_one_batch_stays_watched():
    registry = SpecRegistry([SPEC], max_versions_per_model=1, version_idle_s=0)
    result = Ingestor(EventDecoder(), registry).ingest(versions("a", "b", "a"))
    assert not result.rejected
    # a was retired for b, then b for a: only b is gone.
    assert registry.take_retired() == [("churn", "b")]

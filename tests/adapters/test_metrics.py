from __future__ import annotations

from prometheus_client import CollectorRegistry

from streams.adapters.prometheus.metrics import IngestMetrics
from streams.core import EventDecoder, Ingestor, SpecRegistry
from streams.core.drift.model_monitor import MonitorConfig
from streams.core.drift.monitor import Monitor
from streams.simulation import StreamConfig, generate_events, raw_records
from tests.core.conftest import event_dict, record


def _monitored(**caps: float) -> tuple[SpecRegistry, Ingestor, Monitor]:
    """The core as these tests feed it: windows of 500 events after a reference of 1,000."""
    specs = SpecRegistry(warmup_events=100, **caps)
    config = MonitorConfig(window_events=500, reference_events=1000)
    return specs, Ingestor(EventDecoder(), specs), Monitor(specs, config)


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


def test_window_statistics_and_anomalies_are_exported_under_a_label_cap():
    from streams.core.drift.model_monitor import MonitorConfig
    from streams.core.drift.monitor import Monitor
    from streams.simulation import Scenario, StreamConfig, generate_events, raw_records

    registry = CollectorRegistry()
    metrics = IngestMetrics(registry, max_statistic_series=10)
    specs = SpecRegistry(warmup_events=100)
    ingestor = Ingestor(EventDecoder(), specs)
    monitor = Monitor(specs, MonitorConfig(window_events=500, reference_events=1000))
    burst = Scenario(kind="anomaly_burst", start=1_600, duration=100, magnitude=8.0)
    stream = StreamConfig(model_id="m", seed=4, scenarios=(burst,))
    for chunk in generate_events(stream, 2_000):
        result = ingestor.ingest(raw_records(stream, chunk))
        outcome = monitor.process(result.accepted, result.positions)
        metrics.observe_monitors(monitor, outcome)

    exported = [
        s
        for metric in registry.collect()
        if metric.name in ("driftline_window_statistic", "driftline_performance")
        for s in metric.samples
    ]
    assert len(exported) == 10, "the cap holds, over the statistics and the estimates"
    estimated = {s.labels["metric"] for s in exported if s.name == "driftline_performance"}
    assert estimated == {"count", "precision", "recall", "f1", "accuracy"}
    assert registry.get_sample_value("driftline_metric_series_dropped_total") > 0
    assert registry.get_sample_value("driftline_anomalous_events_total", {"model": "m"}) >= 100


def test_accepted_events_no_monitor_judged_are_counted_unwatched_by_reason():
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    specs = SpecRegistry(warmup_events=10)
    ingestor, monitor = Ingestor(EventDecoder(), specs), Monitor(specs, MonitorConfig())
    result = ingestor.ingest([record(event_dict(event_id=str(n))) for n in range(3)])
    outcome = monitor.process(result.accepted, result.positions)
    metrics.observe_batch(result, seconds=0.01)
    metrics.observe_unwatched(outcome)

    def value(name, **labels):
        return registry.get_sample_value(name, labels)

    assert value("driftline_events_processed_total", model="churn") == 3
    assert value("driftline_events_unwatched_total", model="churn", reason="warmup") == 3


def test_an_expired_warm_ups_series_are_removed_and_its_counts_kept_as_forgotten():
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    specs = SpecRegistry(warmup_events=10)
    ingestor, monitor = Ingestor(EventDecoder(), specs), Monitor(specs, MonitorConfig())
    batch = [record(event_dict()), record(event_dict(score="x"))]
    result = ingestor.ingest(batch)
    outcome = monitor.process(result.accepted, result.positions)
    metrics.observe_batch(result, seconds=0.01)
    metrics.observe_unwatched(outcome)
    assert registry.get_sample_value("driftline_events_processed_total", {"model": "churn"}) == 1

    metrics.forget_models(specs.advance(10_000.0))
    names = {
        (sample.name, sample.labels.get("model"))
        for family in registry.collect()
        for sample in family.samples
    }
    assert not any(model == "churn" for _, model in names)
    # Every record read still shows in the counters' sums: the accepted one (unwatched, in
    # a warm-up) now under the model label "_forgotten"; the rejected one, of a model not
    # known then, was always under "_unknown".
    forgotten = {"model": "_forgotten"}
    assert registry.get_sample_value("driftline_events_processed_total", forgotten) == 1
    unwatched = {**forgotten, "reason": "warmup"}
    assert registry.get_sample_value("driftline_events_unwatched_total", unwatched) == 1
    rejected = {"model": "_unknown", "reason": "wrong_type"}
    assert registry.get_sample_value("driftline_events_rejected_total", rejected) == 1

    # A second forgotten model adds to the same series.
    second = ingestor.ingest([record(event_dict(model_id="other"))])
    metrics.observe_batch(second, seconds=0.01)
    metrics.forget_models(specs.advance(20_000.0))
    assert registry.get_sample_value("driftline_events_processed_total", forgotten) == 2


def test_each_version_reports_its_reference_and_the_windows_it_closed():
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    _, ingestor, monitor = _monitored()
    stream = StreamConfig(model_id="m", seed=4)
    seen = []
    (whole,) = generate_events(stream, 2_600)
    for start in range(0, 2_600, 100):
        result = ingestor.ingest(raw_records(stream, whole[start : start + 100]))
        outcome = monitor.process(result.accepted, result.positions)
        metrics.observe_monitors(monitor, outcome)
        labels = {"model": "m", "version": stream.model_version}
        seen.append(
            (
                registry.get_sample_value("driftline_monitor_reference_ready", labels),
                registry.get_sample_value("driftline_monitor_windows_closed", labels),
            )
        )
    # 100 events of spec warm-up, 1,000 of reference, then 1,500 events: 3 windows of 500.
    assert seen[5] == (0.0, 0.0), "still learning its reference"
    assert seen[-1] == (1.0, 3.0)


def _redeploy(metrics: IngestMetrics, versions: list[str]) -> None:
    """Each version of model "m" in turn, 2,000 events each: one watched version per model,
    so each deployment retires the last (as the worker's batches do, after the monitors)."""
    specs, ingestor, monitor = _monitored(max_versions_per_model=1, version_idle_s=0)
    for seed, version in enumerate(versions):
        stream = StreamConfig(model_id="m", model_version=version, seed=seed)
        for chunk in generate_events(stream, 2_000):
            result = ingestor.ingest(raw_records(stream, chunk))
            outcome = monitor.process(result.accepted, result.positions)
            retired = specs.take_retired()
            monitor.retire(retired)
            metrics.forget_versions(retired)
            metrics.observe_monitors(monitor, outcome)


def _versions_exported(registry: CollectorRegistry) -> dict[str, set[str]]:
    per_version = ("driftline_window_statistic", "driftline_window_threshold",
                   "driftline_monitor_reference_ready", "driftline_monitor_windows_closed",
                   "driftline_performance")  # fmt: skip
    return {
        family.name: {s.labels["version"] for s in family.samples}
        for family in registry.collect()
        if family.name in per_version
    }


def test_a_retired_versions_series_leave_and_give_their_room_under_the_cap_back():
    first = CollectorRegistry()
    _redeploy(IngestMetrics(first, max_statistic_series=1_000_000), ["v1"])
    one_version = sum(
        len(family.samples)
        for family in first.collect()
        if family.name in ("driftline_window_statistic", "driftline_performance")
    )
    assert one_version > 50, "the first deployment closed windows"

    registry = CollectorRegistry()
    # Room for one version and a half: the cap bounds the live versions' series.
    metrics = IngestMetrics(registry, max_statistic_series=one_version * 3 // 2)
    _redeploy(metrics, ["v1", "v2", "v3", "v4"])
    assert _versions_exported(registry) == {name: {"v4"} for name in _versions_exported(first)}, (
        "only the live version's series"
    )
    assert registry.get_sample_value("driftline_metric_series_dropped_total") == 0


def test_a_forgotten_models_version_series_leave_with_it():
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    _redeploy(metrics, ["v1"])
    assert _versions_exported(registry)["driftline_window_statistic"] == {"v1"}
    metrics.forget_models(["m"])
    assert not any(_versions_exported(registry).values())


def test_after_a_rebalance_the_versions_another_worker_took_leave_once_the_grace_is_over():
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    _, ingestor, monitor = _monitored()
    kept, moved = StreamConfig(model_id="kept", seed=1), StreamConfig(model_id="moved", seed=2)

    def feed(stream: StreamConfig, events: int) -> None:
        for chunk in generate_events(stream, events):
            result = ingestor.ingest(raw_records(stream, chunk))
            metrics.observe_monitors(monitor, monitor.process(result.accepted, result.positions))

    def models() -> dict[str, set[str]]:
        return {
            family.name: {s.labels["model"] for s in family.samples}
            for family in registry.collect()
            if family.name.startswith(("driftline_window_", "driftline_monitor_"))
        }

    feed(kept, 2_000)
    feed(moved, 2_000)
    both = models()
    assert both["driftline_window_statistic"] == {"kept", "moved"}
    metrics.rebalanced(now=100.0)
    monitor.forget()  # as the worker's rebalance hooks do
    feed(kept, 200)  # "moved" now goes to another worker: none of its events come here
    metrics.drop_moved_versions(now=159.0)
    assert models() == both, "within the grace period nothing leaves"
    metrics.drop_moved_versions(now=160.0)
    assert models() == {name: {"kept"} for name in both}
    feed(moved, 200)  # back after another rebalance: exported again
    assert models()["driftline_monitor_reference_ready"] == {"kept", "moved"}

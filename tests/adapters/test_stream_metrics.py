from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from streams.adapters.prometheus.batch_histogram import BatchHistogram
from streams.adapters.prometheus.metrics import IngestMetrics
from streams.adapters.prometheus.stream_metrics import add_process_collectors
from streams.core import EventDecoder, Ingestor, SpecRegistry
from streams.core.contract.spec import ModelSpec
from streams.core.contract.spec_inference import SpecInference
from streams.core.drift.model_monitor import MonitorConfig
from streams.core.drift.monitor import Monitor
from streams.simulation import Scenario, StreamConfig, generate_events, raw_records


def _samples(registry: CollectorRegistry, name: str) -> list:
    return [s for family in registry.collect() for s in family.samples if s.name == name]


def test_a_batch_histogram_exports_what_prometheus_clients_histogram_would():
    buckets = (0.5, 1.0, 2.0, 5.0)
    values = np.random.default_rng(3).exponential(1.5, 500)
    values[::50] = 1.0  # on a bound: le means "at most"
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    batch = BatchHistogram("age_seconds", "Age.", ["model"], buckets=buckets)
    ours.register(batch)
    batch.observe(("m",), values[:200])
    batch.observe(("m",), values[200:])
    reference = Histogram("age_seconds", "Age.", ["model"], buckets=buckets, registry=theirs)
    for value in values:
        reference.labels("m").observe(value)

    def exported(registry):
        return {(s.name, s.labels.get("le")): s.value for s in _samples_all(registry)}

    got, want = exported(ours), exported(theirs)
    assert got.keys() == {k for k in want if not k[0].endswith("_created")}
    for key, value in got.items():
        assert value == pytest.approx(want[key]), key


def _samples_all(registry):
    return [s for family in registry.collect() for s in family.samples]


def test_a_batch_histogram_refuses_bad_buckets_and_forgets_label_sets():
    with pytest.raises(ValueError):
        BatchHistogram("x", "X.", [], buckets=(2.0, 1.0))
    histogram = BatchHistogram("x", "X.", ["model"], buckets=(1.0,))
    histogram.observe(("a",), np.array([0.5]))
    histogram.observe(("b",), np.array([np.nan]))  # nothing but NaN: no series
    assert histogram.series() == 1
    histogram.remove_where(lambda labels: labels[0] == "a")
    assert histogram.series() == 0


def _run(stream: StreamConfig, events: int, metrics: IngestMetrics, *, now: float) -> Monitor:
    specs = SpecRegistry(warmup_events=100)
    monitor = Monitor(specs, MonitorConfig(window_events=500, reference_events=1000))
    _feed(stream, events, metrics, monitor, offset=0, now=now)
    return monitor


def _feed(
    stream: StreamConfig,
    events: int,
    metrics: IngestMetrics,
    monitor: Monitor,
    *,
    offset: int,
    now: float = 0.0,
) -> None:
    """``events`` of ``stream`` from ``offset`` on, through the core and the metrics."""
    ingestor = Ingestor(EventDecoder(), monitor.registry)
    for chunk in generate_events(stream, events, offset=offset):
        result = ingestor.ingest(raw_records(stream, chunk))
        outcome = monitor.process(result.accepted, result.positions)
        metrics.observe_alerts(list(outcome.alerts), now)
        metrics.observe_events(result.accepted, outcome.columns, monitor, now)


def test_event_age_latency_score_and_alert_latency_are_observed_per_batch():
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    drift = Scenario(kind="abrupt", feature="x0", start=2_000, magnitude=3.0)
    stream = StreamConfig(model_id="m", seed=5, scenarios=(drift,))
    # The simulation stamps events from its own start time; "now" is an hour after the last.
    decode = Ingestor(EventDecoder(), SpecRegistry(warmup_events=100)).ingest
    stamps = [
        e.timestamp_ms
        for chunk in generate_events(stream, 4_000)
        for e in decode(raw_records(stream, chunk)).accepted
    ]
    last_ms = max(stamps)
    now = last_ms / 1000 + 3600
    _run(stream, 4_000, metrics, now=now)

    def value(name, **labels):
        return registry.get_sample_value(name, labels)

    assert value("driftline_event_age_seconds_count", model="m") == 4_000
    # Every event is at least an hour old: none within 60 s, all within a day.
    assert value("driftline_event_age_seconds_bucket", model="m", le="60.0") == 0
    assert value("driftline_event_age_seconds_bucket", model="m", le="86400.0") == 4_000
    versions = {s.labels["version"] for s in _samples(registry, "driftline_model_score_count")}
    assert versions and all(
        value("driftline_model_score_count", model="m", version=v) > 0 for v in versions
    )
    latency = sum(s.value for s in _samples(registry, "driftline_model_latency_ms_count"))
    assert latency > 0
    alerts = sum(s.value for s in _samples(registry, "driftline_alert_latency_seconds_count"))
    assert alerts >= 1, "the drift of x0 raised an alert, and its latency was observed"
    # An hour after the newest event: every alert's trigger is at least that late.
    assert sum(s.value for s in _samples(registry, "driftline_alert_latency_seconds_sum")) >= (
        3600 * alerts
    )


def test_window_summaries_put_a_drifted_features_window_beside_its_reference():
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    drift = Scenario(kind="abrupt", feature="x0", start=2_000, magnitude=3.0)
    stream = StreamConfig(model_id="m", seed=5, scenarios=(drift,))
    _run(stream, 4_000, metrics, now=0.0)

    stats = {
        (s.labels["feature"], s.labels["stat"], s.labels["source"]): s.value
        for s in _samples(registry, "driftline_feature_stat")
    }
    for stat in ("mean", "p50", "p95"):
        shift = stats["x0", stat, "window"] - stats["x0", stat, "reference"]
        steady = abs(stats["x1", stat, "window"] - stats["x1", stat, "reference"])
        assert shift > 5 * max(steady, 0.05), stat
    assert 0 <= stats["x0", "missing_rate", "window"] <= 1
    categorical = [f for f, stat, _ in stats if stat == "top_share"]
    assert categorical, "categorical features export the reference's top category's share"
    for feature in categorical:
        window, reference = (
            stats[feature, "top_share", "window"],
            stats[feature, "top_share", "reference"],
        )
        assert abs(window - reference) < 0.15, feature


def test_window_summaries_are_the_last_windows_values_as_numpy_gives_them():
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    stream = StreamConfig(model_id="m", seed=7, base_missing_rate=0.1)
    specs = SpecRegistry(warmup_events=100)
    ingestor = Ingestor(EventDecoder(), specs)
    monitor = Monitor(specs, MonitorConfig(window_events=500, reference_events=1000))
    accepted = []
    # Batches of 300 and 1,100 (more than a window: the ring keeps the last 500): the
    # monitor cuts them at its reference's and windows' ends, and the summary stitches
    # the chunks it read back together.
    for count in (300, 1_100, 300, 1_100):
        for chunk in generate_events(stream, count, offset=len(accepted) + 100):
            result = ingestor.ingest(raw_records(stream, chunk))
            outcome = monitor.process(result.accepted, result.positions)
            metrics.observe_events(result.accepted, outcome.columns, monitor, 0.0)
            accepted += result.accepted
    last = accepted[-500:]
    stats = {
        (s.labels["feature"], s.labels["stat"]): s.value
        for s in _samples(registry, "driftline_feature_stat")
        if s.labels["source"] == "window"
    }
    for name in ("x0", "x3"):
        values = np.array([np.nan if e.features[name] is None else e.features[name] for e in last])
        present = values[~np.isnan(values)]
        assert stats[name, "missing_rate"] == np.isnan(values).mean() > 0
        assert stats[name, "mean"] == pytest.approx(present.mean(), rel=1e-12)
        assert stats[name, "p50"] == pytest.approx(np.quantile(present, 0.5), rel=1e-12)
        assert stats[name, "p95"] == pytest.approx(np.quantile(present, 0.95), rel=1e-12)
    profile = next(iter(monitor.monitors.values())).profile
    categorical = [name for name in profile.categorical if name in last[0].features]
    assert categorical
    for name in categorical:
        shares = profile.categorical[name]
        values = [e.features[name] for e in last]
        present = [v for v in values if v is not None]
        top = shares.categories[0]
        assert stats[name, "top_share"] == pytest.approx(present.count(top) / len(present))
        assert stats[name, "missing_rate"] == pytest.approx(values.count(None) / len(values))


def test_window_summaries_stay_under_the_series_cap_and_count_what_they_drop():
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry, max_statistic_series=20)
    _run(StreamConfig(model_id="m", seed=2), 2_000, metrics, now=0.0)
    assert len(_samples(registry, "driftline_feature_stat")) == 0
    assert registry.get_sample_value("driftline_metric_series_dropped_total") > 20


def test_a_forgotten_models_and_a_retired_versions_histograms_are_removed():
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    _run(StreamConfig(model_id="m", seed=2), 300, metrics, now=0.0)
    assert _samples(registry, "driftline_event_age_seconds_count")
    versions = {s.labels["version"] for s in _samples(registry, "driftline_model_score_count")}
    metrics.stream.forget_versions([("m", v) for v in versions])
    assert not _samples(registry, "driftline_model_score_count")
    assert _samples(registry, "driftline_event_age_seconds_count"), "per model, not version"
    metrics.forget_models(["m"])
    assert not _samples(registry, "driftline_event_age_seconds_count")
    assert not _samples(registry, "driftline_model_score_count")


def test_health_checks_and_process_metrics_are_exported():
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    add_process_collectors(registry)
    metrics.stream.observe_health({"kafka": {"ok": True}, "redis": {"ok": False}})
    assert registry.get_sample_value("driftline_health_check_up", {"check": "kafka"}) == 1
    assert registry.get_sample_value("driftline_health_check_up", {"check": "redis"}) == 0
    text = generate_latest(registry).decode()
    assert "python_info{" in text
    assert "process_cpu_seconds_total" in text


def test_fairness_windows_export_group_rates_and_the_worst_groups_ratio():
    from streams.core.labels.fairness import FairnessPolicy, FairnessWindow

    rng = np.random.default_rng(5)
    group = rng.choice(["a", "b"], 4000)
    truth = rng.random(4000) < 0.4
    predicted = rng.random(4000) < np.where(group == "a", 0.6, 0.3)
    window = FairnessWindow(FairnessPolicy("region", "a"), window_events=2000)
    window.add(group.tolist(), predicted, truth)
    registry = CollectorRegistry()
    IngestMetrics(registry).versions.observe_fairness("m", "v1", {"region": window})

    def value(group, metric):
        labels = {"model": "m", "version": "v1", "attribute": "region", "group": group}
        return registry.get_sample_value("driftline_fairness", {**labels, "metric": metric})

    ratio = value("b", "disparate_impact_ratio")
    assert ratio == pytest.approx(value("b", "selection_rate") / value("a", "selection_rate"))
    assert ratio < 0.8
    assert value("a", "selection_rate") == pytest.approx(0.6, abs=0.05)


def test_window_summaries_outlive_a_reload_of_the_same_reference_and_leave_with_the_version():
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    stream = StreamConfig(model_id="m", seed=2)
    monitor = _run(stream, 2_000, metrics, now=0.0)
    key = (stream.model_id, stream.model_version)
    watched = monitor.monitors[key]
    stored = {"snapshot": watched.snapshot(), "profile": watched.profile.to_dict()}
    window = metrics.windows._windows[key]
    assert window.filled == 500, "a full window (MonitorConfig.window_events)"

    # A rebalance: the monitor comes back from storage, the same reference in a new object.
    monitor.forget()
    monitor.restore_stored(key, **stored, reference=[])
    _feed(stream, 100, metrics, monitor, offset=2_000)
    assert metrics.windows._windows[key] is window and window.filled == 500
    # State lost: the reference is learned anew, so the window starts again with it.
    monitor.forget()
    _feed(stream, 1_300, metrics, monitor, offset=2_100)
    renewed = metrics.windows._windows[key]
    assert renewed is not window and renewed.profile is monitor.monitors[key].profile

    metrics.forget_versions([key])  # retired, or another worker holds it now
    assert not _samples(registry, "driftline_feature_stat")


def _inferred(stream: StreamConfig) -> ModelSpec:
    inference = SpecInference(stream.model_id, events_needed=200)
    decode = Ingestor(EventDecoder(), SpecRegistry(warmup_events=200)).ingest
    for chunk in generate_events(stream, 200):
        for event in decode(raw_records(stream, chunk)).accepted:
            inference.observe(event)
    return inference.spec()


def test_each_versions_latency_objective_comes_from_its_spec_else_the_default():
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry, latency_objective_ms=12.0)
    tight, loose = StreamConfig(model_id="tight", seed=3), StreamConfig(model_id="loose", seed=4)
    specs = SpecRegistry(warmup_events=100)
    specs.register(replace(_inferred(tight), latency_objective_ms=5.0))
    ingestor = Ingestor(EventDecoder(), specs)
    monitor = Monitor(specs, MonitorConfig(window_events=500, reference_events=1000))
    want = {}
    for stream, objective in ((tight, 5.0), (loose, 12.0)):  # loose: warm-up, then inferred
        over = 0
        for chunk in generate_events(stream, 1_500):
            result = ingestor.ingest(raw_records(stream, chunk))
            outcome = monitor.process(result.accepted, result.positions)
            metrics.observe_events(result.accepted, outcome.columns, monitor, 0.0)
            over += int(np.count_nonzero(chunk.latency_ms > objective))
        assert 0 < over < 1_500
        want[stream.model_id] = (objective, over)
    for model, (objective, over) in want.items():
        labels = {"model": model, "version": tight.model_version}
        got = registry.get_sample_value("driftline_model_latency_objective_ms", labels)
        assert got == objective
        got = registry.get_sample_value("driftline_model_latency_over_objective_total", labels)
        assert got == over, "exact: every event over its own objective, none other"
    metrics.stream.forget_versions([("tight", tight.model_version)])
    metrics.forget_models(["loose"])
    assert not _samples(registry, "driftline_model_latency_objective_ms")
    assert not _samples(registry, "driftline_model_latency_over_objective_total")


def test_window_statistics_are_numpys_mean_and_quantiles_of_each_columns_present_values():
    from streams.adapters.prometheus.window_summary import _Window

    rng = np.random.default_rng(8)
    window = _Window(("a", "b", "c", "d"), {"e": "top"}, [], size=300)
    window.ring[:] = rng.normal(size=(300, 5))
    window.ring[rng.random((300, 5)) < 0.2] = np.nan
    window.ring[:, 2] = np.nan  # nothing present
    window.ring[:, 3] = np.nan
    window.ring[7, 3] = 4.5  # one value
    window.ring[:, 4] = (rng.random(300) < 0.3).astype(float)
    window.filled = 250
    got = {(name, stat): value for name, stat, value in window.stats()}
    data = window.ring[:250]
    for j, name in enumerate("abcde"):
        column = data[:, j]
        present = column[~np.isnan(column)]
        assert got[name, "missing_rate"] == pytest.approx(np.isnan(column).mean())
        if present.size == 0:
            assert {stat for n, stat in got if n == name} == {"missing_rate"}
        elif name == "e":
            assert got[name, "top_share"] == pytest.approx(present.mean())
        else:
            assert got[name, "mean"] == pytest.approx(present.mean(), rel=1e-12)
            for stat, q in (("p50", 0.5), ("p95", 0.95)):
                assert got[name, stat] == pytest.approx(np.quantile(present, q), rel=1e-12)
    assert got["d", "p95"] == 4.5

"""Each benchmark's check fails when its work did not happen: broken on purpose here.

A regression that dead-letters everything, or a workload too small for any reference, must
make the harness fail loudly instead of printing a fast rate and zero false alarms.
"""

from __future__ import annotations

import pytest

from loadtest import bench_false_alarms, quality
from loadtest.latency import drift_alerts, stage_split
from loadtest.work_done import (
    Observed,
    Plan,
    WorkNotDone,
    from_metrics,
    from_monitor,
    require_alerts,
)
from streams.core import EventDecoder, Ingestor, SpecRegistry
from streams.core.drift.model_monitor import MonitorConfig
from streams.core.drift.monitor import Monitor
from streams.simulation import StreamConfig, generate_events, raw_records

PLAN = Plan({"a": 8_200, "b": 8_200})  # each: 200 warm-up, 5,000 reference, 3 windows


def test_work_as_planned_passes():
    Observed({"a": 8_200, "b": 8_200}, 0, {"a": True, "b": True}, {"a": 3, "b": 3}).check(
        PLAN, "ok"
    )


@pytest.mark.parametrize(
    ("observed", "reason"),
    [
        (Observed({}, 16_400, {}, {}), "16,400 events rejected"),
        (
            Observed({"a": 8_200, "b": 8_000}, 200, {"a": True, "b": True}, {"a": 3, "b": 3}),
            "b: 8,000 of 8,200 events accepted",
        ),
        (Observed({"a": 8_200, "b": 8_200}, 0, {"a": True}, {"a": 3}), "b: reference not built"),
        (
            Observed({"a": 8_200, "b": 8_200}, 0, {"a": True, "b": True}, {"a": 3, "b": 2}),
            "b: 2 windows closed, at least 3 due",
        ),
    ],
)
def test_each_shortfall_fails_and_is_named(observed: Observed, reason: str):
    with pytest.raises(WorkNotDone, match=reason):
        observed.check(PLAN, "broken")


def test_a_reference_learning_row_fails_if_a_reference_was_built():
    plan = Plan({"small": 4_000}, reference_only=True)
    Observed({"small": 4_000}, 0, {"small": False}, {}).check(plan, "ok")
    with pytest.raises(WorkNotDone, match="reference built"):
        Observed({"small": 4_000}, 0, {"small": True}, {}).check(plan, "broken")
    with pytest.raises(ValueError, match="reference_only"):
        Plan({"big": 5_200}, reference_only=True)


def test_the_old_fifty_model_row_would_have_failed():
    # 200,000 events over 50 models: 4,000 each, below the 5,000 a reference needs.
    plan = Plan({f"m{i}": 4_000 for i in range(50)})
    assert not any(plan.builds_reference(m) for m in plan.events_per_model)
    assert all(plan.min_windows(m) == 0 for m in plan.events_per_model)
    # As a row that claims detectors ran, its numbers are judged by what they prove:
    # nothing, and a harness reporting it must label it reference learning.
    assert Plan(plan.events_per_model, reference_only=True).events == 200_000


def test_worker_metrics_that_show_everything_rejected_fail():
    samples = {
        ("driftline_events_rejected_total", (("model", "a"), ("reason", "internal_error"))): 8_200,
        ("driftline_events_rejected_total", (("model", "b"), ("reason", "internal_error"))): 8_200,
        ("driftline_monitor_reference_ready", (("model", "a"), ("version", "v1"))): 0.0,
    }
    observed = from_metrics(samples)
    assert observed.rejected == 16_400 and observed.accepted == {}
    with pytest.raises(WorkNotDone, match="16,400 events rejected"):
        observed.check(PLAN, "worker")


def test_worker_metrics_of_good_work_pass():
    samples = {}
    for model in ("a", "b"):
        samples["driftline_events_processed_total", (("model", model),)] = 8_200
        samples["driftline_monitor_reference_ready", (("model", model), ("version", "v1"))] = 1
        samples["driftline_monitor_windows_closed", (("model", model), ("version", "v1"))] = 3
    from_metrics(samples).check(PLAN, "worker")


def test_the_false_alarm_benchmark_fails_when_everything_is_dead_lettered():
    rejecting = SpecRegistry(unknown_models="reject")  # no spec: every event dead-lettered
    with pytest.raises(WorkNotDone, match="rejected"):
        bench_false_alarms.monitor(StreamConfig(seed=1), 6_000, rejecting)


def test_monitors_that_never_built_their_reference_fail():
    # The 50-model row's fault in another shape: monitors still learning when timing ends.
    config = StreamConfig(seed=3)
    registry = SpecRegistry()
    ingestor = Ingestor(EventDecoder(), registry)
    monitor = Monitor(registry, MonitorConfig(reference_events=50_000))
    accepted = 0
    for chunk in generate_events(config, 8_200):
        result = ingestor.ingest(raw_records(config, chunk))
        monitor.process(result.accepted, result.positions)
        accepted += len(result.accepted)
    observed = from_monitor(monitor, {config.model_id: accepted}, 0)
    with pytest.raises(WorkNotDone, match=r"reference not built.*0 windows closed, at least 3"):
        observed.check(Plan({config.model_id: 8_200}), "in-process")


def test_the_quality_benchmark_fails_when_everything_is_dead_lettered():
    config = StreamConfig(seed=2)
    run = quality.DriftlineRun(config, SpecRegistry(unknown_models="reject"))
    for chunk in generate_events(config, 7_000):
        run.feed(chunk)
    assert run.detections == [], "zero false alarms: exactly what the check must not trust"
    with pytest.raises(WorkNotDone, match="7,000 events rejected"):
        run.check(7_000)


def test_the_latency_benchmark_counts_only_the_drift_alerts_it_caused():
    arrived = [
        (0.0, {"status": "firing", "feature": "x0"}),
        (0.0, {"status": "firing", "feature": "x1"}),
        (0.0, {"status": "firing", "feature": None}),  # model-level anomaly rate
        (0.0, {"status": "resolved", "feature": "x0"}),
        (0.0, {"status": "firing", "feature": "x9"}),  # not shifted with drifts=2
    ]
    assert drift_alerts(arrived, drifts=2) == 2
    require_alerts(500, 500, "latency")
    with pytest.raises(WorkNotDone, match="15 alerts, at least 500 expected"):
        require_alerts(15, 500, "latency")


def test_the_latency_split_takes_each_trigger_found_in_both_records():
    created = {(0, 1): 300, (0, 2): 500, (1, 9): 900}  # (1, 9): no copy read, left out
    copies = {(0, 1): (100, 150), (0, 2): (200, 210), (0, 3): (0, 1)}
    split = stage_split(created, copies)
    assert split["routing_ms"][0] == 30.0 and split["monitor_ms"][0] == 220.0
    assert split["routing_ms"][1] <= 50 and split["monitor_ms"][1] <= 290
    assert stage_split(created, {}) == {}

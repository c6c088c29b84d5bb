"""Per-segment drift checks: drift in one region of ten is caught in that region's segment
and not globally, state restores mid-stream, PII segment values are hashed."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from loadtest.segment_stream import segment_events, segment_spec
from streams.core import SpecRegistry
from streams.core.alerts.alert import Segment
from streams.core.contract.pii import PiiPolicy
from streams.core.drift.model_monitor import ModelMonitor, MonitorConfig
from streams.core.drift.monitor import Monitor
from streams.core.segments.segmented_model_monitor import SegmentedModelMonitor

SCHEMAS = Path(__file__).parents[2] / "schemas"
ALERT_SCHEMA = Draft202012Validator(json.loads((SCHEMAS / "alert.json").read_text()))
CONFIG = MonitorConfig(window_events=500, reference_events=1000)
# Global reference 1,000 + settling 1,000 + r0's reference 1,000 / 5%, then r0 drifts.
DRIFT_AT = 26_000
EVENTS = 38_000
KEY = b"k" * 16


def run(spec, *, pii=None, break_at=None):
    """Alerts of the stream; with ``break_at``, the monitor is snapshotted (through JSON)
    and restored there, as a worker restart would."""
    monitor = SegmentedModelMonitor(spec, "v1", CONFIG, pii=pii)
    alerts, offset = [], 0
    for events in segment_events(EVENTS, drift_at=DRIFT_AT, chunk=2000):
        if offset == break_at:
            stored = json.loads(json.dumps(monitor.snapshot()))
            profile = monitor.take_new_profile() or monitor.profile.to_dict()
            monitor = SegmentedModelMonitor.restore(
                stored, spec, "v1", CONFIG, profile=profile, reference=[], pii=pii
            )
        positions = [(0, offset + i) for i in range(len(events))]
        offset += len(events)
        alerts += monitor.process(events, positions).alerts
    return alerts, monitor


@pytest.fixture(scope="module")
def plain():
    return run(segment_spec())


def test_drift_in_one_region_is_caught_in_its_segment_and_not_globally(plain):
    alerts, monitor = plain
    assert [(a.feature, a.status, a.segment) for a in alerts] == [
        ("x1", "firing", Segment("region", "r0"))
    ]
    alert = alerts[0]
    assert DRIFT_AT < alert.trigger.offset <= DRIFT_AT + 12_000  # r0: 5% of the traffic
    assert alert.message.startswith("region=r0: x1:")
    assert monitor.segments.settled == {"region": frozenset(f"r{i}" for i in range(10))}
    ALERT_SCHEMA.validate(alert.to_dict())
    assert alert.to_dict()["segment"] == {"attribute": "region", "value": "r0"}


def test_a_segment_judges_by_a_raised_threshold(plain):
    alert = plain[0][0]
    default = CONFIG.detectors[alert.detector].threshold
    assert alert.threshold > default  # 1 / 21 of the budget per segment


def test_restored_mid_stream_with_a_pii_attribute_it_goes_on_alike_and_hashes(plain):
    policy = PiiPolicy(key=KEY)
    alerts, monitor = run(segment_spec(pii=True), pii=policy, break_at=16_000)
    hashed = policy.redact("r0")
    assert [(a.feature, a.status, a.trigger, a.value) for a in alerts] == [
        (a.feature, a.status, a.trigger, a.value) for a in plain[0]
    ]
    assert alerts[0].segment == Segment("region", hashed)
    assert "r0" not in alerts[0].message
    state = json.dumps(monitor.snapshot())
    assert hashed in state
    assert '"r0"' not in state and '"r1"' not in state


def test_only_a_spec_with_segments_gets_them_watched_and_stored():
    registry = SpecRegistry()
    registry.register(segment_spec())
    registry.register(dataclasses.replace(segment_spec("flat"), segments=()))
    monitor = Monitor(registry, CONFIG)
    for model_id in ("regional", "flat"):
        for events in segment_events(3000, model_id=model_id, chunk=3000):
            monitor.process(events, [(0, i) for i in range(len(events))])
    segmented, flat = monitor.monitors["regional", "v1"], monitor.monitors["flat", "v1"]
    assert type(segmented) is SegmentedModelMonitor and type(flat) is ModelMonitor
    assert "segments" in segmented.snapshot() and "segments" not in flat.snapshot()


def test_other_pools_the_values_beyond_top_k():
    spec = segment_spec(top_k=3)
    monitor = SegmentedModelMonitor(spec, "v1", CONFIG)
    offset = 0
    for events in segment_events(5000, chunk=1000):
        monitor.process(events, [(0, offset + i) for i in range(len(events))])
        offset += len(events)
    assert monitor.segments.settled == {"region": frozenset({"r1", "r2", "r3"})}
    counts = {key: ref.count for key, ref in monitor.segments._references.items()}
    assert set(counts) == {("region", v) for v in ("r1", "r2", "r3", None)}
    assert counts["region", None] == 1000  # r0 and r4-r9, half the traffic: full first


def test_a_change_of_the_specs_segments_starts_them_afresh_and_keeps_the_rest():
    spec = segment_spec()
    monitor = SegmentedModelMonitor(spec, "v1", CONFIG)
    offset = 0
    for events in segment_events(4000, chunk=1000):
        monitor.process(events, [(0, offset + i) for i in range(len(events))])
        offset += len(events)
    stored = json.loads(json.dumps(monitor.snapshot()))
    profile = monitor.profile.to_dict()
    changed = dataclasses.replace(spec, segments_top_k=3)
    again = SegmentedModelMonitor.restore(
        stored, changed, "v1", CONFIG, profile=profile, reference=[]
    )
    assert again.segments.settled is None and again.windows_closed == monitor.windows_closed
    same = SegmentedModelMonitor.restore(stored, spec, "v1", CONFIG, profile=profile, reference=[])
    assert same.segments.snapshot() == monitor.segments.snapshot()

"""Performance checks per segment: a region whose labels go bad is named by a performance
alert of its own, no other region is; a stationary stream raises no segment alert; the
state goes through a snapshot and back mid-stream without changing a single alert."""

from __future__ import annotations

import json

import numpy as np

from streams.core import SpecRegistry
from streams.core.contract.pii import PiiPolicy
from streams.core.contract.spec import FeatureSpec, ModelSpec
from streams.core.labels.labelled import LabelledPrediction
from streams.core.labels.performance_monitor import PerformanceConfig
from streams.core.labels.performance_monitors import PerformanceMonitors
from streams.core.labels.segment_performance import SegmentedPerformanceMonitor

REGIONS = ("north", "south", "east", "west", "centre")
CONFIG = PerformanceConfig(reference_labels=1_000)
SPEC = ModelSpec("m", {"x": FeatureSpec("number")}, segments=("region",), segments_top_k=5)


def regional(n: int, *, seed: int, flip_from: int | None = None, region: str = "east"):
    """Calibrated scores over five regions; from ``flip_from`` on, 40% of ``region``'s
    labels are flipped."""
    rng = np.random.default_rng(seed)
    scores, where = rng.random(n), rng.integers(0, len(REGIONS), n)
    labels = rng.random(n) < scores
    if flip_from is not None:
        bad = (np.arange(n) >= flip_from) & (where == REGIONS.index(region))
        labels ^= bad & (rng.random(n) < 0.4)
    return [
        (LabelledPrediction("m", "v1", f"e{i}", bool(s >= 0.5), bool(y), float(s),
                            {"region": REGIONS[r]}, 1_000 * i, 1_000 * i + 500), (0, i))
        for i, (s, y, r) in enumerate(zip(scores, labels, where, strict=True))
    ]  # fmt: skip


def run(pairs, monitors: PerformanceMonitors, batch: int = 400):
    alerts = []
    for lo in range(0, len(pairs), batch):
        alerts += monitors.process(pairs[lo : lo + batch]).alerts
    return alerts


def fresh() -> PerformanceMonitors:
    return PerformanceMonitors(SpecRegistry([SPEC]), CONFIG)


def test_a_stationary_labelled_stream_raises_no_segment_alert():
    monitors = fresh()
    alerts = run(regional(40_000, seed=11), monitors)
    monitor = monitors.monitors[("m", "v1")]
    assert isinstance(monitor, SegmentedPerformanceMonitor)
    assert set(monitor.segments.monitors) == {("region", r) for r in REGIONS}
    assert all(m.reference is not None for m in monitor.segments.monitors.values())
    # Each segment's CUSUMs are held to its share of the budget: a higher h than the same
    # reference would get with the whole budget.
    for segment in monitor.segments.monitors.values():
        assert set(segment.cusums) == {"auc_cusum", "calibration_cusum"}
        for cusum in segment.cusums.values():
            whole = type(cusum)(cusum.reference, monitor.budget)
            assert cusum.threshold(look=0) > whole.threshold(look=0)
    assert [a for a in alerts if a.segment is not None] == []


def test_flipped_labels_of_one_region_are_named_by_its_segment_alone():
    alerts = run(regional(30_000, seed=12, flip_from=15_000), fresh())
    segmented = [a for a in alerts if a.segment is not None]
    named = {(a.segment.attribute, a.segment.value) for a in segmented}
    assert named == {("region", "east")}
    firing = [a for a in segmented if a.status == "firing" and a.type == "performance"]
    assert firing and firing[0].trigger.offset > 15_000
    assert firing[0].message.startswith("region=east: ")


def test_the_budget_is_split_over_the_segments():
    segments = SegmentedPerformanceMonitor(SPEC, "v1", CONFIG).segments
    assert segments.parts == 6
    assert segments.config.alpha == CONFIG.alpha / 6
    whole, part = CONFIG.budget("classification"), segments.config.budget("classification")
    assert part.z(0) > whole.z(0)


def test_a_restored_state_goes_on_with_the_same_alerts():
    pairs = regional(24_000, seed=12, flip_from=12_000)
    expected = run(pairs, fresh())
    first = fresh()
    before = run(pairs[:14_000], first)
    stored = json.loads(json.dumps(first.monitors[("m", "v1")].snapshot()))
    second = fresh()
    second.restore_stored(("m", "v1"), stored)
    after = run(pairs[14_000:], second)
    assert [a.to_dict() for a in before + after] == [a.to_dict() for a in expected]
    assert any(a.segment is not None for a in expected)


def test_many_values_keep_top_k_monitors_and_pool_the_rest_as_other():
    spec = ModelSpec("m", {"x": FeatureSpec("number")}, segments=("region",), segments_top_k=2)
    rng = np.random.default_rng(3)
    where = np.where(rng.random(8_000) < 0.5, rng.integers(0, 2, 8_000),
                     rng.integers(2, 500, 8_000))  # fmt: skip
    pairs = [
        (LabelledPrediction("m", "v1", f"e{i}", True, True, 0.9, {"region": f"v{r}"}, i, i), (0, i))
        for i, r in enumerate(where.tolist())
    ]
    monitors = PerformanceMonitors(SpecRegistry([spec]), CONFIG)
    run(pairs, monitors)
    segments = monitors.monitors[("m", "v1")].segments
    assert segments.settled == {"region": frozenset({"v0", "v1"})}
    assert set(segments.monitors) == {("region", "v0"), ("region", "v1"), ("region", None)}


def test_a_pii_attribute_is_segmented_when_hashed_and_not_when_dropped():
    raw = {"model_id": "m", "features": {"x": {"type": "number"}}, "segments": ["region"],
           "attributes": {"region": {"pii": True}}}  # fmt: skip
    registry = SpecRegistry([ModelSpec.from_dict(raw)])
    dropped = PerformanceMonitors(registry, CONFIG, pii=PiiPolicy(mode="drop"))
    hashed = PerformanceMonitors(registry, CONFIG, pii=PiiPolicy(key=b"k" * 16))
    pairs = regional(3_000, seed=4)
    run(pairs, dropped)
    run(pairs, hashed)
    assert not isinstance(dropped.monitors[("m", "v1")], SegmentedPerformanceMonitor)
    assert isinstance(hashed.monitors[("m", "v1")], SegmentedPerformanceMonitor)

"""The calibration CUSUM: its reference's bins against a brute-force count, its threshold
against the alarms it allows, quiet on a stationary stream and quick on a fall (with the
placement CUSUM), and state stored before it."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from streams.core.errors import InvalidState
from streams.core.labels.alert_budget import AlertBudget
from streams.core.labels.auc_cusum import AucCusum
from streams.core.labels.calibration import MIN_BIN, CalibrationReference
from streams.core.labels.calibration_cusum import CalibrationCusum
from streams.core.labels.label_reference import LabelReference
from streams.core.labels.performance_monitor import PerformanceConfig, PerformanceMonitor
from streams.core.labels.placements import PlacementReference
from tests.core.test_auc_cusum import scored_pairs
from tests.core.test_performance_budget import SPEC, feed, weak_model

BUDGET = AlertBudget(0.01, 1_000_000, 250, 8)


def weak_pairs(rng, n, *, flip=0.0):
    """ROC AUC ~0.66, as ``weak_model``: P(label) = 0.3 + 0.4 score."""
    score = rng.random(n)
    return score, (rng.random(n) < 0.3 + 0.4 * score) ^ (rng.random(n) < flip)


def test_bins_hold_equal_shares_and_count_their_labels_exactly():
    rng = np.random.default_rng(0)
    score, positive = weak_pairs(rng, 10_000)
    reference = CalibrationReference.from_scores(score, positive)
    assert len(reference.counts) == 20 and sum(reference.counts) == 10_000
    assert max(reference.counts) - min(reference.counts) <= 2
    edges = [-math.inf, *reference.edges, math.inf]
    for i, (low, high) in enumerate(itertools.pairwise(edges)):
        inside = (score >= low) & (score < high)
        assert reference.counts[i] == inside.sum()
        assert reference.positives[i] == positive[inside].sum()
    assert reference.bins(np.array([-1.0, 2.0])).tolist() == [0, 19]


def test_tied_scores_share_a_bin_and_small_bins_are_merged():
    rng = np.random.default_rng(1)
    score, positive = weak_pairs(rng, 2_000)
    score = np.where(score < 0.7, np.round(score, 1), 0.95)  # 8 values, 30% at one
    reference = CalibrationReference.from_scores(score, positive)
    assert min(reference.counts) >= MIN_BIN
    assert set(reference.edges) <= set(score.tolist())
    lonely = np.append(score, [0.99] * 3)  # 3 scores past the rest: merged, not a bin
    merged = CalibrationReference.from_scores(lonely, np.append(positive, [True] * 3))
    assert min(merged.counts) >= MIN_BIN and 0.99 not in merged.edges
    assert CalibrationReference.from_scores(np.full(500, 0.5), positive[:500]) is None
    assert CalibrationReference.from_scores(score[:40], positive[:40]) is None


def test_the_reference_round_trips_and_refuses_garbage():
    rng = np.random.default_rng(2)
    reference = CalibrationReference.from_scores(*weak_pairs(rng, 3_000))
    raw = json.loads(json.dumps(reference.to_dict()))
    assert CalibrationReference.from_dict(raw) == reference
    for broken in ({**raw, "edges": raw["edges"][::-1]},
                   {**raw, "counts": raw["counts"][:-1]},
                   {**raw, "positives": [c + 1 for c in raw["counts"]]},
                   {**raw, "counts": [0] * len(raw["counts"])}):  # fmt: skip
        with pytest.raises(InvalidState):
            CalibrationReference.from_dict(broken)
    with pytest.raises(InvalidState):
        CalibrationCusum(reference, BUDGET).restored({"value": "high"})


def test_the_threshold_spends_its_share_of_the_budget():
    # A budget whose share is large enough to count: 1,000 stationary runs of 20,000 labels
    # drawn from the reference's own rates alarm about as often as the share allows.
    rng = np.random.default_rng(3)
    budget = AlertBudget(0.9, 20_000, 250, 1)
    share = budget.alpha_at(0) * budget.looks_per_block
    cusum = CalibrationCusum(CalibrationReference.from_scores(*weak_pairs(rng, 1_000_000)), budget)
    h = cusum.threshold(look=0)
    rates, runs = cusum.reference.rates, 1000
    value, alarmed = np.zeros(runs), np.zeros(runs, dtype=bool)
    for _ in range(20_000):
        bins = rng.integers(0, len(rates), runs)  # equal-count bins: each as likely
        positive = rng.random(runs) < rates[bins]
        step = np.where(positive, cusum._positive_step[bins], cusum._negative_step[bins])
        value = np.maximum(0.0, value + step)
        alarmed |= value > h
    assert share / 2 < alarmed.mean() < share * 1.5, (share, alarmed.mean())


def test_a_smaller_reference_needs_a_higher_threshold():
    rng = np.random.default_rng(4)
    h = [CalibrationCusum(CalibrationReference.from_scores(*weak_pairs(rng, n)),
                          BUDGET).threshold(look=0)
         for n in (1_000, 10_000, 1_000_000)]  # fmt: skip
    assert h[0] > h[1] > h[2]
    cusum = CalibrationCusum(CalibrationReference.from_scores(*weak_pairs(rng, 10_000)), BUDGET)
    assert cusum.threshold(look=0) < cusum.threshold(look=BUDGET.looks_per_block)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(
    ("cusum_type", "reference_type", "draw", "within"),
    [(AucCusum, PlacementReference, scored_pairs, 1000),
     (CalibrationCusum, CalibrationReference, weak_pairs, 1500)],
)  # fmt: skip
def test_each_label_cusum_is_quiet_when_stationary_and_quick_on_a_fall(
    seed, cusum_type, reference_type, draw, within
):
    rng = np.random.default_rng(seed)
    cusum = cusum_type(reference_type.from_scores(*draw(rng, 10_000)), BUDGET)
    highest = 0.0
    for _ in range(100):  # 100,000 stationary labels
        cusum.update(*draw(rng, 1000), look=0)
        highest = max(highest, cusum.value)
    assert highest < cusum.threshold(look=0) / 2
    labels = 0
    while cusum.value <= cusum.threshold(look=0):
        cusum.update(*draw(rng, 25, flip=0.45), look=0)
        labels += 25
    assert labels <= within


def test_nan_scores_are_skipped():
    rng = np.random.default_rng(4)
    cusum = CalibrationCusum(CalibrationReference.from_scores(*weak_pairs(rng, 5_000)), BUDGET)
    score, positive = weak_pairs(rng, 500, flip=0.45)
    with_gaps = CalibrationCusum(cusum.reference, BUDGET)
    cusum.update(score, positive, look=0)
    with_gaps.update(np.append(score, np.nan), np.append(positive, True), look=0)
    assert with_gaps.value == cusum.value > 0


def test_a_monitor_alerts_it_as_performance():
    # (A restart mid-stream continuing both CUSUMs exactly: test_auc_cusum.py.)
    monitor = PerformanceMonitor(SPEC, "v1", PerformanceConfig())
    pairs = weak_model(5, 14_000) + weak_model(5, 2_500, start=14_000, flip=0.45)
    alerts = feed(monitor, pairs, batch=333)
    fired = [a for a in alerts if a.detector == "calibration_cusum" and a.status == "firing"]
    assert fired and fired[0].type == "performance"
    assert fired[0].statistic_name == "label_likelihood_ratio_cusum"
    assert 14_000 < fired[0].trigger.offset < 15_500
    assert (
        fired[0].value > fired[0].threshold == monitor.cusums["calibration_cusum"].threshold(look=0)
    )


def test_state_stored_before_the_calibration_cusum_restores_without_it():
    monitor = PerformanceMonitor(SPEC, "v1", PerformanceConfig())
    feed(monitor, weak_model(6, 12_000))
    snapshot = json.loads(json.dumps(monitor.snapshot()))
    del snapshot["calibration_cusum"], snapshot["label_reference"]["calibration"]
    restored = PerformanceMonitor.restore(snapshot, SPEC, "v1", PerformanceConfig())
    assert restored.reference is not None and restored.reference.calibration is None
    assert list(restored.cusums) == ["auc_cusum"]
    reference = LabelReference.from_dict(monitor.snapshot()["label_reference"])
    assert reference.calibration == monitor.reference.calibration

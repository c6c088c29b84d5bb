"""The ROC AUC placement CUSUM: placements against a brute-force computation, its threshold,
and a restart mid-stream that continues both label CUSUMs identically (quiet on a
stationary stream and quick on a fall: test_calibration_cusum.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from streams.core.errors import InvalidState
from streams.core.labels.alert_budget import AlertBudget
from streams.core.labels.auc_cusum import AucCusum
from streams.core.labels.label_reference import LabelReference
from streams.core.labels.performance import ClassificationWindow
from streams.core.labels.performance_monitor import PerformanceConfig, PerformanceMonitor
from streams.core.labels.placements import PlacementReference
from tests.core.test_performance_budget import SPEC, feed, weak_model

BUDGET = AlertBudget(0.01, 1_000_000, 250, 8)


def brute_placements(score, positive, ref_score, ref_positive):
    """Each pair against every reference pair of the other class, ties counting half."""
    out = []
    for s, p in zip(score, positive, strict=True):
        other = ref_score[~ref_positive] if p else ref_score[ref_positive]
        beaten = (other < s) if p else (other > s)
        out.append((beaten.sum() + 0.5 * (other == s).sum()) / len(other))
    return np.array(out)


def scored_pairs(rng, n, *, flip=0.0, decimals=None):
    positive = rng.random(n) < 0.4
    score = np.clip(rng.normal(0.45 + 0.15 * positive, 0.2), 0, 1)
    if decimals is not None:
        score = np.round(score, decimals)  # ties
    return score, positive ^ (rng.random(n) < flip)


def test_placements_equal_the_brute_force_on_a_small_reference_with_ties():
    rng = np.random.default_rng(0)
    ref_score, ref_positive = scored_pairs(rng, 300, decimals=1)  # < 256 per class: exact
    reference = PlacementReference.from_scores(ref_score, ref_positive)
    score, positive = scored_pairs(rng, 500, decimals=1)
    expected = brute_placements(score, positive, ref_score, ref_positive)
    mean = np.where(positive, reference.mean[0], reference.mean[1])
    sd = np.where(positive, reference.sd[0], reference.sd[1])
    np.testing.assert_allclose(reference.standardised(score, positive) * sd + mean, expected)
    # The reference's own mean placements are its ROC AUC (DeLong's components).
    own = brute_placements(ref_score, ref_positive, ref_score, ref_positive)
    assert reference.mean[0] == pytest.approx(own[ref_positive].mean())
    assert reference.mean[1] == pytest.approx(own[~ref_positive].mean())


def test_placements_from_quantiles_stay_within_their_resolution_of_the_brute_force():
    rng = np.random.default_rng(1)
    ref_score, ref_positive = scored_pairs(rng, 10_000)
    reference = PlacementReference.from_scores(ref_score, ref_positive)
    assert len(reference.negatives) == len(reference.positives) == 256
    score, positive = scored_pairs(rng, 300)
    expected = brute_placements(score, positive, ref_score, ref_positive)
    mean = np.where(positive, reference.mean[0], reference.mean[1])
    sd = np.where(positive, reference.sd[0], reference.sd[1])
    got = reference.standardised(score, positive) * sd + mean
    assert np.max(np.abs(got - expected)) < 2 / 256


def test_the_threshold_grows_with_the_budget_block_and_is_off_for_a_tiny_reference():
    rng = np.random.default_rng(2)
    cusum = AucCusum(PlacementReference.from_scores(*scored_pairs(rng, 10_000)), BUDGET)
    assert cusum.usable
    assert cusum.threshold(look=0) < cusum.threshold(look=BUDGET.looks_per_block)
    tiny = AucCusum(PlacementReference.from_scores(*scored_pairs(rng, 100)), BUDGET)
    assert not tiny.usable


def test_a_monitor_alerts_auc_cusum_as_performance_and_asks_for_retraining():
    monitor = PerformanceMonitor(SPEC, "v1", PerformanceConfig())
    assert feed(monitor, weak_model(0, 30_000)) == []
    assert "auc_cusum" in monitor.cusums and monitor.reference is not None
    alerts = feed(monitor, weak_model(0, 3_000, start=30_000, flip=0.45), batch=100)
    cusum = [a for a in alerts if a.detector == "auc_cusum" and a.status == "firing"]
    assert cusum and cusum[0].type == "performance"
    assert cusum[0].statistic_name == "auc_placement_cusum"
    assert cusum[0].value > cusum[0].threshold == monitor.cusums["auc_cusum"].threshold(look=0)
    assert cusum[0].trigger.offset - 30_000 < 1_000
    requests = monitor.take_retrain_requests()
    assert any(e["statistic"] == "auc_placement_cusum" for r in requests for e in r.alerts)


def test_a_restart_mid_stream_continues_identically():
    pairs = weak_model(3, 14_000) + weak_model(3, 2_000, start=14_000, flip=0.45)
    whole = PerformanceMonitor(SPEC, "v1", PerformanceConfig())
    expected = feed(whole, pairs, batch=333)
    first = PerformanceMonitor(SPEC, "v1", PerformanceConfig())
    got = feed(first, pairs[:14_100], batch=333)
    snapshot = json.loads(json.dumps(first.snapshot()))
    assert snapshot["auc_cusum"]["value"] > 0 and snapshot["calibration_cusum"]["value"] > 0
    assert {"placements", "calibration"} <= set(snapshot["label_reference"])
    second = PerformanceMonitor.restore(snapshot, SPEC, "v1", PerformanceConfig())
    got += feed(second, pairs[14_100:], batch=333)
    assert [a.to_dict() for a in got] == [a.to_dict() for a in expected]
    assert any(a.detector == "auc_cusum" for a in expected)
    # The CUSUMs and their rules continue exactly (the window's ring layout and the concept
    # detector's running mean may differ in storage order and last bits after a restore).
    for name in ("auc_cusum", "calibration_cusum"):
        assert second.cusums[name].value == whole.cusums[name].value > 0
    assert second.snapshot()["rules"] == whole.snapshot()["rules"]
    assert second.snapshot()["evidence"]["auc_cusum"] == whole.snapshot()["evidence"]["auc_cusum"]


def test_the_placement_reference_round_trips_and_refuses_garbage():
    rng = np.random.default_rng(4)
    placements = PlacementReference.from_scores(*scored_pairs(rng, 5_000))
    assert placements is not None
    raw = json.loads(json.dumps(placements.to_dict()))
    assert PlacementReference.from_dict(raw) == placements
    with pytest.raises(InvalidState):
        PlacementReference.from_dict({**raw, "negatives": raw["negatives"][::-1]})
    with pytest.raises(InvalidState):
        AucCusum(placements, BUDGET).restored({"value": -1})
    # A reference stored before placements existed still loads, without them.
    stored = _reference_dict(scored_pairs(rng, 500))
    assert LabelReference.from_dict(stored).placements is not None
    older = {k: v for k, v in stored.items() if k != "placements"}
    assert LabelReference.from_dict(older).placements is None


def _reference_dict(pairs):
    score, positive = pairs
    window = ClassificationWindow(window_events=len(score))
    window.add(correct=positive == (score >= 0.5), true_positive_class=positive,
               predicted_positive_class=score >= 0.5, score=score,
               timestamp_ms=np.arange(len(score)))  # fmt: skip
    reference = LabelReference.of_window(window, "validation")
    assert reference.placements is not None
    return json.loads(json.dumps(reference.to_dict()))

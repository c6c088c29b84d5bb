"""A model version's labels: performance, concept-drift and fairness alerts fire on degraded
or biased streams, stay quiet on healthy ones, and retraining is requested once."""

from __future__ import annotations

import json

import numpy as np
import pytest

from streams.core.contract.spec import FeatureSpec, ModelSpec
from streams.core.labels.fairness import FairnessPolicy
from streams.core.labels.labelled import LabelledPrediction
from streams.core.labels.performance_monitor import PerformanceConfig, PerformanceMonitor

CLASSIFIER = ModelSpec("churn", {"x": FeatureSpec("number")})
FAIR_CLASSIFIER = ModelSpec(
    "loans", {"x": FeatureSpec("number")},
    fairness=(FairnessPolicy("group", "a", min_group_size=200),),
)  # fmt: skip
REGRESSOR = ModelSpec("price", {"x": FeatureSpec("number")}, task="regression")
# A reference of 1,000 labels keeps these streams short (the default is 5,000).
SHORT = PerformanceConfig(reference_labels=1_000)


def classified(rng, n: int, *, start: int = 0, noise: float = 0.0, group_b_shift: float = 0.0):
    """Calibrated scores, labels drawn from them; ``noise`` flips that share of labels."""
    scores = rng.random(n)
    groups = np.where(rng.random(n) < 0.5, "a", "b")
    scores = np.where(groups == "b", np.clip(scores - group_b_shift, 0, 1), scores)
    labels = rng.random(n) < scores
    labels = np.where(rng.random(n) < noise, ~labels, labels)
    return [
        LabelledPrediction("m", "v1", f"e{start + i}", bool(s >= 0.5), bool(y), float(s),
                           {"group": str(g)}, 1_000 * (start + i), 1_000 * (start + i) + 500)
        for i, (s, y, g) in enumerate(zip(scores, labels, groups, strict=True))
    ]  # fmt: skip


def regressed(rng, n: int, *, start: int = 0, error_scale: float = 1.0):
    truth = rng.normal(100, 10, n)
    predicted = truth + rng.normal(0, error_scale, n)
    return [
        LabelledPrediction("m", "v1", f"e{start + i}", float(p), float(t), None, None,
                           1_000 * (start + i), 1_000 * (start + i) + 500)
        for i, (p, t) in enumerate(zip(predicted, truth, strict=True))
    ]  # fmt: skip


def feed(monitor: PerformanceMonitor, pairs, batch: int = 100):
    alerts = []
    for start in range(0, len(pairs), batch):
        chunk = pairs[start : start + batch]
        alerts += monitor.process(chunk, [(0, start + i) for i in range(len(chunk))])
    return alerts


def kinds(alerts) -> list[tuple[str, str, str]]:
    return [(a.type, a.statistic_name, a.status) for a in alerts]


@pytest.mark.parametrize("seed", range(3))
def test_a_healthy_classifier_raises_nothing(seed):
    rng = np.random.default_rng(seed)
    monitor = PerformanceMonitor(FAIR_CLASSIFIER, "v1", PerformanceConfig())
    assert feed(monitor, classified(rng, 20_000)) == []
    assert monitor.reference_metrics is not None
    assert monitor.metrics()["window"]["accuracy"] == pytest.approx(0.75, abs=0.05)


def test_a_degraded_classifier_fires_performance_and_concept_drift_then_asks_to_retrain():
    rng = np.random.default_rng(1)
    config = PerformanceConfig(reference_labels=1_000, retrain_after=2)
    monitor = PerformanceMonitor(CLASSIFIER, "v1", config)
    healthy, degraded = classified(rng, 3_000), classified(rng, 3_000, start=3_000, noise=0.3)
    assert feed(monitor, healthy) == []
    alerts = feed(monitor, degraded)
    fired = {(t, s) for t, s, status in kinds(alerts) if status == "firing"}
    assert ("performance", "accuracy_drop_lower_bound") in fired
    assert ("concept_drift", "error_rate_rise") in fired
    accuracy = next(a for a in alerts if a.statistic_name == "accuracy_drop_lower_bound")
    assert accuracy.value > config.max_drop and accuracy.trigger.event_id.startswith("e")
    assert accuracy.sample and "label" in accuracy.sample[0]
    requests = monitor.take_retrain_requests()
    assert len(requests) == 1  # persistent, but deduplicated by the cooldown
    request = requests[0].to_dict()
    assert request["reason"] and set(request["reason"]) <= {"performance", "concept_drift"}
    assert request["metrics"]["accuracy"] < request["reference"]["accuracy"]
    assert monitor.take_retrain_requests() == []


def test_a_recovered_classifier_resolves_its_alert():
    rng = np.random.default_rng(2)
    monitor = PerformanceMonitor(CLASSIFIER, "v1", SHORT)
    feed(monitor, classified(rng, 2_000))
    feed(monitor, classified(rng, 3_000, start=2_000, noise=0.3))
    alerts = feed(monitor, classified(rng, 5_000, start=5_000))
    assert ("performance", "accuracy_drop_lower_bound", "resolved") in kinds(alerts)


def test_a_biased_classifier_fires_fairness_alerts_a_fair_one_does_not():
    rng = np.random.default_rng(3)
    biased = PerformanceMonitor(FAIR_CLASSIFIER, "v1", PerformanceConfig())
    alerts = feed(biased, classified(rng, 5_000, group_b_shift=0.3))
    fired = {(a.statistic_name, a.feature) for a in alerts if a.status == "firing"}
    assert ("disparate_impact_shortfall_lower_bound", "group") in fired
    assert ("demographic_parity_difference_lower_bound", "group") in fired
    fair = PerformanceMonitor(FAIR_CLASSIFIER, "v1", PerformanceConfig())
    assert [a for a in feed(fair, classified(rng, 5_000)) if a.type == "fairness"] == []


def test_groups_too_small_to_judge_raise_nothing():
    rng = np.random.default_rng(4)
    monitor = PerformanceMonitor(FAIR_CLASSIFIER, "v1", PerformanceConfig(window_labels=300))
    pairs = classified(rng, 300, group_b_shift=0.3)  # ~150 per group, 200 needed
    assert [a for a in feed(monitor, pairs) if a.type == "fairness"] == []


def test_a_regressor_whose_errors_grow_fires():
    rng = np.random.default_rng(5)
    monitor = PerformanceMonitor(REGRESSOR, "v1", SHORT)
    assert feed(monitor, regressed(rng, 3_000)) == []
    alerts = feed(monitor, regressed(rng, 3_000, start=3_000, error_scale=2.0))
    assert ("performance", "mae_rise_lower_bound", "firing") in kinds(alerts)
    assert monitor.metrics()["window"]["mae"] == pytest.approx(1.6, rel=0.15)


def test_regression_pairs_that_are_not_numbers_are_counted_not_used():
    monitor = PerformanceMonitor(REGRESSOR, "v1", PerformanceConfig())
    pair = LabelledPrediction("m", "v1", "e", "high", 3.0, None, None, 0, 1)
    monitor.process([pair], [(0, 0)])
    assert (monitor.unusable, monitor.labels_seen) == (1, 0)


def test_restore_continues_identically():
    rng = np.random.default_rng(6)
    first = classified(rng, 2_500, group_b_shift=0.2)
    second = classified(rng, 3_000, start=2_500, noise=0.3, group_b_shift=0.2)
    whole = PerformanceMonitor(FAIR_CLASSIFIER, "v1", PerformanceConfig())
    feed(whole, first)
    snapshot = json.loads(json.dumps(whole.snapshot(), allow_nan=False))
    resumed = PerformanceMonitor.restore(snapshot, FAIR_CLASSIFIER, "v1", PerformanceConfig())
    assert [a.to_dict() for a in feed(whole, second)] == [
        a.to_dict() for a in feed(resumed, second)
    ]
    np.testing.assert_equal(whole.metrics(), resumed.metrics())


@pytest.mark.parametrize(
    "options",
    [{"window_labels": 0}, {"max_drop": 0}, {"min_labels": 2_000}, {"retrain_cooldown": -1}],
)
def test_bad_configs_are_refused(options):
    with pytest.raises(ValueError):
        PerformanceConfig(**options)


def test_a_retrain_request_matches_its_schema():
    from pathlib import Path

    from jsonschema import Draft202012Validator

    schema = json.loads((Path(__file__).parents[2] / "schemas/retrain_request.json").read_text())
    rng = np.random.default_rng(7)
    monitor = PerformanceMonitor(
        CLASSIFIER, "v1", PerformanceConfig(reference_labels=1_000, retrain_after=1)
    )
    feed(monitor, classified(rng, 2_000))
    feed(monitor, classified(rng, 2_000, start=2_000, noise=0.4))
    (request,) = monitor.take_retrain_requests()
    Draft202012Validator(schema).validate(request.to_dict())


def test_batch_sizes_do_not_change_what_is_judged():
    rng = np.random.default_rng(8)
    pairs = classified(rng, 2_000) + classified(rng, 2_000, start=2_000, noise=0.3)
    by_100 = feed(PerformanceMonitor(CLASSIFIER, "v1", SHORT), pairs, batch=100)
    by_1000 = feed(PerformanceMonitor(CLASSIFIER, "v1", SHORT), pairs, batch=1000)
    assert by_100 and [a.to_dict() for a in by_100] == [a.to_dict() for a in by_1000]

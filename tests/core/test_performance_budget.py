"""Label-side alerts judged by their uncertainty: quiet on a long stationary stream, quick on
a real fall, with the window they judged (not the last batch) in the alert."""

from __future__ import annotations

import json

import numpy as np
import pytest

from streams.core.contract.spec import FeatureSpec, ModelSpec
from streams.core.labels.labelled import LabelledPrediction
from streams.core.labels.performance_monitor import PerformanceConfig, PerformanceMonitor

SPEC = ModelSpec("churn", {"x": FeatureSpec("number")})
MS_PER_LABEL = 1_000


def weak_model(seed: int, n: int, *, start: int = 0, flip: float = 0.0):
    """A weak classifier (ROC AUC ~0.66, accuracy ~0.6): P(label) = 0.3 + 0.4 score;
    ``flip`` flips that share of labels (45% takes the AUC to ~0.52)."""
    rng = np.random.default_rng((seed, start))
    scores = rng.random(n)
    labels = (rng.random(n) < 0.3 + 0.4 * scores) ^ (rng.random(n) < flip)
    return [
        LabelledPrediction("churn", "v1", f"e{start + i}", int(s >= 0.5), int(y), float(s), None,
                           MS_PER_LABEL * (start + i), MS_PER_LABEL * (start + i) + 60_000)
        for i, (s, y) in enumerate(zip(scores.tolist(), labels.tolist(), strict=True))
    ]  # fmt: skip


def feed(monitor, pairs, *, batch: int = 500):
    alerts = []
    for at in range(0, len(pairs), batch):
        chunk = pairs[at : at + batch]
        index = int(chunk[0].event_id[1:])
        alerts += monitor.process(chunk, [(0, index + i) for i in range(len(chunk))])
    return alerts


def test_a_stationary_stream_of_50k_labels_raises_nothing():
    # Before: a reference of the first 1,000 labels and a fixed 0.05 drop, judged every 250
    # labels with no uncertainty, fired performance episodes and retraining requests here.
    monitor = PerformanceMonitor(SPEC, "v1", PerformanceConfig())
    alerts = feed(monitor, weak_model(0, 50_000))
    assert [(a.type, a.statistic_name) for a in alerts] == []
    assert monitor.take_retrain_requests() == []
    assert monitor.labels_seen == 50_000 and monitor.evaluations == 200
    assert monitor.metrics()["reference"]["roc_auc"] == pytest.approx(0.66, abs=0.03)


@pytest.mark.parametrize("seed", range(3))
def test_flipped_labels_are_caught_within_1000_labels(seed):
    monitor = PerformanceMonitor(SPEC, "v1", PerformanceConfig())
    assert feed(monitor, weak_model(seed, 11_000)) == []  # the reference: 10,000 labels
    alerts = feed(monitor, weak_model(seed, 3_000, start=11_000, flip=0.45))
    firing = [a for a in alerts if a.status == "firing"]
    assert firing and firing[0].type in ("performance", "concept_drift")
    assert firing[0].trigger.offset - 11_000 < 1_000


def test_an_alert_spans_the_window_it_judged_not_the_last_batch():
    monitor = PerformanceMonitor(SPEC, "v1", PerformanceConfig(reference_labels=1_000))
    feed(monitor, weak_model(5, 2_000))
    alerts = feed(monitor, weak_model(5, 3_000, start=2_000, flip=0.6), batch=40)
    alert = next(a for a in alerts if a.type == "performance")
    window = alert.window
    # Labels are 1 s apart: a window of N labels spans N - 1 s, ending at the trigger's.
    assert window.end_ms - window.start_ms == (window.count - 1) * MS_PER_LABEL
    assert window.end_ms == MS_PER_LABEL * alert.trigger.offset
    assert window.count >= 200


def test_a_given_reference_is_used_from_the_first_window_and_not_stored():
    from streams.core.labels.label_reference import validation_reference

    reference = validation_reference(SPEC, weak_model(9, 20_000))
    monitor = PerformanceMonitor(SPEC, "v1", PerformanceConfig(), reference)
    alerts = feed(monitor, weak_model(9, 1_500, flip=0.45))
    assert any(a.type == "performance" for a in alerts)  # no 10,000 labels of learning first
    snapshot = json.loads(json.dumps(monitor.snapshot(), allow_nan=False))
    assert snapshot["label_reference"] is None and snapshot["reference"] is None
    resumed = PerformanceMonitor.restore(snapshot, SPEC, "v1", PerformanceConfig(), reference)
    assert resumed.reference is reference


def test_a_learned_reference_survives_a_snapshot():
    monitor = PerformanceMonitor(SPEC, "v1", PerformanceConfig(reference_labels=1_000))
    feed(monitor, weak_model(4, 1_500))
    snapshot = json.loads(json.dumps(monitor.snapshot(), allow_nan=False))
    resumed = PerformanceMonitor.restore(snapshot, SPEC, "v1", PerformanceConfig())
    assert resumed.reference == monitor.reference and resumed.reference is not None
    pairs = weak_model(4, 3_000, start=1_500, flip=0.3)
    assert [a.to_dict() for a in feed(monitor, pairs)] == [
        a.to_dict() for a in feed(resumed, pairs)
    ]


def test_a_version_2_snapshot_is_read_and_its_reference_learned_again():
    from streams.core.labels.concept_drift import ErrorRateDrift
    from streams.core.labels.performance import ClassificationWindow

    old_window = ClassificationWindow(window_events=1_000)
    monitor = PerformanceMonitor(SPEC, "v1", PerformanceConfig())
    columns = monitor._columns(weak_model(2, 1_200))
    old_window.add(**columns)
    v2 = {
        "version": 2, "window": old_window.snapshot(), "reference": None,
        "reference_metrics": {"accuracy": 0.6, "f1": 0.6, "roc_auc": 0.66},
        "concept": ErrorRateDrift(reference_events=1_000).snapshot(), "concept_detected": False,
        "fairness": {}, "counts": [1_200, 0, 4, 200], "rules": {}, "evidence": {},
        "last_request": None, "tail": [{"predicted_at_ms": 1}],
    }  # fmt: skip
    resumed = PerformanceMonitor.restore(v2, SPEC, "v1", PerformanceConfig())
    assert len(resumed.window) == 1_000 and resumed.reference is None
    np.testing.assert_equal(resumed.window.span(), (200 * MS_PER_LABEL, 1_199 * MS_PER_LABEL))
    assert resumed.labels_seen == 1_200

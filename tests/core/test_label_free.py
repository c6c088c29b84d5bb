from __future__ import annotations

import json
import math

import numpy as np
import pytest

from streams.core.labels.label_free import LabelFreeEstimator, ScoreCalibration

# Realised metrics over 20,000 events vary by well under 0.01 (one standard error at most
# about 0.005); estimates must land within this of them.
TOLERANCE = 0.02
METRICS = ("precision", "recall", "f1", "accuracy")


def realised(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    tp = int(np.sum(truth & predicted))
    fp = int(np.sum(~truth & predicted))
    fn = int(np.sum(truth & ~predicted))
    accuracy = float(np.mean(truth == predicted))
    return {"precision": tp / (tp + fp), "recall": tp / (tp + fn),
            "f1": 2 * tp / (2 * tp + fp + fn), "accuracy": accuracy}  # fmt: skip


def estimate_of(score: np.ndarray, predicted: np.ndarray, calibration=None) -> dict[str, float]:
    estimator = LabelFreeEstimator(window_events=score.size, calibration=calibration)
    estimator.add(score, predicted)
    return estimator.estimate()


def test_expected_confusion_matches_a_plain_loop():
    rng = np.random.default_rng(1)
    score = rng.random(3_000)
    score[::17] = np.nan
    predicted = rng.random(3_000) < 0.4  # not tied to the score: any threshold or rule
    estimator = LabelFreeEstimator(window_events=1_000)
    for start in range(0, 3_000, 700):
        estimator.add(score[start : start + 700], predicted[start : start + 700])
    kept = [(s, p) for s, p in zip(score.tolist(), predicted.tolist(), strict=True)
            if not math.isnan(s)][-1_000:]  # fmt: skip
    tp = fp = fn = tn = 0.0
    for s, p in kept:
        if p:
            tp, fp = tp + s, fp + (1 - s)
        else:
            fn, tn = fn + s, tn + (1 - s)
    confusion = estimator.expected_confusion()
    assert confusion == pytest.approx({"tp": tp, "fp": fp, "fn": fn, "tn": tn})
    assert estimator.estimate() == pytest.approx(
        {
            "count": 1_000,
            "precision": tp / (tp + fp),
            "recall": tp / (tp + fn),
            "f1": 2 * tp / (2 * tp + fp + fn),
            "accuracy": (tp + tn) / 1_000,
        }
    )


def test_calibrated_scores_estimate_the_realised_metrics():
    rng = np.random.default_rng(2)
    score = rng.beta(0.7, 0.7, 20_000)
    truth = rng.random(20_000) < score  # calibrated: P(positive | score) = score
    predicted = score >= 0.5
    estimate, actual = estimate_of(score, predicted), realised(truth, predicted)
    for metric in METRICS:
        assert estimate[metric] == pytest.approx(actual[metric], abs=TOLERANCE), metric


def test_less_confident_scores_lower_the_estimate_as_they_lower_the_truth():
    rng = np.random.default_rng(3)
    results = {}
    for name, shape in (("confident", 0.4), ("unsure", 10.0)):  # Beta(10, 10) hugs 0.5
        score = rng.beta(shape, shape, 20_000)
        truth = rng.random(20_000) < score
        results[name] = (estimate_of(score, score >= 0.5), realised(truth, score >= 0.5))
    for metric in METRICS:
        (sure_estimate, sure_actual), (unsure_estimate, unsure_actual) = results.values()
        assert unsure_actual[metric] < sure_actual[metric] - 0.15, metric
        assert unsure_estimate[metric] < sure_estimate[metric] - 0.15, metric
        assert unsure_estimate[metric] == pytest.approx(unsure_actual[metric], abs=TOLERANCE)


def test_calibration_corrects_overconfident_scores():
    rng = np.random.default_rng(4)
    reference = rng.random(20_000)
    calibration = ScoreCalibration.fit(reference, rng.random(20_000) < reference**2)
    score = rng.random(20_000)
    truth = rng.random(20_000) < score**2  # the model's 0.8 means 0.64
    predicted = score >= 0.5
    actual = realised(truth, predicted)
    calibrated = estimate_of(score, predicted, calibration)
    uncalibrated = estimate_of(score, predicted)
    for metric in ("precision", "recall", "f1"):
        assert calibrated[metric] == pytest.approx(actual[metric], abs=TOLERANCE), metric
    assert abs(uncalibrated["precision"] - actual["precision"]) > 0.1  # 0.75 for 0.58
    assert abs(uncalibrated["recall"] - actual["recall"]) > 0.1  # 0.75 for 0.875


def test_fit_interpolates_bins_without_reference_scores():
    score = np.r_[np.full(50, 0.02), np.full(50, 0.98)]
    truth = np.r_[np.zeros(50, bool), np.ones(50, bool)]
    calibration = ScoreCalibration.fit(score, truth, bins=10)
    assert calibration.values == pytest.approx(np.arange(10) / 9)
    edges = np.array([0.0, 0.1, 0.45, 0.999, 1.0, np.nan])
    assert calibration.apply(edges) == pytest.approx(
        np.array([0.0, 1 / 9, 4 / 9, 1.0, 1.0, np.nan]), nan_ok=True
    )


def test_undefined_estimates_are_nan():
    empty = LabelFreeEstimator().estimate()
    assert empty["count"] == 0 and all(math.isnan(empty[m]) for m in METRICS)
    no_positives = estimate_of(np.array([0.2, 0.4]), np.zeros(2, bool))
    assert math.isnan(no_positives["precision"]) and no_positives["recall"] == 0.0
    assert no_positives["f1"] == 0.0  # 2TP / (2TP + FP + FN), as for labelled windows
    certain_negatives = estimate_of(np.zeros(3), np.zeros(3, bool))
    assert math.isnan(certain_negatives["recall"]) and math.isnan(certain_negatives["f1"])
    assert certain_negatives["accuracy"] == 1.0
    only_nan = LabelFreeEstimator()
    only_nan.add(np.full(4, np.nan), np.ones(4, bool))
    assert len(only_nan) == 0 and math.isnan(only_nan.estimate()["accuracy"])


def test_the_window_keeps_exactly_the_last_n_predictions():
    estimator = LabelFreeEstimator(window_events=5)
    estimator.add(np.full(4, 1.0), np.ones(4, bool))
    estimator.add(np.full(3, 0.0), np.ones(3, bool))
    assert estimator.expected_confusion() == {"tp": 2.0, "fp": 3.0, "fn": 0.0, "tn": 0.0}
    estimator.add(np.r_[np.full(7, 1.0), np.full(5, 0.0)], np.zeros(12, bool))
    assert estimator.expected_confusion() == {"tp": 0.0, "fp": 0.0, "fn": 0.0, "tn": 5.0}
    assert len(estimator) == 5


def test_snapshot_is_json_and_restore_continues_identically():
    rng = np.random.default_rng(5)
    reference = rng.random(5_000)
    calibration = ScoreCalibration.fit(reference, rng.random(5_000) < reference**2, bins=8)
    score = rng.random(4_000)
    score[::13] = np.nan
    predicted = rng.random(4_000) < 0.5
    first = LabelFreeEstimator(window_events=1_500, calibration=calibration)
    first.add(score[:2_100], predicted[:2_100])
    second = LabelFreeEstimator.restore(json.loads(json.dumps(first.snapshot(), allow_nan=False)))
    for start in range(2_100, 4_000, 600):
        first.add(score[start : start + 600], predicted[start : start + 600])
        second.add(score[start : start + 600], predicted[start : start + 600])
        assert first.estimate() == second.estimate()
    assert first.snapshot() == second.snapshot()
    with pytest.raises(ValueError):
        LabelFreeEstimator.restore({**first.snapshot(), "version": 2})


def test_calibrations_round_trip_through_plain_data():
    rng = np.random.default_rng(6)
    score = rng.random(1_000)
    fitted = ScoreCalibration.fit(score, rng.random(1_000) < score, bins=5)
    for calibration in (fitted, ScoreCalibration.identity()):
        data = json.loads(json.dumps(calibration.to_dict(), allow_nan=False))
        again = ScoreCalibration.from_dict(data)
        assert np.array_equal(again.apply(score), calibration.apply(score))
    for bad in ({"version": 2, "values": None}, {"version": 1, "values": [0.5, 1.5]},
                {"version": 1, "values": []}):  # fmt: skip
        with pytest.raises(ValueError):
            ScoreCalibration.from_dict(bad)


def test_bad_input_is_refused_and_leaves_the_window_unchanged():
    estimator = LabelFreeEstimator(window_events=10)
    estimator.add(np.array([0.3]), np.array([True]))
    before = estimator.snapshot()
    for scores, predicted in (
        (np.array([1.2]), np.array([True])),  # a logit, not a probability
        (np.array([-0.1]), np.array([True])),
        (np.array([0.3, 0.4]), np.array([True])),
        (np.array([0.3]), np.array([1.0])),  # not booleans
    ):
        with pytest.raises(ValueError):
            estimator.add(scores, predicted)
    assert estimator.snapshot() == before


@pytest.mark.parametrize(
    "make",
    [lambda: LabelFreeEstimator(window_events=0),
     lambda: ScoreCalibration.fit(np.array([0.5]), np.array([True]), bins=0),
     lambda: ScoreCalibration.fit(np.array([np.nan]), np.array([True])),
     lambda: ScoreCalibration.fit(np.array([0.5]), np.array([1])),
     lambda: ScoreCalibration.identity().apply(np.array([2.0]))],
)  # fmt: skip
def test_bad_parameters_fail_fast(make):
    with pytest.raises(ValueError):
        make()


def test_inputs_are_not_mutated():
    score, predicted = np.array([0.2, np.nan, 0.9]), np.array([False, True, True])
    copies = score.copy(), predicted.copy()
    calibration = ScoreCalibration.fit(np.array([0.1, 0.9]), np.array([False, True]), bins=2)
    LabelFreeEstimator(calibration=calibration).add(score, predicted)
    calibrated = ScoreCalibration.identity().apply(score)
    calibrated[0] = 0.5  # a new array, not a view of the input
    assert np.array_equal(score, copies[0], equal_nan=True)
    assert np.array_equal(predicted, copies[1])

"""Concept drift on the error stream: a rise of the error rate is caught, a stationary or
improving model raises nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from streams.core.labels.concept_drift import ErrorRateDrift


def labels(rng, error_rates: list[tuple[int, float]]) -> np.ndarray:
    """Correctness of consecutive labels: ``count`` labels at each error rate."""
    return np.concatenate([rng.random(count) >= rate for count, rate in error_rates])


def detections(drift: ErrorRateDrift, correct: np.ndarray, batch: int = 250) -> list[int]:
    """Index of the batch end at which each detection was reported."""
    found = []
    for start in range(0, len(correct), batch):
        drift.update(correct[start : start + batch])
        if drift.drift_detected:
            found.append(start + batch)
    return found


@pytest.mark.parametrize("detector", ["adwin", "ddm"])
@pytest.mark.parametrize("seed", range(6))
def test_a_stationary_error_rate_raises_nothing(detector, seed):
    correct = labels(np.random.default_rng(seed), [(20_000, 0.1)])
    assert detections(ErrorRateDrift(detector=detector), correct) == []


@pytest.mark.parametrize("detector", ["adwin", "ddm"])
def test_a_rising_error_rate_is_caught_soon(detector):
    correct = labels(np.random.default_rng(1), [(5_000, 0.1), (3_000, 0.3)])
    found = detections(ErrorRateDrift(detector=detector), correct)
    assert found and 5_000 < found[0] <= 6_000


def test_an_improving_model_is_no_alert():
    correct = labels(np.random.default_rng(2), [(5_000, 0.3), (5_000, 0.1)])
    drift = ErrorRateDrift()
    assert detections(drift, correct) == []
    assert drift.rise < 0


def test_a_rise_below_min_rise_does_not_count():
    correct = labels(np.random.default_rng(3), [(5_000, 0.1), (5_000, 0.3)])
    assert detections(ErrorRateDrift(min_rise=0.5), correct) == []


def test_reference_is_the_first_labels():
    correct = labels(np.random.default_rng(4), [(1_000, 0.1), (4_000, 0.5)])
    drift = ErrorRateDrift(reference_events=1_000)
    drift.update(correct)
    assert drift.reference_error_rate == pytest.approx(1 - correct[:1_000].mean())


def test_restore_continues_identically_and_the_input_is_untouched():
    rng = np.random.default_rng(5)
    first, second = labels(rng, [(3_000, 0.1)]), labels(rng, [(3_000, 0.35)])
    kept = first.copy()
    whole = ErrorRateDrift()
    whole.update(first)
    assert np.array_equal(first, kept)
    snapshot = json.loads(json.dumps(whole.snapshot(), allow_nan=False))
    resumed = ErrorRateDrift.restore(snapshot)
    assert detections(whole, second) == detections(resumed, second)
    assert whole.recent_error_rate == resumed.recent_error_rate


@pytest.mark.parametrize(
    "options",
    [{"detector": "kswin"}, {"reference_events": 0}, {"min_rise": 1.0}, {"recent_events": 0}],
)
def test_bad_parameters_are_refused(options):
    with pytest.raises(ValueError):
        ErrorRateDrift(**options)

from __future__ import annotations

import numpy as np
import pytest

from streams.core.drift.profile import CategoricalProfile, NumericProfile
from streams.core.drift.statistics import population_stability_index, rate_threshold


def psi_of(reference: np.ndarray, window: np.ndarray) -> float:
    profile = NumericProfile.from_values(reference)
    return population_stability_index(profile.shares, profile.bin_counts(window))


def test_psi_is_small_for_the_same_distribution_and_large_for_a_shift():
    rng = np.random.default_rng(3)
    reference = rng.normal(0, 1, 5000)
    same = [psi_of(reference, rng.normal(0, 1, 1000)) for _ in range(50)]
    assert max(same) < 0.05
    shifted = psi_of(reference, rng.normal(0.5, 1, 1000))
    assert 0.15 < shifted < 0.4
    wider = psi_of(reference, rng.normal(0, 1.5, 1000))
    assert wider > 0.1


def test_psi_of_an_empty_window_is_zero():
    assert population_stability_index(np.array([0.5, 0.5]), np.array([0, 0])) == 0.0


def test_an_unseen_category_counts_as_drift_in_proportion():
    profile = CategoricalProfile.from_values(["a"] * 500 + ["b"] * 500)
    assert profile.categories == ("a", "b")
    counts = profile.bin_counts(["a"] * 450 + ["b"] * 450 + ["new"] * 100)
    assert counts.tolist() == [450, 450, 100]
    assert population_stability_index(profile.shares, counts) > 0.1
    few = profile.bin_counts(["a"] * 499 + ["b"] * 499 + ["new"] * 2)
    assert population_stability_index(profile.shares, few) < 0.05


@pytest.mark.parametrize(("base", "window"), [(0.0, 1000), (0.05, 1000), (0.3, 200)])
def test_rate_threshold_is_above_chance(base, window):
    threshold = rate_threshold(base, window, z=6.0, min_increase=0.02)
    assert threshold >= base + 0.02
    rng = np.random.default_rng(5)
    rates = rng.binomial(window, base, size=20_000) / window
    assert (rates > threshold).sum() == 0

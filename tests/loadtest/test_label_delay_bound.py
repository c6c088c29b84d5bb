"""The oracle's delays behave as the quickest detector's should: about h over the
information a label carries after the change (Wald), shorter for a larger fall."""

from __future__ import annotations

import numpy as np
import pytest

from loadtest.label_delay_bound import oracle_delays


@pytest.mark.parametrize("flip", [0.2, 0.45])
def test_the_mean_delay_is_h_over_the_information_per_label(flip):
    rng = np.random.default_rng(0)
    scores = rng.random(50_000)
    rate = 0.278 + 0.444 * scores
    delays, h = oracle_delays(scores, rate, flip, falls=400, seed=2)
    fallen = (1 - flip) * rate + flip * (1 - rate)
    information = np.mean(fallen * np.log(fallen / rate)
                          + (1 - fallen) * np.log((1 - fallen) / (1 - rate)))  # fmt: skip
    # Under the change the CUSUM climbs at the information per label and crosses h after
    # about (h - 1 + its overshoot) / information labels (its floor at 0 costs ~1).
    assert 0.85 * h / information < delays.mean() < 1.15 * h / information


def test_a_larger_fall_is_caught_sooner():
    rng = np.random.default_rng(1)
    scores = rng.random(50_000)
    rate = 0.278 + 0.444 * scores
    small, _ = oracle_delays(scores, rate, 0.2, falls=200, seed=3)
    large, _ = oracle_delays(scores, rate, 0.45, falls=200, seed=3)
    assert np.median(large) < np.median(small) / 3

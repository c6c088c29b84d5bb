"""The window statistics the drift and data-quality detectors judge, and their thresholds."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["population_stability_index", "rate_threshold"]

_WINDOW_PSEUDO_COUNT = 0.5
_REFERENCE_FLOOR = 1e-4


def population_stability_index(reference_shares: np.ndarray, counts: np.ndarray) -> float:
    """PSI of a window's bin ``counts`` against the reference's bin shares.

    Both sides are smoothed so an empty bin gives a large but finite term: a category the
    reference never saw counts as drift in proportion to how often it now appears.
    """
    n = counts.sum()
    if n == 0:
        return 0.0
    window = (counts + _WINDOW_PSEUDO_COUNT) / (n + _WINDOW_PSEUDO_COUNT * counts.size)
    reference = (reference_shares + _REFERENCE_FLOOR) / (1 + _REFERENCE_FLOOR * counts.size)
    return float(np.sum((window - reference) * np.log(window / reference)))


def rate_threshold(base_rate: float, window: int, *, z: float, min_increase: float) -> float:
    """The rate above which a window of ``window`` events departs from ``base_rate``.

    The larger of a z-score bound (so chance does not fire it) and a minimum increase (so a
    statistically clear but harmless change does not either).
    """
    p = min(max(base_rate, 1e-6), 1 - 1e-6)
    return base_rate + max(min_increase, z * math.sqrt(p * (1 - p) / max(window, 1)))

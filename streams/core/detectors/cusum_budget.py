"""A CUSUM's chance of a false alarm over a stream, and the threshold that meets a budget.

The detector (``streams/core/detectors/cusum.py``) sums standardised block means, judged
against a reference estimated from ``reference_events`` events: its mean is off by
``d ~ N(0, block / reference)`` standard errors and its scale by a factor ``r``, for the
whole stream. The false-alarm probability over ``blocks`` blocks is Siegmund's approximation
of each side's average run length at mu = (+-d - k) / r, averaged over the reference's
errors (``streams/core/online/siegmund.py``, which the label side's ROC AUC CUSUM shares).
``loadtest/cusum_calibration.py`` chose the defaults with it; per-segment monitors
(``streams/core/segments/budget.py``) raise ``h`` with it to a smaller share of the budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from streams.core.online.siegmund import siegmund_arl, smallest_threshold

__all__ = ["HEAVY_KURTOSIS", "Reference", "false_alarm_probability", "threshold_for"]

HEAVY_KURTOSIS = 26.5  # the simulated lognormal feature's (sigma 0.75): the widest scale error


@dataclass(frozen=True, slots=True)
class Reference:
    """How the block means are standardised: block size, reference size, the features'
    worst kurtosis (how uncertain the reference's standard deviation is)."""

    block_events: int = 100
    reference_events: int = 5000
    kurtosis: float = HEAVY_KURTOSIS

    @property
    def mean_error(self) -> float:
        """Standard deviation of the reference mean's error, in block standard errors."""
        return math.sqrt(self.block_events / self.reference_events)

    @property
    def scale_error(self) -> float:
        """Standard deviation of (true / estimated standard deviation) around 1."""
        return math.sqrt((self.kurtosis - 1) / (4 * self.reference_events))


def false_alarm_probability(k: float, h: float, blocks: int, reference: Reference) -> float:
    """P(a two-sided CUSUM (k, h) alarms within ``blocks``), over the reference's errors."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    d = reference.mean_error * nodes
    weights = weights / weights.sum()
    total = 0.0
    # Three-point rule for r ~ N(1, s): nodes 1 +- sqrt(3) s, weights 1/6, 2/3, 1/6.
    for factor, weight in ((-math.sqrt(3), 1 / 6), (0.0, 2 / 3), (math.sqrt(3), 1 / 6)):
        r = 1 + factor * reference.scale_error
        rate = 1 / siegmund_arl((d - k) / r, h / r) + 1 / siegmund_arl((-d - k) / r, h / r)
        total += weight * float(np.sum(weights * -np.expm1(-blocks * rate)))
    return total


def threshold_for(k: float, alpha: float, blocks: int, reference: Reference) -> float | None:
    """The smallest h (to 0.01) whose false-alarm probability is at most ``alpha``; None
    if no h up to 100 reaches it (k does not cover the reference's error)."""
    return smallest_threshold(
        lambda h: false_alarm_probability(k, h, blocks, reference), alpha, high=100.0, step=0.01
    )

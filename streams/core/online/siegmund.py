"""Siegmund's approximation of a one-sided CUSUM's average run length, and the threshold a
false-alarm budget allows: shared by the drift CUSUM's calibration
(``loadtest/cusum_calibration.py``) and the label side's ROC AUC CUSUM
(``streams/core/labels/auc_cusum.py``).

For increments N(mu, 1) (mu < 0 under no change) and threshold h, the average run length
to a false alarm is ``(exp(-2 mu b) + 2 mu b - 1) / (2 mu^2)`` with ``b = h + 1.166`` (the
expected overshoot of a normal random walk, twice 0.583, corrects for the sum's jump past h).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = [
    "SIEGMUND_OVERSHOOT",
    "one_sided_false_alarm",
    "one_sided_threshold",
    "siegmund_arl",
    "smallest_threshold",
]

SIEGMUND_OVERSHOOT = 1.166
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(80)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


def siegmund_arl(mu: np.ndarray | float, h: np.ndarray | float) -> np.ndarray:
    """Siegmund's ARL of a one-sided CUSUM over N(mu, 1) increments with threshold h.

    >>> round(float(siegmund_arl(-0.5, 4.0)), 0)
    338.0
    """
    b = np.asarray(h, dtype=float) + SIEGMUND_OVERSHOOT
    mu = np.asarray(mu, dtype=float)
    mu = np.where(np.abs(mu) < 1e-6, 1e-6, mu)
    with np.errstate(over="ignore"):
        arl: np.ndarray = (np.exp(np.minimum(-2 * mu * b, 700)) + 2 * mu * b - 1) / (2 * mu**2)
    return arl


def one_sided_false_alarm(k: float, h: float, steps: int, mean_error: float) -> float:
    """P(a one-sided CUSUM (k, h) of standardised increments alarms within ``steps``), when
    the reference they are standardised by puts their mean off by ``N(0, mean_error^2)``
    (averaged over it by Gauss-Hermite).

    >>> f"{one_sided_false_alarm(0.25, 40.0, 1_000_000, 0.01):.1e}"
    '1.9e-04'
    """
    mu = mean_error * _NODES - k
    return float(np.sum(_WEIGHTS * -np.expm1(-steps / siegmund_arl(mu, h))))


def one_sided_threshold(k: float, alpha: float, steps: int, mean_error: float) -> float | None:
    """The smallest h (to 0.01) whose ``one_sided_false_alarm`` is at most ``alpha``; None
    if no h up to 1,000 reaches it (k does not cover the reference's error).

    >>> one_sided_threshold(0.25, 4e-4, 1_000_000, 0.01)
    38.46
    """
    return smallest_threshold(
        lambda h: one_sided_false_alarm(k, h, steps, mean_error), alpha, high=1000.0, step=0.005
    )


def smallest_threshold(
    false_alarm: Callable[[float], float], alpha: float, *, high: float, step: float
) -> float | None:
    """The smallest h (bisected to ``step``, rounded up to 0.01) whose ``false_alarm(h)`` is
    at most ``alpha``; None if not even ``high`` reaches it. ``false_alarm`` falls with h.

    >>> smallest_threshold(lambda h: 1 / h, 0.1, high=100.0, step=0.001)
    10.01
    """
    low = 0.5
    if false_alarm(high) > alpha:
        return None
    while high - low > step:
        middle = (low + high) / 2
        if false_alarm(middle) > alpha:
            low = middle
        else:
            high = middle
    return math.ceil(high * 100) / 100

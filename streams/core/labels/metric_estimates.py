"""Performance metrics with their uncertainty: what a drop is judged by.

A metric over 1,000 labels moves by chance: accuracy near 0.8 has a standard error of about
0.013, ROC AUC near 0.66 about 0.018. Each ``Estimate`` keeps, beside the value, what its
confidence interval needs: the count it is a proportion of (accuracy, precision, recall:
Wilson intervals), or a standard error (ROC AUC by Hanley and McNeil, F1 by the delta method
over the confusion-matrix shares, MAE and RMSE from the per-label errors).
``difference_interval`` then bounds ``window - reference``: Newcombe's hybrid score interval
for two proportions, a normal interval for the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from streams.core import plain_data as check

__all__ = [
    "Estimate",
    "classification_estimates",
    "difference_interval",
    "regression_estimates",
    "roc_auc",
    "wilson",
]

_NAN = float("nan")


@dataclass(frozen=True, slots=True)
class Estimate:
    """A metric's value and its uncertainty.

    ``count`` is the number of trials when the metric is a proportion (``se`` is then NaN:
    its interval is Wilson's), else the labels behind it and ``se`` its standard error.
    """

    value: float
    count: int
    se: float = _NAN

    @property
    def proportion(self) -> bool:
        return math.isnan(self.se)

    @property
    def usable(self) -> bool:
        """Whether it has a value and an uncertainty to judge by."""
        return math.isfinite(self.value) and self.count > 0

    def to_dict(self) -> dict[str, Any]:
        finite = math.isfinite
        return {"value": self.value if finite(self.value) else None, "count": self.count,
                "se": self.se if finite(self.se) else None}  # fmt: skip

    @classmethod
    def from_dict(cls, raw: Any, name: str) -> Estimate:
        """An estimate from ``to_dict()``'s form; ``InvalidState`` if malformed."""
        data = check.mapping(raw, name, ("value", "count", "se"))
        value = check.optional(check.number, data["value"], f"{name}.value")
        se = check.optional(check.number, data["se"], f"{name}.se", low=0.0)
        return cls(_NAN if value is None else value, check.integer(data["count"], f"{name}.count"),
                   _NAN if se is None else se)  # fmt: skip


def wilson(successes: float, count: int, z: float) -> tuple[float, float]:
    """Wilson's score interval for a proportion, at ``z`` standard deviations.

    >>> [round(x, 4) for x in wilson(80, 100, 1.96)]
    [0.7112, 0.8666]
    """
    p = successes / count
    denominator = 1 + z * z / count
    centre = (p + z * z / (2 * count)) / denominator
    half = z * math.sqrt(p * (1 - p) / count + z * z / (4 * count * count)) / denominator
    return centre - half, centre + half


def difference_interval(window: Estimate, reference: Estimate, z: float) -> tuple[float, float]:
    """A two-sided interval of ``window.value - reference.value`` at ``z``.

    Proportions: Newcombe's hybrid score interval (method 10), from each side's Wilson
    interval; it keeps its coverage near 0 and 1 where the normal one does not. Otherwise
    the normal interval with the two standard errors combined.

    >>> old, new = Estimate(0.80, 5000), Estimate(0.75, 1000)
    >>> [round(x, 4) for x in difference_interval(new, old, 1.96)]
    [-0.0798, -0.0218]
    >>> [round(x, 3) for x in difference_interval(Estimate(0.6, 1000, 0.02),
    ...                                           Estimate(0.66, 5000, 0.01), 1.96)]
    [-0.104, -0.016]
    """
    diff = window.value - reference.value
    if window.proportion and reference.proportion:
        low_w, high_w = wilson(window.value * window.count, window.count, z)
        low_r, high_r = wilson(reference.value * reference.count, reference.count, z)
        below = math.hypot(window.value - low_w, high_r - reference.value)
        above = math.hypot(high_w - window.value, reference.value - low_r)
        return diff - below, diff + above
    spread = z * math.hypot(_se(window), _se(reference))
    return diff - spread, diff + spread


def _se(estimate: Estimate) -> float:
    if not estimate.proportion:
        return estimate.se
    p = estimate.value
    return math.sqrt(p * (1 - p) / estimate.count)


def classification_estimates(
    correct: np.ndarray, truth: np.ndarray, predicted: np.ndarray, score: np.ndarray
) -> dict[str, Estimate]:
    """Accuracy, precision, recall, F1 and ROC AUC with their uncertainty.

    >>> rng = np.random.default_rng(3)
    >>> truth = rng.random(2000) < 0.4
    >>> score = np.clip(0.4 * truth + 0.6 * rng.random(2000), 0, 1)
    >>> predicted = score >= 0.5
    >>> found = classification_estimates(predicted == truth, truth, predicted, score)
    >>> round(found["roc_auc"].value, 3), round(found["roc_auc"].se, 4)
    (0.938, 0.0061)
    """
    tp = int(np.count_nonzero(truth & predicted))
    fp = int(np.count_nonzero(~truth & predicted))
    fn = int(np.count_nonzero(truth & ~predicted))
    n = len(truth)
    scored = ~np.isnan(score)
    return {
        "accuracy": _proportion(int(np.count_nonzero(correct)), n),
        "precision": _proportion(tp, tp + fp),
        "recall": _proportion(tp, tp + fn),
        "f1": _f1(tp, fp, fn, n),
        "roc_auc": roc_auc(score[scored], truth[scored]),
    }


def regression_estimates(error: np.ndarray) -> dict[str, Estimate]:
    """MAE and RMSE with standard errors from the per-label errors (RMSE by the delta
    method from the mean squared error's).

    >>> est = regression_estimates(np.random.default_rng(1).normal(0, 2.0, 4000))
    >>> round(est["mae"].value, 3), round(est["mae"].se, 4), round(est["rmse"].se, 4)
    (1.596, 0.0192, 0.0228)
    """
    n = error.size
    if n < 2:
        return {"mae": Estimate(_NAN, n, _NAN), "rmse": Estimate(_NAN, n, _NAN)}
    absolute, squared = np.abs(error), error**2
    mse = float(squared.mean())
    rmse = math.sqrt(mse)
    mse_se = float(squared.std(ddof=1)) / math.sqrt(n)
    return {
        "mae": Estimate(float(absolute.mean()), n, float(absolute.std(ddof=1)) / math.sqrt(n)),
        "rmse": Estimate(rmse, n, mse_se / (2 * rmse) if rmse > 0 else 0.0),
    }


def _proportion(successes: int, count: int) -> Estimate:
    return Estimate(successes / count if count else _NAN, count)


def _f1(tp: int, fp: int, fn: int, n: int) -> Estimate:
    # F1 = 2a / (2a + b + c) of the shares a, b, c of TP, FP, FN among n multinomial labels;
    # its variance by the delta method, g' (diag(p) - p p') g / n.
    denominator = 2 * tp + fp + fn
    if n == 0 or denominator == 0:
        return Estimate(_NAN, n, _NAN)
    shares = np.array([tp, fp, fn]) / n
    d = denominator / n
    gradient = np.array([2 * (fp + fn) / n, -2 * tp / n, -2 * tp / n]) / (d * d)
    variance = float(gradient**2 @ shares - (gradient @ shares) ** 2) / n
    return Estimate(2 * tp / denominator, n, math.sqrt(max(variance, 0.0)))


def roc_auc(score: np.ndarray, positive: np.ndarray) -> Estimate:
    """ROC AUC (Mann-Whitney, ties counted half) with Hanley and McNeil's standard error."""
    positives = int(np.count_nonzero(positive))
    negatives = positive.size - positives
    if positives == 0 or negatives == 0:
        return Estimate(_NAN, positive.size, _NAN)
    # Mann-Whitney U from average ranks: a positive tied with a negative counts one half.
    _, group, counts = np.unique(score, return_inverse=True, return_counts=True)
    mean_rank = np.cumsum(counts) - (counts - 1) / 2
    rank_sum = float(mean_rank[group][positive].sum())
    auc = (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)
    # Hanley and McNeil (1982): the variance from the AUC and the two class sizes.
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (auc * (1 - auc) + (positives - 1) * (q1 - auc * auc)
                + (negatives - 1) * (q2 - auc * auc)) / (positives * negatives)  # fmt: skip
    return Estimate(auc, positive.size, math.sqrt(max(variance, 0.0)))

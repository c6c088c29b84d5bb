"""A fall in what the scores say about the labels, caught label by label: a likelihood-ratio
CUSUM against the reference's calibration.

With no change, a label of score ``s`` is positive at its bin's reference rate ``p``
(``calibration``). The alternative is that a share ``q`` of labels now disagree with what
the model learned: positive at ``(1 - q) p + q (1 - p)``. Each label's step (``label_cusum``)
is the log of that likelihood ratio; the sum fires over ``h``.

Where the placement CUSUM (``auc_cusum``) compares a new label's score with the reference's
other class only, this reads the label against its own score's rate, which flipped labels
move on both sides: at ROC AUC 0.66 with 45% of labels flipped it gave a mean of 722 labels
to ``h`` over 20 seeds (placements: 635 over 10, but up to 1,100), and on the same seeds
never the later of the two where the other was over 1,000.

- ``q`` = 0.4: a large fall, the one the window checks are slow on (a small one they catch
  at their own pace). Simulated over 20 seeds at ROC AUC 0.66, 45% flipped, q = 0.3 /
  0.35 / 0.4 gave means of 853 / 764 / 722 labels.
- ``h`` spends one test's share ``alpha`` of the budget over ``n`` labels. With no change
  the steps drift down (by the Kullback-Leibler divergence, ~0.027 a label at ROC AUC
  0.66) with SD ``sigma`` ~0.23, and ``exp(theta * step)`` has mean 1 at ``theta`` = 1 for
  the true rates (a likelihood ratio). Siegmund's approximation of the run length of a
  walk of that ``theta`` and ``sigma`` (``online.siegmund``; ``exp(theta (h + 1.166
  sigma)) / (theta^2 sigma^2 / 2)`` for a large h) gives the chance of an alarm within
  ``n`` labels, averaged over 512 draws of the true rates from their posterior (Beta, half
  a label each way; ``theta`` solved for each), as the reference's rates are estimates.
  It predicts the highest sum over 1,000,000 stationary labels above 10 / 11 / 12 with
  chance 0.59 / 0.32 / 0.15; ten seeds gave 0.7 / 0.5 / 0.2 (8.7-12.7). The plain bound
  ``n exp(-h)`` (Ville's inequality from every start) is ~40 times more cautious.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from streams.core.labels.alert_budget import AlertBudget
from streams.core.labels.calibration import CalibrationReference
from streams.core.labels.label_cusum import LabelCusum
from streams.core.online.siegmund import siegmund_arl, smallest_threshold

__all__ = ["CalibrationCusum"]

Q = 0.4
_DRAWS = 512
_ROOT_STEPS = 40


class CalibrationCusum(LabelCusum[CalibrationReference]):
    """The likelihood-ratio CUSUM of one model version's labels against its calibration.

    Examples
    --------
    A calibrated model (ROC AUC ~0.83), then 45% of its labels flipped: quiet on 20,000
    labels, then over h within 150 labels of the fall.

    >>> rng = np.random.default_rng(3)
    >>> def pairs(n, flip=0.0):
    ...     score = rng.random(n)
    ...     return score, (rng.random(n) < score) ^ (rng.random(n) < flip)
    >>> cusum = CalibrationCusum(CalibrationReference.from_scores(*pairs(10_000)),
    ...                          AlertBudget(0.01, 1_000_000, 250, 8))
    >>> cusum.update(*pairs(20_000), look=0)
    >>> cusum.value < cusum.threshold(look=0) / 2
    True
    >>> labels = 0
    >>> while cusum.value <= cusum.threshold(look=0):
    ...     cusum.update(*pairs(50, flip=0.45), look=0)
    ...     labels += 50
    >>> labels, round(cusum.threshold(look=0), 1)
    (150, 19.1)
    """

    name: ClassVar[str] = "calibration_cusum"
    statistic: ClassVar[str] = "label_likelihood_ratio_cusum"

    def __init__(self, reference: CalibrationReference, budget: AlertBudget) -> None:
        super().__init__(reference, budget)
        rate = reference.rates
        wrong = (1 - Q) * rate + Q * (1 - rate)
        # The step of a positive and of a negative label, per bin.
        self._positive_step = np.log(wrong / rate)
        self._negative_step = np.log((1 - wrong) / (1 - rate))

    def _steps(self, score: np.ndarray, positive: np.ndarray) -> np.ndarray:
        scored = ~np.isnan(score)
        bins = self.reference.bins(score[scored])
        positive = np.asarray(positive, dtype=bool)[scored]
        steps: np.ndarray = np.where(positive, self._positive_step[bins],
                                     self._negative_step[bins])  # fmt: skip
        return steps

    def _block_threshold(self, alpha: float, labels: int) -> float | None:
        true_rate = self._true_rates()
        theta, sigma = self._theta(true_rate), self._sigma(true_rate)

        def false_alarm(h: float) -> float:
            run_length = siegmund_arl(-theta * sigma / 2, h / sigma)
            return float(np.mean(-np.expm1(-labels / run_length)))

        return smallest_threshold(false_alarm, alpha, high=1000.0, step=0.005)

    def _true_rates(self) -> np.ndarray:
        """Draws of the true rates from their posterior, one row a draw."""
        positives, counts = np.asarray(self.reference.positives), np.asarray(self.reference.counts)
        rng = np.random.default_rng(0)  # the same threshold for the same reference
        draws: np.ndarray = rng.beta(positives + 0.5, counts - positives + 0.5,
                                     (_DRAWS, len(counts)))  # fmt: skip
        return draws

    def _sigma(self, true_rate: np.ndarray) -> np.ndarray:
        """The SD of a label's step under each draw."""
        weight = np.asarray(self.reference.counts) / sum(self.reference.counts)
        up, down = self._positive_step, self._negative_step
        mean = (weight * (true_rate * up + (1 - true_rate) * down)).sum(axis=1)
        square = (weight * (true_rate * up**2 + (1 - true_rate) * down**2)).sum(axis=1)
        sigma: np.ndarray = np.sqrt(np.maximum(square - mean**2, 1e-12))
        return sigma

    def _theta(self, true_rate: np.ndarray) -> np.ndarray:
        """For each draw, the theta > 0 with E[exp(theta * step)] = 1 (bisected: below it
        the expectation is under 1, above it over; a draw whose steps do not drift down
        gets ~0, and no h meets the budget)."""
        weight = np.asarray(self.reference.counts) / sum(self.reference.counts)
        low, high = np.full(_DRAWS, 1e-3), np.full(_DRAWS, 4.0)
        for _ in range(_ROOT_STEPS):
            theta = (low + high)[:, None] / 2
            moment = true_rate * np.exp(theta * self._positive_step)
            moment += (1 - true_rate) * np.exp(theta * self._negative_step)
            under = (weight * moment).sum(axis=1) < 1
            low, high = np.where(under, theta[:, 0], low), np.where(under, high, theta[:, 0])
        return low

"""A fall in what the scores say about the labels, caught label by label: a likelihood-ratio
CUSUM against the reference's calibration.

With no change, a label of score ``s`` is positive at its bin's reference rate ``p``
(``calibration``). The alternative is that a share ``q`` of labels now disagree with what
the model learned: positive at ``(1 - q) p + q (1 - p)``. Each label's step (``label_cusum``)
is the log of that likelihood ratio; the sum fires over ``h``.

Where the placement CUSUM (``auc_cusum``) compares a new label's score with the
reference's other class only, this reads the label against its own score's rate, which
flipped labels move on both sides.

- ``q`` = 0.25: a moderate fall, the one the window checks are slow on (the placement
  CUSUM already takes a large one at about the pace this would). ``bench_performance_alerts``
  over 100 seeds at ROC AUC 0.66 (``BENCHMARKS.md``): an accuracy fall of 0.05 (~21% of
  labels flipped) caught at a mean of 2,792 labels, 2 seeds past 5,000 (without this
  test: 4,170, 9 seeds); 45% flipped: 612 (607). A test that knew the true rates and the
  flip rate would take ~2,180 and ~520. At q = 0.4 (then with a threshold that left out
  the lean below) the large fall was ~5% quicker and the moderate one ~25% slower.
- ``h`` spends one test's share ``alpha`` of the budget over ``n`` labels. With no change
  the steps drift down (by the Kullback-Leibler divergence, ~0.011 a label here) with SD
  ``sigma`` ~0.14, and ``exp(theta * step)`` has mean 1 at ``theta`` = 1 if the rates are
  the true ones (a likelihood ratio). Siegmund's approximation of the run length of a walk
  of that ``theta`` and ``sigma`` (``online.siegmund``; ``exp(theta (h + 1.166 sigma)) /
  (theta^2 sigma^2 / 2)`` for a large h) gives the chance of an alarm within ``n`` labels.
  The rates are estimates, and steps computed from an estimate lean with its error (a
  rate estimated too far from 0.5 makes the labels that disprove it cost less): so the
  chance is averaged over 512 replicas of the reference (true rates drawn from its
  posterior, Beta with half a label each way; a reference of the same counts estimated
  from them; ``theta`` solved for each). With a 10,000-label reference this predicts the
  highest sum over 1,000,000 stationary labels above 10 / 11 / 12 / 14 with chance
  0.57 / 0.36 / 0.21 / 0.06; ten seeds gave 0.5 / 0.3 / 0.1 / 0.1 (7.6-14.4), h = 21.2.
  The plain bound ``n exp(-h)`` (Ville's inequality from every start) is ~40 times more
  cautious; the posterior alone, without the lean, let 128 bins' maxima reach h.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from streams.core.labels.alert_budget import AlertBudget
from streams.core.labels.calibration import CalibrationReference
from streams.core.labels.label_cusum import LabelCusum
from streams.core.online.siegmund import siegmund_arl, smallest_threshold

__all__ = ["CalibrationCusum"]

Q = 0.25
_DRAWS = 512
_ROOT_STEPS = 40


class CalibrationCusum(LabelCusum[CalibrationReference]):
    """The likelihood-ratio CUSUM of one model version's labels against its calibration.

    Examples
    --------
    A calibrated model (ROC AUC ~0.83), then 45% of its labels flipped: quiet on 20,000
    labels, then over h within 200 labels of the fall.

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
    (200, 20.8)
    """

    name: ClassVar[str] = "calibration_cusum"
    statistic: ClassVar[str] = "label_likelihood_ratio_cusum"

    def __init__(self, reference: CalibrationReference, budget: AlertBudget) -> None:
        super().__init__(reference, budget)
        self._positive_step, self._negative_step = _steps_of(reference.rates)

    def _steps(self, score: np.ndarray, positive: np.ndarray) -> np.ndarray:
        scored = ~np.isnan(score)
        bins = self.reference.bins(score[scored])
        positive = np.asarray(positive, dtype=bool)[scored]
        steps: np.ndarray = np.where(positive, self._positive_step[bins],
                                     self._negative_step[bins])  # fmt: skip
        return steps

    def _block_threshold(self, alpha: float, labels: int) -> float | None:
        walk = _Replicas(self.reference)
        theta, sigma = walk.theta(), walk.sigma()

        def false_alarm(h: float) -> float:
            run_length = siegmund_arl(-theta * sigma / 2, h / sigma)
            return float(np.mean(-np.expm1(-labels / run_length)))

        return smallest_threshold(false_alarm, alpha, high=1000.0, step=0.005)


def _steps_of(rate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The step of a positive and of a negative label at each rate."""
    wrong = (1 - Q) * rate + Q * (1 - rate)
    return np.log(wrong / rate), np.log((1 - wrong) / (1 - rate))


class _Replicas:
    """References like this one, as the threshold must allow for them: true rates drawn
    from this reference's posterior, each with a reference of the same counts estimated
    from them (whose steps lean with its errors, as this one's do), one row a draw."""

    def __init__(self, reference: CalibrationReference) -> None:
        positives, counts = np.asarray(reference.positives), np.asarray(reference.counts)
        rng = np.random.default_rng(0)  # the same threshold for the same reference
        shape = (_DRAWS, len(counts))
        self.true_rate = rng.beta(positives + 0.5, counts - positives + 0.5, shape)
        estimated = (rng.binomial(counts, self.true_rate) + 0.5) / (counts + 1)
        self.up, self.down = _steps_of(estimated)
        self.weight = counts / counts.sum()

    def _mean(self, up: np.ndarray, down: np.ndarray) -> np.ndarray:
        """E[f(step)] under each draw's true rates, given f's values on a positive and a
        negative label."""
        mean: np.ndarray = (self.weight * (self.true_rate * up + (1 - self.true_rate) * down)).sum(
            axis=1
        )
        return mean

    def sigma(self) -> np.ndarray:
        """The SD of a label's step under each draw."""
        mean = self._mean(self.up, self.down)
        square = self._mean(self.up**2, self.down**2)
        sigma: np.ndarray = np.sqrt(np.maximum(square - mean**2, 1e-12))
        return sigma

    def theta(self) -> np.ndarray:
        """For each draw, the theta > 0 with E[exp(theta * step)] = 1 (bisected: below it
        the expectation is under 1, above it over; a draw whose steps do not drift down
        gets ~0, and no h meets the budget)."""
        low, high = np.full(_DRAWS, 1e-3), np.full(_DRAWS, 4.0)
        for _ in range(_ROOT_STEPS):
            theta = (low + high)[:, None] / 2
            under = self._mean(np.exp(theta * self.up), np.exp(theta * self.down)) < 1
            low, high = np.where(under, theta[:, 0], low), np.where(under, high, theta[:, 0])
        return low

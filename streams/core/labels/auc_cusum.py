"""A fall of ROC AUC caught label by label: a downward CUSUM on the placement values.

Each scored label's placement against the reference (``placements``), standardised by its
class's reference mean and SD, is ~(0, 1) with no change; a fall of the AUC moves it down
(0.66 -> 0.52 is about -0.5 SD per label). The step of the sum (``label_cusum``) is
``-z - k``; it fires over ``h``.

- ``k`` = 0.15 SD: about half the shift of the fall it is tuned for. Flipping 45% of the
  labels of a model at ROC AUC 0.66 (-> 0.52) moves the placements against the reference
  by -0.27 SD, half the AUC's own fall (only the new pair's side is mislabelled, the
  reference's is not). Simulated over 20 seeds (labels from the fall to h, label by label),
  k = 0.08 / 0.1 / 0.12 / 0.15 / 0.2 gave means of 619 / 533 / 512 / 486 / 528. A small
  ``k`` also keeps it robust to the placements' skew (near 0 only their variance matters
  to the run length).
- ``h`` spends one test's share of the false-alarm budget (``AlertBudget``), turned into a
  threshold by Siegmund's approximation (``online.siegmund``), averaged over the
  reference's own error (its class means are off by 1 / sqrt(count) SDs, 0.01 for 10,000
  labels: k covers that ten times). 1% per 1,000,000 labels: h = 62.97 in the first.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from streams.core.labels.label_cusum import LabelCusum
from streams.core.labels.placements import PlacementReference
from streams.core.online.siegmund import one_sided_threshold

__all__ = ["AucCusum"]

K = 0.15


class AucCusum(LabelCusum[PlacementReference]):
    """The downward CUSUM of one model version's standardised placements.

    Examples
    --------
    A reference at ROC AUC ~0.7, then the same model, then 45% of its labels flipped (ROC
    AUC ~0.52): quiet on the first 20,000 labels, over h within 400 labels after the fall.

    >>> from streams.core.labels.alert_budget import AlertBudget
    >>> rng = np.random.default_rng(3)
    >>> def pairs(n, flip=0.0):
    ...     positive = rng.random(n) < 0.4
    ...     score = np.clip(rng.normal(0.45 + 0.15 * positive, 0.2), 0, 1)
    ...     return score, positive ^ (rng.random(n) < flip)
    >>> reference = PlacementReference.from_scores(*pairs(10_000))
    >>> budget = AlertBudget(0.01, 1_000_000, 250, 8)
    >>> cusum = AucCusum(reference, budget)
    >>> cusum.update(*pairs(20_000), look=0)
    >>> cusum.verdict(look=0).value < cusum.threshold(look=0)
    True
    >>> labels = 0
    >>> while cusum.verdict(look=0).value <= cusum.threshold(look=0):
    ...     cusum.update(*pairs(50, flip=0.45), look=0)
    ...     labels += 50
    >>> labels, cusum.threshold(look=0)
    (400, 62.97)
    """

    name: ClassVar[str] = "auc_cusum"
    statistic: ClassVar[str] = "auc_placement_cusum"

    def _block_threshold(self, alpha: float, labels: int) -> float | None:
        return one_sided_threshold(K, alpha, labels, self.reference.mean_error)

    def _steps(self, score: np.ndarray, positive: np.ndarray) -> np.ndarray:
        steps: np.ndarray = -self.reference.standardised(score, positive) - K
        return steps

"""A fall of ROC AUC caught label by label: a downward CUSUM on the placement values.

Window checks judge the newest 1,000 labels at a strict critical value, so a sharp fall
needs most of a window behind it. This test accumulates evidence one label at a time
instead: each scored label's placement against the reference (``placements``), standardised
by its class's reference mean and SD, is ~(0, 1) with no change; a fall of the AUC moves it
down (0.66 -> 0.52 is about -0.5 SD per label). The statistic
``S = min(2 h, max(0, S - z - k))`` fires over ``h``.

- ``k`` = 0.15 SD: about half the shift of the fall it is tuned for. Flipping 45% of the
  labels of a model at ROC AUC 0.66 (-> 0.52) moves the placements against the reference
  by -0.27 SD, half the AUC's own fall (only the new pair's side is mislabelled, the
  reference's is not). Simulated over 20 seeds (labels from the fall to h, label by label),
  k = 0.08 / 0.1 / 0.12 / 0.15 / 0.2 gave means of 619 / 533 / 512 / 486 / 528. A small
  ``k`` also keeps it robust to the placements' skew (near 0 only their variance matters
  to the run length).
- ``h`` spends the false-alarm budget as one more one-sided test of each look
  (``AlertBudget``): block ``b``'s share for one test over its ``budget_labels`` labels,
  turned into a threshold by Siegmund's approximation (``online.siegmund``), averaged over
  the reference's own error (its class means are off by 1 / sqrt(count) SDs, 0.01 for
  10,000 labels: k covers that ten times). 1% per 1,000,000 labels: h = 62.49 in the first.
- The sum stops at ``2 h``: a fall that lasts is one episode, and once it is over the sum
  drops under the alert rule's ``h / 2`` within ``1.5 h / k`` labels.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from streams.core import plain_data as check
from streams.core.labels.alert_budget import AlertBudget
from streams.core.labels.performance_verdict import PerformanceVerdict
from streams.core.labels.placements import PlacementReference
from streams.core.online.siegmund import one_sided_threshold

__all__ = ["AucCusum"]

K = 0.15


class AucCusum:
    """The downward CUSUM of one model version's standardised placements.

    Examples
    --------
    A reference at ROC AUC ~0.7, then the same model, then 45% of its labels flipped (ROC
    AUC ~0.52): quiet on the first 20,000 labels, over h within 400 labels after the fall.

    >>> rng = np.random.default_rng(3)
    >>> def pairs(n, flip=0.0):
    ...     positive = rng.random(n) < 0.4
    ...     score = np.clip(rng.normal(0.45 + 0.15 * positive, 0.2), 0, 1)
    ...     return score, positive ^ (rng.random(n) < flip)
    >>> reference = PlacementReference.from_scores(*pairs(10_000))
    >>> budget = AlertBudget(0.01, 1_000_000, 250, 7)
    >>> cusum = AucCusum(reference, budget)
    >>> cusum.update(*pairs(20_000), look=0)
    >>> cusum.verdict(look=0).value < cusum.threshold(look=0)
    True
    >>> labels = 0
    >>> while cusum.verdict(look=0).value <= cusum.threshold(look=0):
    ...     cusum.update(*pairs(50, flip=0.45), look=0)
    ...     labels += 50
    >>> labels, cusum.threshold(look=0)
    (400, 62.49)
    """

    SNAPSHOT_VERSION: ClassVar[None] = None  # a part of its performance monitor's state
    name: ClassVar[str] = "auc_cusum"
    statistic: ClassVar[str] = "auc_placement_cusum"

    def __init__(self, reference: PlacementReference, budget: AlertBudget) -> None:
        self.reference = reference
        self.budget = budget
        self.value = 0.0
        self._thresholds: dict[int, float] = {}

    @classmethod
    def of(cls, reference: PlacementReference | None, budget: AlertBudget) -> AucCusum | None:
        """The test of a reference, or None without one or when it is not ``usable``."""
        cusum = None if reference is None else cls(reference, budget)
        return cusum if cusum is not None and cusum.usable else None

    @property
    def usable(self) -> bool:
        """False when the reference is too small for ``k`` to cover its error: no threshold
        meets the budget, and the test stays off."""
        return math.isfinite(self.threshold(look=0))

    def threshold(self, *, look: int) -> float:
        """h at evaluation ``look``: its block's share of the budget for one test (inf if
        none meets it)."""
        block = look // self.budget.looks_per_block
        if block not in self._thresholds:
            alpha = self.budget.alpha_at(look) * self.budget.looks_per_block
            h = one_sided_threshold(K, alpha, self.budget.budget_labels,
                                    self.reference.mean_error)  # fmt: skip
            self._thresholds[block] = math.inf if h is None else h
        return self._thresholds[block]

    def update(self, score: np.ndarray, positive: np.ndarray, *, look: int) -> None:
        """Take a batch of scored pairs in label order (NaN scores are skipped)."""
        cap, value = 2 * self.threshold(look=look), self.value
        if not math.isfinite(cap):
            return
        for z in self.reference.standardised(score, positive).tolist():
            value = min(cap, max(0.0, value - z - K))
        self.value = value

    def verdict(self, *, look: int) -> PerformanceVerdict:
        return PerformanceVerdict("performance", self.name, None, self.statistic, self.value,
                                  self.threshold(look=look), self.name)  # fmt: skip

    def snapshot(self) -> dict[str, Any]:
        return {"value": self.value}

    @classmethod
    def restore(cls, snapshot: Any, reference: PlacementReference, budget: AlertBudget) -> AucCusum:
        """A CUSUM continuing from ``snapshot()``; ``InvalidState`` if it is malformed."""
        raw = check.mapping(snapshot, "auc_cusum", ("value",))
        cusum = cls(reference, budget)
        cusum.value = check.number(raw["value"], "auc_cusum.value", low=0.0)
        return cusum

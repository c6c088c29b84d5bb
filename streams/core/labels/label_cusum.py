"""What the label side's label-by-label CUSUMs share: a one-sided sum of per-label steps,
held to a threshold that spends one test's share of the false-alarm budget.

Window checks judge the newest 1,000 labels at a strict critical value, so a sharp fall
needs most of a window behind it; a CUSUM accumulates the evidence one label at a time
instead. Each test (``auc_cusum``, ``calibration_cusum``) says what a label's step is and
how its threshold meets the budget; this base keeps the sum, the per-block thresholds, the
verdict and the snapshot.

The sum stops at ``2 h``: a fall that lasts is one episode, and once it is over the sum
drops back under the alert rule's ``h / 2`` at the steps' negative drift.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Generic, Self, TypeVar

import numpy as np

from streams.core import plain_data as check
from streams.core.labels.alert_budget import AlertBudget
from streams.core.labels.performance_verdict import PerformanceVerdict

__all__ = ["LabelCusum"]

Reference = TypeVar("Reference")


class LabelCusum(Generic[Reference]):
    """A one-sided CUSUM of one model version's labels against a ``Reference``."""

    SNAPSHOT_VERSION: ClassVar[None] = None  # a part of its performance monitor's state
    name: ClassVar[str]
    statistic: ClassVar[str]

    def __init__(self, reference: Reference, budget: AlertBudget) -> None:
        self.reference = reference
        self.budget = budget
        self.value = 0.0
        self._thresholds: dict[int, float] = {}

    @classmethod
    def of(cls, reference: Reference | None, budget: AlertBudget) -> Self | None:
        """The test of a reference, or None without one or when it is not ``usable``."""
        cusum = None if reference is None else cls(reference, budget)
        return cusum if cusum is not None and cusum.usable else None

    @property
    def usable(self) -> bool:
        """False when no threshold meets the budget (the reference is too small or too
        uncertain): the test stays off."""
        return math.isfinite(self.threshold(look=0))

    def threshold(self, *, look: int) -> float:
        """h at evaluation ``look``: its block's share of the budget for one test over the
        block's labels (inf if none meets it)."""
        block = look // self.budget.looks_per_block
        if block not in self._thresholds:
            alpha = self.budget.alpha_at(look) * self.budget.looks_per_block
            h = self._block_threshold(alpha, self.budget.budget_labels)
            self._thresholds[block] = math.inf if h is None else h
        return self._thresholds[block]

    def _block_threshold(self, alpha: float, labels: int) -> float | None:
        """The smallest h whose chance of a false alarm within ``labels`` labels is at most
        ``alpha``; None if there is none."""
        raise NotImplementedError

    def _steps(self, score: np.ndarray, positive: np.ndarray) -> np.ndarray:
        """Each scored pair's step (NaN scores left out), in label order."""
        raise NotImplementedError

    def update(self, score: np.ndarray, positive: np.ndarray, *, look: int) -> None:
        """Take a batch of scored pairs in label order (NaN scores are skipped)."""
        cap, value = 2 * self.threshold(look=look), self.value
        if not math.isfinite(cap):
            return
        for step in self._steps(score, positive).tolist():
            value = min(cap, max(0.0, value + step))
        self.value = value

    def verdict(self, *, look: int) -> PerformanceVerdict:
        return PerformanceVerdict("performance", self.name, None, self.statistic, self.value,
                                  self.threshold(look=look), self.name)  # fmt: skip

    def snapshot(self) -> dict[str, Any]:
        return {"value": self.value}

    def restored(self, snapshot: Any) -> Self:
        """This test continuing from ``snapshot()``; ``InvalidState`` if it is malformed."""
        raw = check.mapping(snapshot, self.name, ("value",))
        self.value = check.number(raw["value"], f"{self.name}.value", low=0.0)
        return self

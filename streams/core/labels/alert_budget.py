"""The label side's false-alarm budget, spent over every evaluation of a stream.

A performance check runs every few hundred labels on overlapping windows, so a test at 1%
per look fires on noise again and again over a long stream. The budget ``alpha`` is the
chance of any false performance or concept-drift alert per ``budget_labels`` labels (a
union bound, so it holds however correlated the looks are). Its halves go to the
performance tests and to concept drift. Looks are counted in blocks of ``budget_labels``;
block ``b`` (from 1) gets ``alpha * 6 / (pi^2 b^2)`` of the budget, spread evenly over its
looks, so the total stays under ``alpha`` on a stream of any length while the first block
is tested almost as sharply as a fixed Bonferroni split would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

__all__ = ["AlertBudget"]

_BLOCK_SHARE = 6 / math.pi**2  # sum over b >= 1 of 6 / (pi^2 b^2) is 1


@dataclass(frozen=True, slots=True)
class AlertBudget:
    """Per-look critical values from the false-alarm budget.

    Parameters
    ----------
    alpha
        Chance of any false alert per ``budget_labels`` labels.
    budget_labels
        The labels a block of looks covers.
    evaluate_every
        Labels between two performance looks.
    tests_per_look
        One-sided tests at each look (metrics times windows).

    Examples
    --------
    >>> budget = AlertBudget(alpha=0.01, budget_labels=1_000_000, evaluate_every=250,
    ...                      tests_per_look=6)
    >>> round(budget.z(0), 2), round(budget.z(3999), 2), round(budget.z(4000), 2)
    (5.16, 5.16, 5.41)
    >>> f"{budget.adwin_delta(clock=32):.1e}"
    '1.6e-07'
    """

    alpha: float
    budget_labels: int
    evaluate_every: int
    tests_per_look: int

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError("alpha must be in (0, 1)")
        if min(self.budget_labels, self.evaluate_every, self.tests_per_look) < 1:
            raise ValueError("budget_labels, evaluate_every and tests_per_look must be positive")

    @property
    def looks_per_block(self) -> int:
        return max(1, self.budget_labels // self.evaluate_every)

    def alpha_at(self, look: int) -> float:
        """One-sided significance of each test at ``look`` (counted from 0)."""
        block = look // self.looks_per_block + 1
        spent = self.alpha / 2 * _BLOCK_SHARE / block**2
        return spent / (self.looks_per_block * self.tests_per_look)

    def z(self, look: int) -> float:
        """The standard-normal critical value of each test at ``look``."""
        return NormalDist().inv_cdf(1 - self.alpha_at(look))

    def adwin_delta(self, *, clock: int) -> float:
        """ADWIN's ``delta`` on the error stream: the other half of the first block's budget
        over its checks (one every ``clock`` labels). ADWIN's own bound keeps each check's
        false-cut chance under ``delta``; its window restarts after a cut, so later blocks
        are not tightened (a cut alone raises no alert: the error rate must have risen too).
        """
        checks = max(1, self.budget_labels // clock)
        return self.alpha / 2 / checks

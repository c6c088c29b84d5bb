"""Why events were anomalous: their squared Mahalanobis distance split per feature.

The split is by the **symmetric (ZCA-cor) whitened coordinates**: with ``z`` an event's
standardised features and ``P`` the scorer's precision, ``w = P^{1/2} z`` has
``sum(w_i^2) = z' P z = d^2`` exactly, so each ``w_i^2`` is feature ``i``'s part of the
distance. Why this one: every part is non-negative (shares that add up to 1, readable as
"x% of the distance"), it does not depend on the order of the features (a Cholesky
whitening does), and of all whitenings the symmetric one keeps each whitened coordinate the
most correlated with its own standardised feature (Kessy, Lewin and Strimmer, 2018), so
``w_i`` is still "about" feature ``i``. The conditional contribution ``z_i (P z)_i`` also
sums to ``d^2`` but can be negative, which makes shares of it hard to read.

Only the anomalous events' rows are whitened (about 0.1% of a window when nothing is wrong),
so the cost per batch is the flag test already made plus a product on a few rows.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np

from streams.core import plain_data as check
from streams.core.alerts.alert import Explanation
from streams.core.drift.anomaly import AnomalyScorer

__all__ = ["TOP_FEATURES", "AnomalyContributions"]

#: Features an explanation names, the largest shares first.
TOP_FEATURES = 5


class AnomalyContributions:
    """Per-feature sums of the anomalous events' squared whitened coordinates over a window.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> reference = rng.normal(0, 1, (5000, 3))
    >>> scorer = AnomalyScorer.from_reference(("a", "b", "c"), reference)
    >>> contributions = AnomalyContributions(scorer)
    >>> rows = rng.normal(0, 1, (100, 3))
    >>> rows[:, 1] += 8  # "b" is far off on every event
    >>> contributions.add(rows, scorer.scores(rows) > scorer.threshold)
    >>> [(name, round(share, 2)) for name, share in contributions.explanation()][:1]
    [('b', 0.97)]
    """

    SNAPSHOT_VERSION: ClassVar[None] = None

    def __init__(self, scorer: AnomalyScorer) -> None:
        self.scorer = scorer
        values, vectors = np.linalg.eigh(scorer.precision)
        # The precision is positive definite (a ridge is added to the correlation).
        self._root = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
        self._sums = np.zeros(len(scorer.names))

    def add(self, rows: np.ndarray, flags: np.ndarray) -> None:
        """Add the parts of ``rows`` (the scorer's columns) whose ``flags`` are set."""
        if not flags.any():
            return
        scorer = self.scorer
        standard = np.nan_to_num((rows[flags] - scorer.mean) / scorer.scale)
        self._sums += ((standard @ self._root) ** 2).sum(axis=0)

    def explanation(self, top: int = TOP_FEATURES) -> list[tuple[str, float]]:
        """The ``top`` features by share of the window's anomalous distance (empty when
        no event was anomalous), shares of the whole, largest first."""
        total = float(self._sums.sum())
        if not total > 0:
            return []
        order = sorted(range(len(self._sums)), key=lambda i: (-self._sums[i], i))[:top]
        return [(self.scorer.names[i], float(self._sums[i] / total)) for i in order]

    def as_explanation(self) -> Explanation | None:
        """``explanation()`` as an alert carries it (None when nothing was anomalous)."""
        features: tuple[tuple[str, float, dict[str, Any]], ...] = tuple(
            (name, share, {}) for name, share in self.explanation()
        )
        return Explanation("mahalanobis_share", features) if features else None

    def end_window(self) -> None:
        self._sums = np.zeros(len(self.scorer.names))

    def snapshot(self) -> dict[str, Any]:
        return {"sums": [float(v) for v in self._sums]}

    @classmethod
    def restore(cls, snapshot: Any, scorer: AnomalyScorer) -> Self:
        raw = check.mapping(snapshot, "contributions", ("sums",))
        contributions = cls(scorer)
        contributions._sums = np.asarray(
            check.numbers(raw["sums"], "contributions.sums", length=len(scorer.names), low=0.0)
        )
        return contributions

"""Model performance over a window of labelled predictions, one instance per model version.

Predictions meet their delayed ground-truth labels elsewhere; the joined pairs arrive here
in micro-batches of numpy columns. Each window is a ring buffer of the last
``window_events`` pairs, so memory stays fixed however long the stream runs, and metrics
are computed from it on demand: over the whole window, or only over its pairs since a time.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Self

import numpy as np

from streams.core import plain_data as check
from streams.core.labels.metric_estimates import (
    Estimate,
    classification_estimates,
    regression_estimates,
    roc_auc,
)
from streams.core.labels.ring import ColumnRing

__all__ = ["ClassificationWindow", "RegressionWindow"]

# Log loss clips scores so that one confident miss costs about 34.5 nats, not infinity.
_EPSILON = 1e-15
_NAN = float("nan")


class _LabelledWindow:
    """A ring buffer of named columns holding the last ``window_events`` pairs added."""

    _COLUMNS: ClassVar[dict[str, type]]
    _PARAMS: ClassVar[tuple[str, ...]]
    SNAPSHOT_VERSION: ClassVar[int] = 1

    def __init__(self, window_events: int) -> None:
        self.window_events = window_events
        self._ring = ColumnRing(window_events, self._COLUMNS)

    def __len__(self) -> int:
        return len(self._ring)

    def _push(self, **arrays: Any) -> None:
        # Convert and check every column before writing any, so a rejected batch leaves the
        # window as it was.
        batch: dict[str, np.ndarray] = {
            name: np.asarray(arrays[name], dtype) for name, dtype in self._COLUMNS.items()
        }
        lengths = {column.shape for column in batch.values()}
        if len(lengths) != 1 or len(next(iter(lengths))) != 1:
            raise ValueError("the columns of a batch must be 1-D arrays of equal length")
        self._check(batch)
        self._ring.push(batch)

    def _check(self, batch: dict[str, np.ndarray]) -> None:
        """Raise ``ValueError`` if a batch's values are out of range."""

    def _rows(self, since_ms: int | None, last: int | None = None) -> dict[str, np.ndarray]:
        # Storage order (every metric is order-free) unless only the newest rows are wanted.
        rows = self._ring.rows() if last is None else self._ring.last(last)
        if since_ms is None:
            return rows
        recent = rows["timestamp_ms"] >= since_ms
        return {name: column[recent] for name, column in rows.items()}

    def span(self, last: int | None = None) -> tuple[int, int]:
        """Prediction times of the first and the newest of the newest ``last`` pairs (all
        if None): the window a judgement covers. (0, 0) when empty."""
        times = self._ring.last(last)["timestamp_ms"]
        return (int(times[0]), int(times[-1])) if times.size else (0, 0)

    def extend(self, other: _LabelledWindow) -> None:
        """Take ``other``'s pairs, oldest first (a window restored at another size)."""
        self._push(**other._ring.last())

    def snapshot(self) -> dict[str, Any]:
        """The window as plain JSON data (NaN as None), for ``restore``."""
        params = {name: getattr(self, name) for name in self._PARAMS}
        return {"version": self.SNAPSHOT_VERSION, **params, **self._ring.snapshot()}

    @classmethod
    def restore(cls, snapshot: Any) -> Self:
        """A window continuing from ``snapshot``, as taken by ``snapshot()``; ``InvalidState``
        for anything malformed."""
        raw = check.version(snapshot, "window", cls.SNAPSHOT_VERSION)
        with check.restoring("window"):
            window = cls(**{name: raw[name] for name in cls._PARAMS})
        window._ring = ColumnRing.restore(raw, window.window_events, cls._COLUMNS)
        return window


class ClassificationWindow(_LabelledWindow):
    """Accuracy, precision, recall, F1, ROC AUC, log loss and calibration error of a model.

    The caller reduces each pair to a binary view against the model's positive class;
    ``correct`` is kept apart so that accuracy stays right for multiclass models.

    Parameters
    ----------
    window_events
        Labelled pairs kept: the window is the last ``window_events`` added.
    calibration_bins
        Equal-width score bins over [0, 1] for the expected calibration error.

    Examples
    --------
    A model that stops tracking its label at t=400 ms: the last 100 pairs show it before
    the whole window does.

    >>> rng = np.random.default_rng(7)
    >>> truth = rng.random(500) < 0.3
    >>> score = np.round(0.4 * truth + 0.6 * rng.random(500), 2)
    >>> score[400:] = np.round(rng.random(100), 2)
    >>> predicted = score >= 0.5
    >>> window = ClassificationWindow(window_events=200)
    >>> window.add(correct=predicted == truth, true_positive_class=truth,
    ...            predicted_positive_class=predicted, score=score,
    ...            timestamp_ms=np.arange(500, dtype=np.int64))
    >>> len(window)
    200
    >>> round(window.metrics()["roc_auc"], 3), round(window.metrics(since_ms=400)["roc_auc"], 3)
    (0.728, 0.488)
    """

    _COLUMNS: ClassVar[dict[str, type]] = {
        "correct": np.bool_,
        "true_positive_class": np.bool_,
        "predicted_positive_class": np.bool_,
        "score": np.float64,
        "timestamp_ms": np.int64,
    }
    _PARAMS: ClassVar[tuple[str, ...]] = ("window_events", "calibration_bins")

    def __init__(self, *, window_events: int = 1000, calibration_bins: int = 10) -> None:
        if not isinstance(calibration_bins, int) or calibration_bins < 1:
            raise ValueError("calibration_bins must be a positive integer")
        self.calibration_bins = calibration_bins
        super().__init__(window_events)

    def add(
        self,
        *,
        correct: np.ndarray,
        true_positive_class: np.ndarray,
        predicted_positive_class: np.ndarray,
        score: np.ndarray,
        timestamp_ms: np.ndarray,
    ) -> None:
        """Take a batch of labelled pairs; ``score`` is P(positive class), NaN if none.

        Raises ``ValueError``, leaving the window unchanged, if the columns differ in
        length or a score lies outside [0, 1].
        """
        self._push(correct=correct, true_positive_class=true_positive_class,
                   predicted_positive_class=predicted_positive_class, score=score,
                   timestamp_ms=timestamp_ms)  # fmt: skip

    def _check(self, batch: dict[str, np.ndarray]) -> None:
        # Log loss and calibration read scores as probabilities; a logit would pass silently.
        if np.any((batch["score"] < 0) | (batch["score"] > 1)):
            raise ValueError("scores must lie in [0, 1] (NaN for no score)")

    def metrics(self, *, since_ms: int | None = None, last: int | None = None) -> dict[str, float]:
        """Metrics over the window, its newest ``last`` pairs, or its pairs with
        ``timestamp_ms >= since_ms``.

        An undefined metric is NaN. F1 is ``2TP / (2TP + FP + FN)``, so it is 0, not NaN,
        when precision alone is undefined. ROC AUC, log loss and calibration error use the
        pairs with a score.
        """
        rows = self._rows(since_ms, last)
        truth, predicted = rows["true_positive_class"], rows["predicted_positive_class"]
        tp = int(np.count_nonzero(truth & predicted))
        fp = int(np.count_nonzero(~truth & predicted))
        fn = int(np.count_nonzero(truth & ~predicted))
        scored = ~np.isnan(rows["score"])
        score, outcome = rows["score"][scored], truth[scored]
        return {
            "count": len(truth),
            "accuracy": _ratio(int(np.count_nonzero(rows["correct"])), len(truth)),
            "precision": _ratio(tp, tp + fp),
            "recall": _ratio(tp, tp + fn),
            "f1": _ratio(2 * tp, 2 * tp + fp + fn),
            "roc_auc": roc_auc(score, outcome).value,
            "log_loss": _log_loss(score, outcome),
            "calibration_error": _calibration_error(score, outcome, self.calibration_bins),
        }

    def estimates(self, *, last: int | None = None) -> dict[str, Estimate]:
        """Accuracy, precision, recall, F1 and ROC AUC of the newest ``last`` pairs (all if
        None), with their uncertainty."""
        rows = self._rows(None, last)
        truth, predicted = rows["true_positive_class"], rows["predicted_positive_class"]
        return classification_estimates(rows["correct"], truth, predicted, rows["score"])

    def scored(self) -> tuple[np.ndarray, np.ndarray]:
        """Every pair's score (NaN if none) and whether it is of the positive class, oldest
        first: what the ROC AUC placement reference is built from."""
        rows = self._ring.last()
        return rows["score"], rows["true_positive_class"]


class RegressionWindow(_LabelledWindow):
    """Mean absolute and root mean squared error of a regression model.

    Parameters
    ----------
    window_events
        Labelled pairs kept: the window is the last ``window_events`` added.

    Examples
    --------
    >>> rng = np.random.default_rng(7)
    >>> window = RegressionWindow(window_events=100)
    >>> window.add(error=rng.normal(0.5, 2.0, 300), timestamp_ms=np.arange(300, dtype=np.int64))
    >>> {k: round(v, 3) for k, v in window.metrics().items()}
    {'count': 100, 'mae': 1.627, 'rmse': 2.044}
    """

    _COLUMNS: ClassVar[dict[str, type]] = {"error": np.float64, "timestamp_ms": np.int64}
    _PARAMS: ClassVar[tuple[str, ...]] = ("window_events",)

    def __init__(self, *, window_events: int = 1000) -> None:
        super().__init__(window_events)

    def add(self, *, error: np.ndarray, timestamp_ms: np.ndarray) -> None:
        """Take a batch of errors (prediction - label), all finite."""
        self._push(error=error, timestamp_ms=timestamp_ms)

    def _check(self, batch: dict[str, np.ndarray]) -> None:
        # A pair without a prediction or label has no error; the join should not emit it.
        if not np.all(np.isfinite(batch["error"])):
            raise ValueError("errors must be finite")

    def estimates(self, *, last: int | None = None) -> dict[str, Estimate]:
        """MAE and RMSE of the newest ``last`` pairs (all if None), with their uncertainty."""
        return regression_estimates(self._rows(None, last)["error"])

    def metrics(self, *, since_ms: int | None = None, last: int | None = None) -> dict[str, float]:
        """``count``, ``mae`` and ``rmse`` over the window, its newest ``last`` pairs, or its
        pairs since ``since_ms``."""
        error = self._rows(since_ms, last)["error"]
        if error.size == 0:
            return {"count": 0, "mae": _NAN, "rmse": _NAN}
        mae = float(np.mean(np.abs(error)))
        return {"count": error.size, "mae": mae, "rmse": math.sqrt(float(np.mean(error**2)))}


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else _NAN


def _log_loss(score: np.ndarray, positive: np.ndarray) -> float:
    if score.size == 0:
        return _NAN
    p = np.clip(score, _EPSILON, 1 - _EPSILON)
    return float(-np.mean(np.where(positive, np.log(p), np.log(1 - p))))


def _calibration_error(score: np.ndarray, positive: np.ndarray, bins: int) -> float:
    if score.size == 0:
        return _NAN
    # Bins [i/B, (i+1)/B), the last one closed so that a score of exactly 1 is counted.
    edges = np.arange(bins + 1) / bins
    which = np.clip(np.searchsorted(edges, score, side="right") - 1, 0, bins - 1)
    score_sums = np.bincount(which, weights=score, minlength=bins)
    positive_sums = np.bincount(which, weights=positive.astype(float), minlength=bins)
    # share_b * |mean score_b - positive rate_b| = |score sum_b - positives_b| / n.
    return float(np.abs(score_sums - positive_sums).sum() / score.size)

"""Estimated precision, recall, F1 and accuracy of a binary classifier before its labels come.

Labels arrive minutes to weeks after predictions, so measured performance always lags; an
estimate from the scores alone is visible at once. It is confidence-based, as NannyML's
CBPE: if ``p`` is the probability that an event is positive, that event adds ``p`` to the
expected true positives (or false negatives, when predicted negative) and ``1 - p`` to the
false positives (or true negatives). It is right on average only under two assumptions:

- the scores are calibrated (fit a ``ScoreCalibration`` on labelled reference data when
  they are not), and
- there is no concept drift: P(positive | score) is what it was on the reference. A shift
  in the inputs is estimated well; a change in what the labels mean is invisible here, and
  only the labelled metrics will show it.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np

from streams.core import plain_data as check
from streams.core.labels.ring import ColumnRing

__all__ = ["LabelFreeEstimator", "ScoreCalibration"]

_COLUMNS = {"score": np.float64, "predicted": np.bool_}

_NAN = float("nan")


class ScoreCalibration:
    """Histogram binning: a score becomes the positive rate of its bin on the reference.

    Bins are equal-width over [0, 1], each closed on the left and the last on both sides.
    Build with ``fit`` or ``identity``, not directly.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> score = rng.random(20_000)
    >>> truth = rng.random(20_000) < score**2  # the model is overconfident
    >>> calibration = ScoreCalibration.fit(score, truth, bins=10)
    >>> np.round(calibration.apply(np.array([0.05, 0.5, 0.95])), 2)
    array([0.  , 0.31, 0.89])
    """

    __slots__ = ("values",)
    VERSION: ClassVar[int] = 1  # of ``to_dict``: reference data, stored within a snapshot

    def __init__(self, values: np.ndarray | None) -> None:
        if values is not None:
            values.flags.writeable = False  # shared by every estimator given this calibration
        self.values = values  # the calibrated value of each bin; None for the identity

    @classmethod
    def identity(cls) -> Self:
        """A calibration that leaves scores as they are, for models known to be calibrated."""
        return cls(None)

    @classmethod
    def fit(cls, scores: np.ndarray, true_positive: np.ndarray, *, bins: int = 20) -> Self:
        """Fit on labelled reference ``scores`` (NaN ignored) and their labels.

        A bin with no reference score takes the value interpolated between the nearest
        bins with some (the nearest one's beyond the outermost), so a rare score is mapped
        near its neighbours rather than to an arbitrary default.
        """
        if not isinstance(bins, int) or bins < 1:
            raise ValueError("bins must be a positive integer")
        score, truth = _scores(scores), np.asarray(true_positive)
        if truth.dtype != np.bool_ or truth.shape != score.shape:
            raise ValueError("true_positive must be a boolean array as long as scores")
        scored = ~np.isnan(score)
        if not scored.any():
            raise ValueError("fit needs at least one score")
        which = _bin(score[scored], bins)
        count = np.bincount(which, minlength=bins)
        positives = np.bincount(which[truth[scored]], minlength=bins)
        filled = count > 0
        centres = (np.arange(bins) + 0.5) / bins
        rates = positives[filled] / count[filled]
        return cls(np.interp(centres, centres[filled], rates))

    def apply(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of ``scores`` in [0, 1] (NaN stays NaN), as a new array."""
        score = _scores(scores)
        if self.values is None:
            return score.copy()
        calibrated = np.full(score.shape, _NAN)
        scored = ~np.isnan(score)
        calibrated[scored] = self.values[_bin(score[scored], self.values.size)]
        return calibrated

    def to_dict(self) -> dict[str, Any]:
        values = None if self.values is None else self.values.tolist()
        return {"version": self.VERSION, "values": values}

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        data = check.version(data, "calibration", cls.VERSION)
        if data["values"] is None:
            return cls.identity()
        values = np.asarray(data["values"], np.float64)
        if values.ndim != 1 or values.size == 0 or not np.all((values >= 0) & (values <= 1)):
            raise ValueError("calibration values must be probabilities, one per bin")
        return cls(values)


class LabelFreeEstimator:
    """Expected confusion matrix, and the metrics from it, over the last scored predictions.

    Parameters
    ----------
    window_events
        Scored predictions kept: the window is the last ``window_events`` added.
    calibration
        Maps the model's scores to probabilities; None for the identity.

    Examples
    --------
    >>> rng = np.random.default_rng(11)
    >>> score = rng.beta(0.6, 0.9, 5000)
    >>> estimator = LabelFreeEstimator(window_events=2000)
    >>> estimator.add(score, score >= 0.5)
    >>> {k: round(v, 3) for k, v in estimator.estimate().items()}
    {'count': 2000, 'precision': 0.752, 'recall': 0.7, 'f1': 0.725, 'accuracy': 0.79}

    What the labels, when they come, will say (they are drawn with P(positive) = score):

    >>> truth = rng.random(5000)[-2000:] < score[-2000:]
    >>> predicted = score[-2000:] >= 0.5
    >>> round(float(truth[predicted].mean()), 3), round(float(predicted[truth].mean()), 3)
    (0.732, 0.702)
    """

    SNAPSHOT_VERSION: ClassVar[int] = 1

    def __init__(
        self, *, window_events: int = 1000, calibration: ScoreCalibration | None = None
    ) -> None:
        if not isinstance(window_events, int) or window_events < 1:
            raise ValueError("window_events must be a positive integer")
        self.window_events = window_events
        self.calibration = ScoreCalibration.identity() if calibration is None else calibration
        self._ring = ColumnRing(window_events, _COLUMNS)

    def __len__(self) -> int:
        return len(self._ring)

    def add(self, scores: np.ndarray, predicted_positive: np.ndarray) -> None:
        """Take a batch: P(positive class) as scored, and whether it was predicted positive.

        Predictions without a score (NaN) are skipped. Raises ``ValueError``, leaving the
        window unchanged, if the lengths differ or a score lies outside [0, 1].
        """
        score, predicted = _scores(scores), np.asarray(predicted_positive)
        if predicted.dtype != np.bool_ or predicted.shape != score.shape:
            raise ValueError("predicted_positive must be a boolean array as long as scores")
        scored = ~np.isnan(score)
        self._ring.push({"score": score[scored], "predicted": predicted[scored]})

    def expected_confusion(self) -> dict[str, float]:
        """Expected ``tp``, ``fp``, ``fn`` and ``tn`` over the window."""
        rows = self._ring.rows()
        p, predicted = self.calibration.apply(rows["score"]), rows["predicted"]
        positive, negative = p[predicted], p[~predicted]
        return {"tp": float(positive.sum()), "fp": float((1 - positive).sum()),
                "fn": float(negative.sum()), "tn": float((1 - negative).sum())}  # fmt: skip

    def estimate(self) -> dict[str, float]:
        """``count`` and estimated ``precision``, ``recall``, ``f1``, ``accuracy``.

        Undefined metrics are NaN: precision without predicted positives, recall when no
        event can be positive, all of them on an empty window. F1 is
        ``2TP / (2TP + FP + FN)``, as for the labelled metrics.
        """
        c = self.expected_confusion()
        tp, fp, fn, tn = c["tp"], c["fp"], c["fn"], c["tn"]
        return {
            "count": len(self),
            "precision": _ratio(tp, tp + fp),
            "recall": _ratio(tp, tp + fn),
            "f1": _ratio(2 * tp, 2 * tp + fp + fn),
            "accuracy": _ratio(tp + tn, len(self)),
        }

    def snapshot(self) -> dict[str, Any]:
        """The window and its calibration as plain JSON data, for ``restore``."""
        return {"version": self.SNAPSHOT_VERSION, "window_events": self.window_events,
                "calibration": self.calibration.to_dict(), **self._ring.snapshot()}  # fmt: skip

    @classmethod
    def restore(cls, snapshot: Any) -> Self:
        """An estimator continuing from ``snapshot``, as taken by ``snapshot()``;
        ``InvalidState`` for anything malformed."""
        raw = check.version(snapshot, "label_free", cls.SNAPSHOT_VERSION)
        with check.restoring("label_free"):
            calibration = ScoreCalibration.from_dict(raw["calibration"])
            estimator = cls(window_events=raw["window_events"], calibration=calibration)
        estimator._ring = ColumnRing.restore(raw, estimator.window_events, _COLUMNS)
        return estimator


def _scores(scores: np.ndarray) -> np.ndarray:
    # Probabilities only: a logit or a margin would give confident nonsense, not an error.
    score = np.asarray(scores, np.float64)
    if score.ndim != 1 or np.any((score < 0) | (score > 1)):
        raise ValueError("scores must be a 1-D array in [0, 1] (NaN for no score)")
    return score


def _bin(score: np.ndarray, bins: int) -> np.ndarray:
    return np.minimum((score * bins).astype(np.int64), bins - 1)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else _NAN

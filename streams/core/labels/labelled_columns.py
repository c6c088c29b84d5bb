"""Joined pairs as the numpy columns the performance windows take, one task at a time."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from streams.core.contract.columns import category_of
from streams.core.contract.spec import ModelSpec
from streams.core.labels.labelled import LabelledPrediction

__all__ = ["labelled_columns", "usable"]


def usable(spec: ModelSpec, pair: LabelledPrediction) -> bool:
    """Whether ``pair`` can be judged: a regression needs a number on both sides."""
    if spec.task != "regression":
        return True
    return all(type(v) in (int, float) for v in (pair.prediction, pair.label))


def labelled_columns(spec: ModelSpec, pairs: Sequence[LabelledPrediction]) -> dict[str, np.ndarray]:
    """The columns of ``pairs`` (all usable): errors for a regression; for a classifier
    whether each was right and the binary view against ``spec``'s positive class.

    >>> from streams.core.contract.spec import FeatureSpec
    >>> spec = ModelSpec("m", {"x": FeatureSpec("number")})
    >>> pair = LabelledPrediction("m", "v1", "e", 1, 0, 0.7, None, 5, 9)
    >>> columns = labelled_columns(spec, [pair])
    >>> [columns[k].tolist() for k in ("correct", "predicted_positive_class", "score")]
    [[False], [True], [0.7]]
    """
    timestamps = np.array([p.predicted_at_ms for p in pairs], dtype=np.int64)
    if spec.task == "regression":
        predictions = np.array([p.prediction for p in pairs], dtype=float)
        labels = np.array([p.label for p in pairs], dtype=float)
        return {"error": predictions - labels, "timestamp_ms": timestamps}
    predicted = [category_of(p.prediction) for p in pairs]
    actual = [category_of(p.label) for p in pairs]
    positive = spec.positive_classes
    return {
        "correct": np.array([a == b for a, b in zip(predicted, actual, strict=True)], dtype=bool),
        "true_positive_class": np.array([a in positive for a in actual], dtype=bool),
        "predicted_positive_class": np.array([b in positive for b in predicted], dtype=bool),
        "score": np.array([np.nan if p.score is None else p.score for p in pairs], dtype=float),
        "timestamp_ms": timestamps,
    }

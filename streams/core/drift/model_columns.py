"""The columns a model version's monitor watches, from a batch of its events."""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter

import numpy as np

from streams.core.contract.columns import Columns, category_of
from streams.core.contract.event import PredictionEvent
from streams.core.contract.pii import PiiPolicy
from streams.core.drift.detector_set import PREDICTION, SCORE

__all__ = ["model_columns"]

_SCORE, _PREDICTION = attrgetter("score"), attrgetter("prediction")


def model_columns(
    events: Sequence[PredictionEvent],
    numeric: tuple[str, ...],
    categorical: tuple[str, ...],
    *,
    hashed: tuple[str, ...],
    pii: PiiPolicy,
    regression: bool,
) -> Columns:
    """The features (the ``hashed`` ones redacted by ``pii``), then the score, then the
    prediction: a number of a regression, a category otherwise."""
    columns = Columns.from_events(events, numeric, categorical)
    for name in hashed:
        columns.categorical[name] = pii.redact_column(columns.categorical[name])
    scores = np.array(list(map(_SCORE, events)), dtype=float).reshape(-1, 1)
    predictions = list(map(category_of, map(_PREDICTION, events)))
    if regression:
        regressions = np.array(predictions, dtype=float).reshape(-1, 1)
        numbers = np.hstack([columns.numeric, scores, regressions])
        return Columns((*columns.numeric_names, SCORE, PREDICTION), numbers, columns.categorical)
    numbers = np.hstack([columns.numeric, scores])
    categorical_columns = {**columns.categorical, PREDICTION: predictions}
    return Columns((*columns.numeric_names, SCORE), numbers, categorical_columns)

"""ROC AUC placement values against a reference, in bounded memory.

A labelled pair's placement says where its score stands among the reference's other class:
a positive's is the share of the reference's negatives scoring below it, a negative's the
share of the reference's positives scoring above it (ties count half). Under no change both
have mean = the reference's ROC AUC (they are DeLong's components); a fall of the AUC lowers
them, one label at a time, which a sequential test (``auc_cusum``) can read label by label.

The reference keeps each class's scores as at most ``size`` quantiles (all of them when the
class has fewer), so placements are exact for a small reference and within 1 / ``size`` of
exact for a large one; their mean and standard deviation per class are taken from the
reference's own pairs through the same summary, so a new pair is standardised consistently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from streams.core import plain_data as check

__all__ = ["PlacementReference", "placements"]

QUANTILES = 256
_MIN_CLASS = 20  # fewer reference pairs of a class: no placement reference


def placements(score: np.ndarray, positive: np.ndarray, negatives: np.ndarray,
               positives: np.ndarray) -> np.ndarray:  # fmt: skip
    """Placement of each pair against sorted reference scores of each class.

    >>> placements(np.array([0.5, 0.5, 0.2]), np.array([True, False, False]),
    ...            np.array([0.1, 0.5, 0.9]), np.array([0.3, 0.6]))
    array([0.5, 0.5, 1. ])
    """
    positive = np.asarray(positive, dtype=bool)
    other = np.empty(len(score))
    for is_positive, against in ((True, negatives), (False, positives)):
        rows = positive == is_positive
        below = np.searchsorted(against, score[rows], "left")
        below_or_tied = np.searchsorted(against, score[rows], "right")
        other[rows] = (below + below_or_tied) / (2 * len(against))
    return np.where(positive, other, 1 - other)


def _summary(scores: np.ndarray) -> np.ndarray:
    ordered = np.sort(scores)
    if len(ordered) <= QUANTILES:
        return ordered
    # Mid-point quantiles, each an actual score, so tied scores stay tied.
    at = (np.arange(QUANTILES) + 0.5) / QUANTILES
    summary: np.ndarray = np.quantile(ordered, at, method="inverted_cdf")
    return summary


@dataclass(frozen=True, slots=True)
class PlacementReference:
    """Each class's reference scores (sorted quantiles) and the reference's own placements'
    mean and standard deviation per class (``[positives, negatives]``), from ``count`` pairs.

    >>> rng = np.random.default_rng(1)
    >>> positive = rng.random(2000) < 0.4
    >>> score = np.clip(rng.normal(0.45 + 0.1 * positive, 0.2), 0, 1)
    >>> ref = PlacementReference.from_scores(score, positive)
    >>> len(ref.negatives), round(ref.mean[0], 2), round(ref.sd[1], 2)
    (256, 0.65, 0.27)
    >>> PlacementReference.from_dict(ref.to_dict()) == ref
    True
    """

    negatives: tuple[float, ...]
    positives: tuple[float, ...]
    mean: tuple[float, float]
    sd: tuple[float, float]
    count: int

    @classmethod
    def from_scores(cls, score: np.ndarray, positive: np.ndarray) -> PlacementReference | None:
        """The reference of these pairs (NaN scores left out); None if a class has fewer
        than 20 scored pairs or its placements do not vary."""
        scored = ~np.isnan(score)
        score, positive = score[scored], np.asarray(positive, dtype=bool)[scored]
        if min(positive.sum(), (~positive).sum()) < _MIN_CLASS:
            return None
        negatives, positives = _summary(score[~positive]), _summary(score[positive])
        own = placements(score, positive, negatives, positives)
        mean = (float(own[positive].mean()), float(own[~positive].mean()))
        sd = (float(own[positive].std()), float(own[~positive].std()))
        if min(sd) <= 0:
            return None
        return cls(tuple(negatives.tolist()), tuple(positives.tolist()), mean, sd, len(score))

    @property
    def mean_error(self) -> float:
        """SD of the standardised placements' mean error due to the reference's own sample
        (each class's mean is off by 1 / sqrt(its count) SDs; mixed, 1 / sqrt(count))."""
        return 1 / math.sqrt(self.count)

    def standardised(self, score: np.ndarray, positive: np.ndarray) -> np.ndarray:
        """(placement - its class's reference mean) / its class's reference SD, per pair
        with a score."""
        scored = ~np.isnan(score)
        score, positive = score[scored], np.asarray(positive, dtype=bool)[scored]
        values = placements(score, positive, np.asarray(self.negatives),
                            np.asarray(self.positives))  # fmt: skip
        mean = np.where(positive, self.mean[0], self.mean[1])
        sd = np.where(positive, self.sd[0], self.sd[1])
        standard: np.ndarray = (values - mean) / sd
        return standard

    def to_dict(self) -> dict[str, Any]:
        return {"negatives": list(self.negatives), "positives": list(self.positives),
                "mean": list(self.mean), "sd": list(self.sd), "count": self.count}  # fmt: skip

    @classmethod
    def from_dict(cls, raw: Any) -> PlacementReference:
        """A reference from ``to_dict()``'s form; ``InvalidState`` if malformed."""
        name = "labels reference.placements"
        data = check.mapping(raw, name, ("negatives", "positives", "mean", "sd", "count"))
        classes = []
        for key in ("negatives", "positives"):
            values = check.numbers(data[key], f"{name}.{key}", low=0, high=1)
            if not 0 < len(values) <= QUANTILES or values != sorted(values):
                raise check.InvalidState(f"{name}.{key}: expected 1-{QUANTILES} sorted scores")
            classes.append(tuple(values))
        mean = check.numbers(data["mean"], f"{name}.mean", length=2, low=0, high=1)
        sd = check.numbers(data["sd"], f"{name}.sd", length=2, low=1e-9, high=1)
        count = check.integer(data["count"], f"{name}.count", low=1)
        return cls(classes[0], classes[1], (mean[0], mean[1]), (sd[0], sd[1]), count)

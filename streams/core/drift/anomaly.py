"""Out-of-distribution scoring: how far an event's numeric features sit from the reference.

The score is the squared Mahalanobis distance of the standardised features from the
reference mean, under the reference's (ridge-regularised) correlation: one matrix product per
batch, so every event is scored, where river's HalfSpaceTrees costs ~50 us per event. A
missing value counts as the mean. An event is anomalous above the reference's own
``quantile`` of scores, so heavy-tailed features set their own bar.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["AnomalyScorer"]

_RIDGE = 1e-3


@dataclass(frozen=True, slots=True)
class AnomalyScorer:
    """Score rows of numeric features ``names``; ``threshold`` splits normal from anomalous."""

    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    precision: np.ndarray
    threshold: float
    quantile: float

    @classmethod
    def from_reference(
        cls, names: tuple[str, ...], numeric: np.ndarray, *, quantile: float = 0.999
    ) -> AnomalyScorer:
        """Fit to reference rows (columns ``names``, NaN = missing); ``quantile`` of their
        scores is the bar."""
        if not 0.5 < quantile < 1:
            raise ValueError(f"quantile must be in (0.5, 1), got {quantile}")
        with np.errstate(invalid="ignore"):
            mean = np.nan_to_num(np.nanmean(numeric, axis=0)) if numeric.size else np.zeros(0)
            scale = np.nan_to_num(np.nanstd(numeric, axis=0)) if numeric.size else np.zeros(0)
        scale[scale == 0] = 1.0
        standard = np.nan_to_num((numeric - mean) / scale)
        correlation = np.atleast_2d(np.cov(standard, rowvar=False)) if len(numeric) > 1 else None
        if correlation is None or correlation.shape[0] != mean.size:
            correlation = np.eye(mean.size)
        precision = np.linalg.inv(correlation + _RIDGE * np.eye(mean.size))
        partial = cls(names, mean, scale, precision, float("inf"), quantile)
        threshold = float(np.quantile(partial.scores(numeric), quantile)) if len(numeric) else 0.0
        return cls(names, mean, scale, precision, threshold, quantile)

    def scores(self, numeric: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance of each row (columns in the order of ``names``)."""
        standard = np.nan_to_num((numeric - self.mean) / self.scale)
        distances: np.ndarray = ((standard @ self.precision) * standard).sum(axis=1)
        return distances

    @property
    def expected_rate(self) -> float:
        """Share of reference-like events that score above the threshold."""
        return 1 - self.quantile

    def to_dict(self) -> dict[str, Any]:
        return {
            "names": list(self.names),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "precision": self.precision.tolist(),
            "threshold": self.threshold,
            "quantile": self.quantile,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> AnomalyScorer:
        return cls(
            names=tuple(raw["names"]),
            mean=np.asarray(raw["mean"], dtype=float),
            scale=np.asarray(raw["scale"], dtype=float),
            precision=np.asarray(raw["precision"], dtype=float).reshape(len(raw["mean"]), -1),
            threshold=float(raw["threshold"]),
            quantile=float(raw["quantile"]),
        )

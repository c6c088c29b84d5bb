"""Reference profiles: what each feature looked like when the model was trained or warmed up.

Numeric features keep quantile bin edges and the share of values in each bin; categorical
ones keep their categories' shares plus an "other" bucket for values never seen. Both keep
the missing rate and, for numbers, the range. Profiles are plain, versioned JSON.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from streams.core import plain_data as check
from streams.core.contract.columns import Columns
from streams.core.drift.anomaly import AnomalyScorer
from streams.core.errors import InvalidState

__all__ = ["PROFILE_VERSION", "CategoricalProfile", "NumericProfile", "ReferenceProfile"]

PROFILE_VERSION = 1
DEFAULT_BINS = 10
MAX_CATEGORIES = 50


@dataclass(frozen=True, slots=True)
class NumericProfile:
    """``edges`` are the inner bin edges; bin ``i`` is ``searchsorted(edges, x, 'right') == i``."""

    edges: np.ndarray
    shares: np.ndarray
    missing_rate: float
    minimum: float
    maximum: float
    count: int

    @classmethod
    def from_values(cls, values: np.ndarray, *, bins: int = DEFAULT_BINS) -> NumericProfile:
        present = values[~np.isnan(values)]
        if present.size == 0:
            edges = np.empty(0)
            minimum = maximum = float("nan")
        else:
            minimum, maximum = float(present.min()), float(present.max())
            # Quantiles that are observed values, unique and above the minimum: a discrete
            # feature gets fewer, wider bins instead of empty ones.
            quantiles = np.quantile(
                present, np.linspace(0, 1, bins + 1)[1:-1], method="inverted_cdf"
            )
            edges = np.unique(quantiles)
            edges = edges[edges > minimum]
        counts = np.bincount(np.searchsorted(edges, present, "right"), minlength=edges.size + 1)
        return cls(
            edges=edges,
            shares=counts / max(present.size, 1),
            missing_rate=1 - present.size / max(values.size, 1),
            minimum=minimum,
            maximum=maximum,
            count=int(values.size),
        )

    def bin_counts(self, values: np.ndarray) -> np.ndarray:
        """Counts of non-missing ``values`` per reference bin."""
        present = values[~np.isnan(values)]
        return np.bincount(np.searchsorted(self.edges, present, "right"), minlength=self.bins)

    @property
    def bins(self) -> int:
        return self.edges.size + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "numeric",
            "edges": self.edges.tolist(),
            "shares": self.shares.tolist(),
            "missing_rate": self.missing_rate,
            "min": None if np.isnan(self.minimum) else self.minimum,
            "max": None if np.isnan(self.maximum) else self.maximum,
            "count": self.count,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> NumericProfile:
        _fits(raw["edges"], raw["shares"], 1)
        if not np.all(np.diff(np.asarray(raw["edges"], dtype=float)) >= 0):
            raise InvalidState("profile.edges: not in ascending order")
        return cls(
            edges=np.asarray(raw["edges"], dtype=float),
            shares=np.asarray(raw["shares"], dtype=float),
            missing_rate=float(raw["missing_rate"]),
            minimum=float("nan") if raw["min"] is None else float(raw["min"]),
            maximum=float("nan") if raw["max"] is None else float(raw["max"]),
            count=int(raw["count"]),
        )


@dataclass(frozen=True, slots=True)
class CategoricalProfile:
    """Shares of the most common categories; the last share is "any other value"."""

    categories: tuple[str, ...]
    shares: np.ndarray
    missing_rate: float
    count: int

    @classmethod
    def from_values(cls, values: list[str | None]) -> CategoricalProfile:
        counts = Counter(values)
        missing = counts.pop(None, 0)
        top = cast("list[tuple[str, int]]", counts.most_common(MAX_CATEGORIES))  # None popped
        present = sum(counts.values())
        kept = sum(count for _, count in top)
        shares = np.array([count for _, count in top] + [present - kept], dtype=float)
        return cls(
            categories=tuple(name for name, _ in top),
            shares=shares / max(present, 1),
            missing_rate=missing / max(len(values), 1),
            count=len(values),
        )

    def bin_counts(self, values: list[str | None]) -> np.ndarray:
        """Counts per reference category, never-seen values in the last ("other") bin."""
        counts = Counter(values)
        counts.pop(None, None)
        known = [counts.pop(name, 0) for name in self.categories]
        return np.array([*known, sum(counts.values())], dtype=np.int64)

    @property
    def bins(self) -> int:
        return len(self.categories) + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "categorical",
            "categories": list(self.categories),
            "shares": self.shares.tolist(),
            "missing_rate": self.missing_rate,
            "count": self.count,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> CategoricalProfile:
        _fits(raw["categories"], raw["shares"], 1)
        return cls(
            categories=tuple(check.text(c, "profile.categories") for c in raw["categories"]),
            shares=np.asarray(raw["shares"], dtype=float),
            missing_rate=float(raw["missing_rate"]),
            count=int(raw["count"]),
        )


FeatureProfile = NumericProfile | CategoricalProfile


@dataclass(frozen=True, slots=True)
class ReferenceProfile:
    """One model version's reference: a profile per feature, in the column order of a batch."""

    model_id: str
    model_version: str
    numeric: dict[str, NumericProfile]
    categorical: dict[str, CategoricalProfile]
    anomaly: AnomalyScorer | None = None

    @classmethod
    def from_columns(
        cls, model_id: str, model_version: str, columns: Columns, *, anomaly_columns: int = 0
    ) -> ReferenceProfile:
        """Profile every column; fit the anomaly scorer on the first ``anomaly_columns``."""
        anomaly = None
        if anomaly_columns:
            anomaly = AnomalyScorer.from_reference(
                columns.numeric_names[:anomaly_columns], columns.numeric[:, :anomaly_columns]
            )
        return cls(
            model_id=model_id,
            model_version=model_version,
            numeric={
                name: NumericProfile.from_values(columns.numeric[:, j])
                for j, name in enumerate(columns.numeric_names)
            },
            categorical={
                name: CategoricalProfile.from_values(values)
                for name, values in columns.categorical.items()
            },
            anomaly=anomaly,
        )

    def to_dict(self) -> dict[str, Any]:
        profiles: dict[str, NumericProfile | CategoricalProfile] = {
            **self.numeric,
            **self.categorical,
        }
        features = {name: p.to_dict() for name, p in profiles.items()}
        return {
            "version": PROFILE_VERSION,
            "model_id": self.model_id,
            "model_version": self.model_version,
            "features": features,
            "anomaly": None if self.anomaly is None else self.anomaly.to_dict(),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ReferenceProfile:
        """The profile ``to_dict`` gave; ``InvalidState`` for anything else, whatever its shape."""
        version = check.mapping(raw, "profile").get("version")
        if version != PROFILE_VERSION:  # first: another version may name its fields otherwise
            raise InvalidState(f"profile version {version!r}, expected {PROFILE_VERSION}")
        check.mapping(raw, "profile", ("features", "model_id", "model_version"))
        with check.restoring("profile"):
            features = check.mapping(raw["features"], "profile.features")
            kinds = {n: check.mapping(f, "profile.features")["kind"] for n, f in features.items()}
            anomaly = raw.get("anomaly")
            return cls(
                model_id=check.text(raw["model_id"], "profile.model_id"),
                model_version=check.text(raw["model_version"], "profile.model_version"),
                numeric={n: NumericProfile.from_dict(features[n])
                         for n, kind in kinds.items() if kind == "numeric"},
                categorical={n: CategoricalProfile.from_dict(features[n])
                             for n, kind in kinds.items() if kind == "categorical"},
                anomaly=None if anomaly is None else AnomalyScorer.from_dict(anomaly),
            )  # fmt: skip


def _fits(inner: Any, shares: Any, extra: int) -> None:
    """Stored edges (or categories) and shares agree: ``extra`` more shares than edges."""
    if len(check.listing(shares, "profile.shares")) != len(check.listing(inner, "profile")) + extra:
        raise InvalidState("profile.shares: does not match its bins")
    check.numbers(shares, "profile.shares", low=0.0, high=1.0)

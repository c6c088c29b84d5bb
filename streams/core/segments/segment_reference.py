"""A segment's reference, learned from its own first events on the global reference's bins.

The segment's first ``reference_events`` events are counted into the global profile's bins
(numeric quantile bins, categorical top categories plus "other"), with their missing rate,
range, mean and standard deviation: a few numbers per column, whatever the segment's size,
so its state stays small enough to be written with the monitor's every batch. Reusing the
global edges keeps a segment's PSI comparable with the global one; a segment that fills
only some of the global bins is judged on those (its empty bins are smoothed as any are).

The segment's anomaly scorer has its own means and scales (what ADWIN and CUSUM standardise
block means by) but no fitted correlation or threshold: the Mahalanobis anomaly rate is a
global check only, and per-segment monitors switch it off.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np

from streams.core import plain_data as check
from streams.core.contract.columns import Columns
from streams.core.drift.anomaly import AnomalyScorer
from streams.core.drift.profile import CategoricalProfile, NumericProfile, ReferenceProfile

__all__ = ["SegmentReference"]

# Per numeric column: missing, count, sum, sum of squares, min, max (then the bin counts).
_MISSING, _COUNT, _SUM, _SQUARES, _MIN, _MAX = range(6)
_HEAD = 6


class SegmentReference:
    """Counts of a segment's events on ``profile``'s bins, until ``profile_of`` builds its
    reference.

    Examples
    --------
    >>> import numpy as np
    >>> from streams.core.contract.columns import Columns
    >>> rng = np.random.default_rng(0)
    >>> whole = Columns(("x",), rng.normal(0, 1, (2000, 1)), {})
    >>> profile = ReferenceProfile.from_columns("m", "1", whole, anomaly_columns=1)
    >>> segment = SegmentReference(profile)
    >>> segment.add(Columns(("x",), rng.normal(2, 1, (500, 1)), {}))
    >>> segment.count, round(float(segment.profile_of().anomaly.mean[0]))
    (500, 2)
    """

    SNAPSHOT_VERSION: ClassVar[None] = None

    def __init__(self, profile: ReferenceProfile) -> None:
        self.profile = profile
        self.count = 0
        self._numeric = {
            name: np.array([0, 0, 0.0, 0.0, np.inf, -np.inf] + [0] * p.bins, dtype=float)
            for name, p in profile.numeric.items()
        }
        # Per categorical column: missing, then the count per bin.
        self._categorical = {
            name: np.zeros(1 + p.bins, dtype=float) for name, p in profile.categorical.items()
        }

    def add(self, chunk: Columns) -> None:
        """Count a chunk of the segment's events (the global chunk's rows of this segment)."""
        self.count += len(chunk)
        for j, name in enumerate(chunk.numeric_names):
            tally = self._numeric.get(name)
            if tally is not None:
                _count_numbers(tally, chunk.numeric[:, j], self.profile.numeric[name])
        for name, values in chunk.categorical.items():
            tally = self._categorical.get(name)
            if tally is not None:
                tally[0] += values.count(None)
                tally[1:] += self.profile.categorical[name].bin_counts(values)

    def profile_of(self) -> ReferenceProfile:
        """The segment's reference from what it has counted."""
        numeric = {
            name: _numeric(t, self.profile.numeric[name]) for name, t in self._numeric.items()
        }
        categorical = {
            name: CategoricalProfile(
                categories=self.profile.categorical[name].categories,
                shares=t[1:] / max(t[1:].sum(), 1),
                missing_rate=float(t[0] / max(t.sum(), 1)),
                count=int(t.sum()),
            )
            for name, t in self._categorical.items()
        }
        anomaly = self.profile.anomaly
        if anomaly is not None:
            mean = np.array([_moments(self._numeric[n])[0] for n in anomaly.names])
            scale = np.array([_moments(self._numeric[n])[1] for n in anomaly.names])
            scale[scale == 0] = 1.0
            size = len(anomaly.names)
            anomaly = AnomalyScorer(
                anomaly.names, mean, scale, np.eye(size), np.inf, anomaly.quantile
            )
        p = self.profile
        return ReferenceProfile(p.model_id, p.model_version, numeric, categorical, anomaly)

    def snapshot(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "numeric": {n: _plain(t) for n, t in self._numeric.items()},
            "categorical": {n: t.tolist() for n, t in self._categorical.items()},
        }

    @classmethod
    def restore(cls, snapshot: Any, profile: ReferenceProfile) -> Self:
        with check.restoring("segment reference"):
            return cls._restore(snapshot, profile)

    @classmethod
    def _restore(cls, snapshot: Any, profile: ReferenceProfile) -> Self:
        raw = check.mapping(snapshot, "segment_reference", ("count", "numeric", "categorical"))
        reference = cls(profile)
        reference.count = check.integer(raw["count"], "segment_reference.count")
        for part, tallies in (
            ("numeric", reference._numeric),
            ("categorical", reference._categorical),
        ):
            stored = check.mapping(raw[part], f"segment_reference.{part}", tuple(tallies))
            for name, tally in tallies.items():
                where = f"segment_reference.{part}.{name}"
                values = check.listing(stored[name], where, length=tally.size)
                tally[:] = [np.nan if v is None else check.number(v, where) for v in values]
                if part == "numeric" and np.isnan(tally[_MIN]):
                    tally[_MIN], tally[_MAX] = np.inf, -np.inf
        return reference


def _count_numbers(tally: np.ndarray, values: np.ndarray, profile: NumericProfile) -> None:
    present = values[~np.isnan(values)]
    tally[_MISSING] += values.size - present.size
    if present.size == 0:
        return
    tally[_COUNT] += present.size
    tally[_SUM] += float(present.sum())
    tally[_SQUARES] += float(np.dot(present, present))
    tally[_MIN] = min(tally[_MIN], float(present.min()))
    tally[_MAX] = max(tally[_MAX], float(present.max()))
    tally[_HEAD:] += profile.bin_counts(present)


def _moments(tally: np.ndarray) -> tuple[float, float]:
    n = max(tally[_COUNT], 1)
    mean = tally[_SUM] / n
    return float(mean), float(np.sqrt(max(tally[_SQUARES] / n - mean * mean, 0.0)))


def _numeric(tally: np.ndarray, profile: NumericProfile) -> NumericProfile:
    present, counts = tally[_COUNT], tally[_HEAD:]
    empty = present == 0
    return NumericProfile(
        edges=profile.edges,
        shares=counts / max(present, 1),
        missing_rate=float(tally[_MISSING] / max(present + tally[_MISSING], 1)),
        minimum=float("nan") if empty else float(tally[_MIN]),
        maximum=float("nan") if empty else float(tally[_MAX]),
        count=int(present + tally[_MISSING]),
    )


def _plain(tally: np.ndarray) -> list[float | None]:
    # An empty range is (inf, -inf): stored as nulls, JSON has no infinities.
    out: list[float | None] = tally.tolist()
    if not np.isfinite(tally[_MIN]):
        out[_MIN] = out[_MAX] = None
    return out

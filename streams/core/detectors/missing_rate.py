"""Share of missing values in a column's window, against the reference's missing rate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from streams.core import plain_data as check
from streams.core.alerts.alert import AlertType
from streams.core.detectors.base import (
    COLUMNS,
    DetectorConfig,
    RateConfig,
    Reads,
    Target,
    Verdict,
    Watched,
    missing,
)
from streams.core.drift.profile import CategoricalProfile, NumericProfile
from streams.core.drift.statistics import rate_threshold

__all__ = ["MissingRate", "MissingRateConfig"]


@dataclass(frozen=True, slots=True)
class MissingRateConfig(RateConfig):
    """Fires at ``z`` standard errors above the reference's missing rate."""


class MissingRate:
    """Missing values of one column over the window.

    Examples
    --------
    >>> import numpy as np
    >>> from streams.core.drift.profile import NumericProfile
    >>> rng = np.random.default_rng(1)
    >>> profile = NumericProfile.from_values(rng.normal(0, 1, 5000))
    >>> detector = MissingRate(MissingRateConfig(), profile)
    >>> values = rng.normal(0, 1, 1000)
    >>> values[:100] = np.nan
    >>> detector.update(values)
    >>> verdict = detector.verdict()
    >>> round(verdict.value, 2), verdict.value > verdict.threshold
    (0.1, True)
    """

    name: ClassVar[str] = "missing_rate"
    statistic: ClassVar[str] = "missing_rate"
    rule: ClassVar[str] = "missing_rate"
    alert_type: ClassVar[AlertType] = "data_quality"
    watches: ClassVar[frozenset[Target]] = COLUMNS
    reads: ClassVar[Reads] = "values"
    ends_episodes: ClassVar[bool] = True
    Config: ClassVar[type[DetectorConfig]] = MissingRateConfig

    def __init__(
        self, config: MissingRateConfig, profile: NumericProfile | CategoricalProfile
    ) -> None:
        self.config = config
        self.profile = profile
        self._missing = self._seen = 0

    @classmethod
    def watching(cls, config: MissingRateConfig, watched: Watched) -> MissingRate | None:
        return None if watched.profile is None else cls(config, watched.profile)

    def update(self, values: Any) -> None:
        self._seen += len(values)
        self._missing += missing(values)

    def verdict(self) -> Verdict:
        n, config = self._seen, self.config
        threshold = rate_threshold(
            self.profile.missing_rate, n, z=config.z, min_increase=config.min_increase
        )
        return Verdict(self.name, self.statistic, self._missing / max(n, 1), threshold)

    def end_window(self) -> None:
        self._missing = self._seen = 0

    def snapshot(self) -> dict[str, Any]:
        return {"missing": self._missing, "seen": self._seen}

    def restore(self, snapshot: Any) -> None:
        raw = check.mapping(snapshot, "missing_rate", ("missing", "seen"))
        seen = check.integer(raw["seen"], "missing_rate.seen")
        self._missing = check.integer(raw["missing"], "missing_rate.missing", high=seen)
        self._seen = seen

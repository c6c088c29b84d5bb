"""Share of missing values in a column's window, against the reference's missing rate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from streams.core.alerts.alert import AlertType
from streams.core.detectors.base import (
    COLUMNS,
    DetectorConfig,
    RateConfig,
    Reads,
    Target,
    Watched,
    missing,
)
from streams.core.detectors.rate import RateDetector
from streams.core.drift.profile import CategoricalProfile, NumericProfile

__all__ = ["MissingRate", "MissingRateConfig"]


@dataclass(frozen=True, slots=True)
class MissingRateConfig(RateConfig):
    """Fires at ``z`` standard errors above the reference's missing rate."""


class MissingRate(RateDetector):
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
    Config: ClassVar[type[DetectorConfig]] = MissingRateConfig

    _KEYS: ClassVar[tuple[str, str]] = ("missing", "seen")

    def __init__(
        self, config: MissingRateConfig, profile: NumericProfile | CategoricalProfile
    ) -> None:
        super().__init__(config)
        self.profile = profile

    @classmethod
    def watching(cls, config: MissingRateConfig, watched: Watched) -> MissingRate | None:
        return None if watched.profile is None else cls(config, watched.profile)

    def _count(self, values: Any) -> tuple[int, int]:
        return missing(values), len(values)

    def _expected_rate(self) -> float:
        return self.profile.missing_rate

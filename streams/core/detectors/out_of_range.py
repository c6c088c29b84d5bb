"""Share of a numeric column's present values outside the reference's range."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from streams.core.alerts.alert import AlertType
from streams.core.detectors.base import (
    NUMERIC_COLUMNS,
    DetectorConfig,
    RateConfig,
    Reads,
    Target,
    Watched,
)
from streams.core.detectors.rate import RateDetector
from streams.core.drift.profile import NumericProfile

__all__ = ["OutOfRange", "OutOfRangeConfig"]


@dataclass(frozen=True, slots=True)
class OutOfRangeConfig(RateConfig):
    """Fires at ``z`` standard errors above the rate a reference-like sample would have."""


class OutOfRange(RateDetector):
    """Present values of one numeric column below the reference minimum or above its maximum.

    Examples
    --------
    >>> import numpy as np
    >>> from streams.core.drift.profile import NumericProfile
    >>> rng = np.random.default_rng(1)
    >>> profile = NumericProfile.from_values(rng.uniform(0, 1, 5000))
    >>> detector = OutOfRange(OutOfRangeConfig(), profile)
    >>> detector.update(rng.uniform(0, 1.2, 1000))
    >>> verdict = detector.verdict()
    >>> verdict.value > verdict.threshold
    True
    """

    name: ClassVar[str] = "out_of_range"
    statistic: ClassVar[str] = "out_of_range_rate"
    rule: ClassVar[str] = "out_of_range"
    alert_type: ClassVar[AlertType] = "data_quality"
    watches: ClassVar[frozenset[Target]] = NUMERIC_COLUMNS
    reads: ClassVar[Reads] = "values"
    Config: ClassVar[type[DetectorConfig]] = OutOfRangeConfig

    _KEYS: ClassVar[tuple[str, str]] = ("outside", "present")

    def __init__(self, config: OutOfRangeConfig, profile: NumericProfile) -> None:
        super().__init__(config)
        self.profile = profile

    @classmethod
    def watching(cls, config: OutOfRangeConfig, watched: Watched) -> OutOfRange | None:
        profile = watched.profile
        return cls(config, profile) if isinstance(profile, NumericProfile) else None

    def _count(self, values: Any) -> tuple[int, int]:
        present = values[~np.isnan(values)]
        profile = self.profile
        outside = np.count_nonzero((present < profile.minimum) | (present > profile.maximum))
        return int(outside), present.size

    def _expected_rate(self) -> float:
        # A fresh sample exceeds the range of n reference values with probability 2/(n+1).
        return 2 / (self.profile.count + 1)

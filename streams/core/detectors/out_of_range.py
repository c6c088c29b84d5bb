"""Share of a numeric column's present values outside the reference's range."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from streams.core import plain_data as check
from streams.core.alerts.alert import AlertType
from streams.core.detectors.base import (
    NUMERIC_COLUMNS,
    DetectorConfig,
    RateConfig,
    Reads,
    Target,
    Verdict,
    Watched,
)
from streams.core.drift.profile import NumericProfile
from streams.core.drift.statistics import rate_threshold

__all__ = ["OutOfRange", "OutOfRangeConfig"]


@dataclass(frozen=True, slots=True)
class OutOfRangeConfig(RateConfig):
    """Fires at ``z`` standard errors above the rate a reference-like sample would have."""


class OutOfRange:
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
    ends_episodes: ClassVar[bool] = True
    Config: ClassVar[type[DetectorConfig]] = OutOfRangeConfig

    def __init__(self, config: OutOfRangeConfig, profile: NumericProfile) -> None:
        self.config = config
        self.profile = profile
        self._outside = self._present = 0

    @classmethod
    def watching(cls, config: OutOfRangeConfig, watched: Watched) -> OutOfRange | None:
        profile = watched.profile
        return cls(config, profile) if isinstance(profile, NumericProfile) else None

    def update(self, values: Any) -> None:
        present = values[~np.isnan(values)]
        profile = self.profile
        self._present += present.size
        self._outside += int(
            np.count_nonzero((present < profile.minimum) | (present > profile.maximum))
        )

    def verdict(self) -> Verdict:
        # A fresh sample exceeds the range of n reference values with probability 2/(n+1).
        expected, n, config = 2 / (self.profile.count + 1), self._present, self.config
        threshold = rate_threshold(expected, n, z=config.z, min_increase=config.min_increase)
        return Verdict(self.name, self.statistic, self._outside / max(n, 1), threshold)

    def end_window(self) -> None:
        self._outside = self._present = 0

    def snapshot(self) -> dict[str, Any]:
        return {"outside": self._outside, "present": self._present}

    def restore(self, snapshot: Any) -> None:
        raw = check.mapping(snapshot, "out_of_range", ("outside", "present"))
        present = check.integer(raw["present"], "out_of_range.present")
        self._outside = check.integer(raw["outside"], "out_of_range.outside", high=present)
        self._present = present

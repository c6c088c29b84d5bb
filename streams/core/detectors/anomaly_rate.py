"""Rate of anomalous events (``streams.core.drift.anomaly``) over a window of the model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from streams.core.alerts.alert import AlertType
from streams.core.detectors.base import DetectorConfig, RateConfig, Reads, Target, Watched
from streams.core.detectors.rate import RateDetector

__all__ = ["AnomalyRate", "AnomalyRateConfig"]


@dataclass(frozen=True, slots=True)
class AnomalyRateConfig(RateConfig):
    """Fires at ``z`` standard errors above the scorer's expected rate of anomalies."""


class AnomalyRate(RateDetector):
    """Events of the window whose Mahalanobis score is over the reference's bar.

    Single outliers are expected (1 - quantile of them); a burst lifts the window's rate.

    Examples
    --------
    >>> import numpy as np
    >>> detector = AnomalyRate(AnomalyRateConfig(), expected_rate=0.001)
    >>> detector.update(np.arange(1000) < 40)  # 40 anomalous events in 1000
    >>> verdict = detector.verdict()
    >>> verdict.value, verdict.value > verdict.threshold
    (0.04, True)
    """

    name: ClassVar[str] = "mahalanobis"
    statistic: ClassVar[str] = "anomaly_rate"
    rule: ClassVar[str] = "mahalanobis"
    alert_type: ClassVar[AlertType] = "anomaly"
    watches: ClassVar[frozenset[Target]] = frozenset({"model"})
    reads: ClassVar[Reads] = "anomaly_flags"
    Config: ClassVar[type[DetectorConfig]] = AnomalyRateConfig

    _KEYS: ClassVar[tuple[str, str]] = ("anomalies", "seen")

    def __init__(self, config: AnomalyRateConfig, *, expected_rate: float) -> None:
        super().__init__(config)
        self.expected_rate = expected_rate

    @classmethod
    def watching(cls, config: AnomalyRateConfig, watched: Watched) -> AnomalyRate | None:
        scorer = watched.anomaly
        return None if scorer is None else cls(config, expected_rate=scorer.expected_rate)

    def _count(self, values: Any) -> tuple[int, int]:
        return int(np.count_nonzero(values)), len(values)

    def _expected_rate(self) -> float:
        return self.expected_rate

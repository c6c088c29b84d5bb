"""Rate of anomalous events (``streams.core.drift.anomaly``) over a window of the model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from streams.core import plain_data as check
from streams.core.alerts.alert import AlertType
from streams.core.detectors.base import DetectorConfig, RateConfig, Reads, Target, Verdict, Watched
from streams.core.drift.statistics import rate_threshold

__all__ = ["AnomalyRate", "AnomalyRateConfig"]


@dataclass(frozen=True, slots=True)
class AnomalyRateConfig(RateConfig):
    """Fires at ``z`` standard errors above the scorer's expected rate of anomalies."""


class AnomalyRate:
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
    ends_episodes: ClassVar[bool] = True
    Config: ClassVar[type[DetectorConfig]] = AnomalyRateConfig

    def __init__(self, config: AnomalyRateConfig, *, expected_rate: float) -> None:
        self.config = config
        self.expected_rate = expected_rate
        self._anomalies = self._seen = 0

    @classmethod
    def watching(cls, config: AnomalyRateConfig, watched: Watched) -> AnomalyRate | None:
        scorer = watched.anomaly
        return None if scorer is None else cls(config, expected_rate=scorer.expected_rate)

    def update(self, values: Any) -> None:
        self._anomalies += int(np.count_nonzero(values))
        self._seen += len(values)

    def verdict(self) -> Verdict:
        n, config = self._seen, self.config
        threshold = rate_threshold(
            self.expected_rate, n, z=config.z, min_increase=config.min_increase
        )
        return Verdict(self.name, self.statistic, self._anomalies / max(n, 1), threshold)

    def end_window(self) -> None:
        self._anomalies = self._seen = 0

    def snapshot(self) -> dict[str, Any]:
        return {"anomalies": self._anomalies, "seen": self._seen}

    def restore(self, snapshot: Any) -> None:
        raw = check.mapping(snapshot, "mahalanobis", ("anomalies", "seen"))
        seen = check.integer(raw["seen"], "mahalanobis.seen")
        self._anomalies = check.integer(raw["anomalies"], "mahalanobis.anomalies", high=seen)
        self._seen = seen

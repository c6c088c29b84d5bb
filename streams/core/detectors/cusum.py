"""Two-sided CUSUM on a numeric feature's standardised block means: gradual drift.

A slow creep moves each window too little for PSI to see and ADWIN's estimate lags it;
a cumulative sum of the block means' excess over an allowance ``k`` (in standard errors of
a block mean) grows by every block that leans the same way. Off by default: switch it on
with ``DRIFTLINE_DETECTORS='{"cusum": {"enabled": true}}'`` or in a model spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from streams.core import plain_data as check
from streams.core.alerts.alert import AlertType
from streams.core.detectors.base import DetectorConfig, Reads, Target, Verdict, Watched, built

__all__ = ["Cusum", "CusumConfig"]


@dataclass(frozen=True, slots=True)
class CusumConfig(DetectorConfig):
    """``k`` is the allowance per block, ``threshold`` the cumulative sum that fires.

    With k = 0.5 and threshold 10, a stationary feature (block means ~N(0, 1)) runs about
    10^5 blocks between false alarms on either side; a creep of 1 standard error per
    block (0.1 sigma for 100-event blocks) fires within about 20 blocks.
    """

    enabled: bool = False
    k: float = 0.5
    threshold: float = 10.0

    def __post_init__(self) -> None:
        if not self.k >= 0 or not self.threshold > 0:
            raise ValueError("k must not be negative and threshold must be positive")


class Cusum:
    """Upper and lower cumulative sums of one feature's standardised block means.

    The statistic is the larger of the two. Each sum stops at twice the threshold: a
    drift that persists keeps it there (one episode, not one per restart), and once the
    drift is over it falls back under the threshold within about ``threshold / k``
    blocks, so this detector may end the episode it started.

    Examples
    --------
    A feature whose block means creep upwards from block 40, by 0.05 standard errors per
    block (0.005 sigma of the feature per 100 events):

    >>> import numpy as np
    >>> rng = np.random.default_rng(42)
    >>> creep = np.maximum(0, np.arange(200) - 40) * 0.05
    >>> means = rng.normal(0, 1, 200) + creep
    >>> cusum = Cusum(CusumConfig(enabled=True))
    >>> for block in range(len(means)):
    ...     cusum.update(means[block : block + 1])
    ...     if cusum.verdict().value > cusum.config.threshold:
    ...         print(block)
    ...         break
    69
    """

    name: ClassVar[str] = "cusum"
    statistic: ClassVar[str] = "cusum"
    rule: ClassVar[str] = "drift"
    alert_type: ClassVar[AlertType] = "data_drift"
    watches: ClassVar[frozenset[Target]] = frozenset({"numeric_feature"})
    reads: ClassVar[Reads] = "block_means"
    ends_episodes: ClassVar[bool] = True
    Config: ClassVar[type[DetectorConfig]] = CusumConfig
    SNAPSHOT_VERSION: ClassVar[None] = None

    def __init__(self, config: CusumConfig) -> None:
        self.config = config
        self._upper = self._lower = 0.0

    @classmethod
    def watching(cls, config: CusumConfig, watched: Watched) -> Cusum | None:
        return None if watched.mean is None else cls(config)

    def update(self, values: Any) -> None:
        k, cap, upper, lower = self.config.k, 2 * self.config.threshold, self._upper, self._lower
        for value in values:
            upper = min(cap, max(0.0, upper + float(value) - k))
            lower = min(cap, max(0.0, lower - float(value) - k))
        self._upper, self._lower = upper, lower

    def verdict(self) -> Verdict:
        value = max(self._upper, self._lower)
        return Verdict(self.name, self.statistic, value, self.config.threshold)

    def end_window(self) -> None:
        """An online detector: windows do not reset it."""

    def snapshot(self) -> dict[str, Any]:
        return {"upper": self._upper, "lower": self._lower}

    @classmethod
    def restore(cls, snapshot: Any, config: CusumConfig, watched: Watched) -> Cusum:
        raw = check.mapping(snapshot, "cusum", ("upper", "lower"))
        cusum = built(cls.watching, config, watched)
        cap = 2 * config.threshold
        cusum._upper = check.number(raw["upper"], "cusum.upper", low=0.0, high=cap)
        cusum._lower = check.number(raw["lower"], "cusum.lower", low=0.0, high=cap)
        return cusum

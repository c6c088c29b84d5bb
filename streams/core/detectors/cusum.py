"""Two-sided CUSUM on a numeric feature's standardised block means: gradual drift.

A slow creep moves each window too little for PSI to see and ADWIN's estimate lags it;
a cumulative sum of the block means' excess over an allowance ``k`` (in standard errors of
a block mean) grows by every block that leans the same way. On by default; it shares the
feature's drift episode with PSI and ADWIN.

How ``k`` and ``h`` (``threshold``) were chosen (``python -m loadtest.cusum_calibration``):

- The budget: a 1% chance of any false alarm per model over 1,000,000 events, shared by its
  20 numeric features: 5e-4 per feature over 10,000 blocks of 100 events.
- The block means are standardised by a reference of 5,000 events, whose mean is itself off
  by N(0, 100 / 5,000), 0.14 standard errors of a block mean, for the whole stream (and its
  standard deviation by a few percent, more on heavy tails). A CUSUM whose allowance does
  not cover that error drifts upwards on a stationary feature and alarms at last however
  high its threshold: no ``h`` meets the budget with k = 0.4.
- Per k, h is the smallest threshold meeting the budget by Siegmund's approximation of the
  average run length, ``(exp(-2 mu b) + 2 mu b - 1) / (2 mu^2)`` with ``b = h + 1.166``,
  taken at mu = (+-d - k) / r for each reference error (d, r) and averaged over them (a
  Monte Carlo run agrees within 1%).
- k then minimises the delay on the drift it is for, a 0.5 sigma over 10,000 events ramp
  judged at 1,000-event window ends: k = 0.8 (h = 14.4) gives a median of ~4,300 events
  after onset; lower k needs a much higher h (0.6: 29.5, median 5,000), higher k no longer
  helps (1.0: 10.0, the same delays). k = 0.8 is half a shift of 1.6 standard errors per
  block (0.16 sigma), the smallest this budget lets a slow drift be told from the
  reference's own error.
- The calibration is for the default reference of 5,000 events: a smaller one
  (``DRIFTLINE_REFERENCE_EVENTS``) errs more than k covers (with 2,000, 0.22 standard errors:
  a feature off by 3 of them sat at the cap for 4,000 events after its drift was over);
  rerun it with ``--reference`` and set ``k`` and ``threshold``.
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
    """``k`` is the allowance per block, ``threshold`` (h) the cumulative sum that fires,
    both in standard errors of a block mean; the module docstring says how they were chosen.
    """

    enabled: bool = True
    k: float = 0.8
    threshold: float = 14.4

    def __post_init__(self) -> None:
        if not self.k >= 0 or not self.threshold > 0:
            raise ValueError("k must not be negative and threshold must be positive")


class Cusum:
    """Upper and lower cumulative sums of one feature's standardised block means.

    The statistic is the larger of the two. Each sum stops at twice the threshold: a
    drift that persists keeps it there (one episode, not one per restart), and once the
    drift is over it falls back under the threshold within about ``threshold / k``
    blocks, so this detector may end the episode it started (under the alert rule's
    half-threshold bar after ``1.5 threshold / k`` blocks: 27, or 2,700 events, at the
    defaults, so an episode it held ends that much after PSI alone would end it).

    Examples
    --------
    A feature whose block means creep upwards from block 40, by 0.05 standard errors per
    block (0.005 sigma of the feature per 100 events: 0.5 sigma over 10,000 events); caught
    40 blocks (4,000 events) after the onset:

    >>> import numpy as np
    >>> rng = np.random.default_rng(42)
    >>> creep = np.maximum(0, np.arange(200) - 40) * 0.05
    >>> means = rng.normal(0, 1, 200) + creep
    >>> cusum = Cusum(CusumConfig())
    >>> for block in range(len(means)):
    ...     cusum.update(means[block : block + 1])
    ...     if cusum.verdict().value > cusum.config.threshold:
    ...         print(block)
    ...         break
    80
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

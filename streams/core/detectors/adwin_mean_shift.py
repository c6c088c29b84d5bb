"""ADWIN (``streams.core.online.adwin``) on a numeric feature's standardised block means.

The statistic is how far ADWIN's current estimate sits from the reference, in standard
errors of a block mean, once its adaptive window spans ``min_blocks`` blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from streams.core import plain_data as check
from streams.core.alerts.alert import AlertType
from streams.core.detectors.base import DetectorConfig, Reads, Target, Verdict, Watched, built
from streams.core.errors import InvalidState
from streams.core.online.adwin import ADWIN

__all__ = ["AdwinMeanShift", "AdwinMeanShiftConfig"]


@dataclass(frozen=True, slots=True)
class AdwinMeanShiftConfig(DetectorConfig):
    """Fires at ``threshold`` standard errors of a block mean from the reference (a 0.5
    sigma shift is 5 of them; its noise, once trusted, under 0.5).

    ``delta`` is ADWIN's confidence; ``min_blocks`` the blocks its window must span before
    its estimate is trusted; ``max_blocks`` the longest window kept (ADWIN's memory grows
    with the log of its width, and a distance from the reference needs no longer history).
    """

    threshold: float = 4.0
    delta: float = 0.002
    min_blocks: int = 5
    max_blocks: int = 1000

    def __post_init__(self) -> None:
        if not self.threshold > 0 or not 0 < self.delta < 1:
            raise ValueError("threshold must be positive and delta in (0, 1)")
        if not 1 <= self.min_blocks < self.max_blocks:
            raise ValueError("1 <= min_blocks < max_blocks is needed")


class AdwinMeanShift:
    """ADWIN's estimate of one feature's standardised block mean.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(3)
    >>> detector = AdwinMeanShift(AdwinMeanShiftConfig())
    >>> means = np.concatenate([rng.normal(0, 1, 30), rng.normal(5, 1, 30)])
    >>> for i in range(len(means)):
    ...     detector.update(means[i : i + 1])
    ...     if detector.verdict().value > detector.config.threshold:
    ...         print(i)
    ...         break
    47
    """

    name: ClassVar[str] = "adwin"
    statistic: ClassVar[str] = "adwin_mean_shift"
    rule: ClassVar[str] = "drift"
    alert_type: ClassVar[AlertType] = "data_drift"
    watches: ClassVar[frozenset[Target]] = frozenset({"numeric_feature"})
    reads: ClassVar[Reads] = "block_means"
    ends_episodes: ClassVar[bool] = False
    Config: ClassVar[type[DetectorConfig]] = AdwinMeanShiftConfig
    SNAPSHOT_VERSION: ClassVar[None] = None

    def __init__(self, config: AdwinMeanShiftConfig) -> None:
        self.config = config
        self._adwin = self._fresh()

    @classmethod
    def watching(cls, config: AdwinMeanShiftConfig, watched: Watched) -> AdwinMeanShift | None:
        return None if watched.mean is None else cls(config)

    def _fresh(self) -> ADWIN:
        # clock=1: check for a change at every block, not every 32nd (river's default).
        return ADWIN(delta=self.config.delta, clock=1)

    def update(self, values: Any) -> None:
        for value in values:
            self._adwin.update(value)
            if self._adwin.width > self.config.max_blocks:
                self._adwin = self._fresh()

    def verdict(self) -> Verdict:
        adwin = self._adwin
        value = abs(adwin.estimation) if adwin.width >= self.config.min_blocks else 0.0
        return Verdict(self.name, self.statistic, value, self.config.threshold)

    def end_window(self) -> None:
        """An online detector: windows do not reset it."""

    def snapshot(self) -> dict[str, Any]:
        return {"adwin": self._adwin.snapshot()}

    @classmethod
    def restore(
        cls, snapshot: Any, config: AdwinMeanShiftConfig, watched: Watched
    ) -> AdwinMeanShift:
        adwin = ADWIN.restore(check.mapping(snapshot, "adwin", ("adwin",))["adwin"])
        if adwin.delta != config.delta or adwin.clock != 1:
            raise InvalidState("adwin: taken with other parameters")
        detector = built(cls.watching, config, watched)
        detector._adwin = adwin
        return detector

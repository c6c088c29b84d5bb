"""Population stability index of a column's window against its reference bins."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from streams.core import plain_data as check
from streams.core.alerts.alert import AlertType
from streams.core.detectors.base import (
    COLUMNS,
    DetectorConfig,
    Reads,
    Target,
    Verdict,
    Watched,
    built,
)
from streams.core.drift.profile import CategoricalProfile, NumericProfile
from streams.core.drift.statistics import population_stability_index

__all__ = ["Psi", "PsiConfig"]


@dataclass(frozen=True, slots=True)
class PsiConfig(DetectorConfig):
    """A PSI of 0.1 is where practice starts calling a shift "moderate"; under no drift a
    1000-event window on 10 bins gives about 0.01, an abrupt 0.5 sigma mean shift about 0.2."""

    threshold: float = 0.1

    def __post_init__(self) -> None:
        if not self.threshold > 0:
            raise ValueError("threshold must be positive")


class Psi:
    """Bin counts of one column over the window, judged by their PSI against the reference.

    Examples
    --------
    >>> import numpy as np
    >>> from streams.core.drift.profile import NumericProfile
    >>> rng = np.random.default_rng(1)
    >>> profile = NumericProfile.from_values(rng.normal(0, 1, 5000))
    >>> psi = Psi(PsiConfig(), profile)
    >>> psi.update(rng.normal(0, 1, 1000))
    >>> psi.verdict().value < 0.1
    True
    >>> psi.end_window()
    >>> psi.update(rng.normal(0.5, 1, 1000))
    >>> psi.verdict().value > 0.1
    True
    >>> int(psi.counts.sum())  # the window's bin counts so far, a copy
    1000
    """

    name: ClassVar[str] = "psi"
    statistic: ClassVar[str] = "psi"
    rule: ClassVar[str] = "drift"
    alert_type: ClassVar[AlertType] = "data_drift"
    watches: ClassVar[frozenset[Target]] = COLUMNS
    reads: ClassVar[Reads] = "values"
    ends_episodes: ClassVar[bool] = True
    Config: ClassVar[type[DetectorConfig]] = PsiConfig
    SNAPSHOT_VERSION: ClassVar[None] = None

    def __init__(self, config: PsiConfig, profile: NumericProfile | CategoricalProfile) -> None:
        self.config = config
        self.profile = profile
        self._counts = np.zeros(profile.bins, dtype=np.int64)

    @classmethod
    def watching(cls, config: PsiConfig, watched: Watched) -> Psi | None:
        return None if watched.profile is None else cls(config, watched.profile)

    @property
    def counts(self) -> np.ndarray:
        """The window's count per reference bin so far (a copy: reading changes nothing)."""
        return self._counts.copy()

    def update(self, values: Any) -> None:
        self._counts += self.profile.bin_counts(values)

    def verdict(self) -> Verdict:
        value = population_stability_index(self.profile.shares, self._counts)
        return Verdict(self.name, self.statistic, value, self.config.threshold)

    def end_window(self) -> None:
        self._counts = np.zeros(self.profile.bins, dtype=np.int64)

    def snapshot(self) -> dict[str, Any]:
        return {"counts": self._counts.tolist()}

    @classmethod
    def restore(cls, snapshot: Any, config: PsiConfig, watched: Watched) -> Psi:
        raw = check.mapping(snapshot, "psi", ("counts",))
        psi = built(cls.watching, config, watched)
        counts = check.listing(raw["counts"], "psi.counts", length=psi.profile.bins)
        psi._counts = np.array([check.integer(c, "psi.counts") for c in counts], np.int64)
        return psi

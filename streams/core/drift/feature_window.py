"""One feature's tallies over the current window, and the verdicts they give when it closes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from streams.core import plain_data as check
from streams.core.drift.profile import CategoricalProfile, NumericProfile
from streams.core.drift.statistics import population_stability_index, rate_threshold

__all__ = ["DetectorConfig", "FeatureWindow", "Verdict"]


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    """Thresholds of the windowed detectors (defaults: see ``BENCHMARKS.md`` for the budget).

    A PSI of 0.1 is where practice starts calling a shift "moderate"; under no drift a
    1000-event window on 10 bins gives about 0.01, and an abrupt 0.5 sigma mean shift about
    0.2. ADWIN's estimate of a feature's mean fires at ``adwin_threshold`` standard errors
    of a block mean from the reference (a 0.5 sigma shift is 5 of them; its noise, once
    trusted, under 0.5). Rates fire at ``rate_z`` standard errors above the reference rate,
    and never for less than ``rate_min_increase``.
    """

    psi_threshold: float = 0.1
    adwin_threshold: float = 4.0
    rate_z: float = 6.0
    rate_min_increase: float = 0.02

    def __post_init__(self) -> None:
        thresholds = (self.psi_threshold, self.adwin_threshold, self.rate_z)
        if min(thresholds) <= 0 or self.rate_min_increase < 0:
            raise ValueError("thresholds must be positive")


@dataclass(frozen=True, slots=True)
class Verdict:
    detector: str
    statistic: str
    value: float
    threshold: float


class FeatureWindow:
    """Bin counts, missing and out-of-range tallies of one feature within one window."""

    __slots__ = ("counts", "missing", "out_of_range", "profile", "seen")

    def __init__(self, profile: NumericProfile | CategoricalProfile) -> None:
        self.profile = profile
        self.reset()

    def reset(self) -> None:
        self.counts = np.zeros(self.profile.bins, dtype=np.int64)
        self.missing = 0
        self.out_of_range = 0
        self.seen = 0

    def snapshot(self) -> dict[str, Any]:
        return {"counts": self.counts.tolist(), "missing": self.missing,
                "out_of_range": self.out_of_range, "seen": self.seen}  # fmt: skip

    def restore(self, snapshot: Any) -> None:
        """Continue from ``snapshot``; ``InvalidState`` if it does not fit this profile."""
        raw = check.mapping(snapshot, "window", ("counts", "missing", "out_of_range", "seen"))
        counts = check.listing(raw["counts"], "window.counts", length=self.profile.bins)
        self.counts = np.array([check.integer(c, "window.counts") for c in counts], np.int64)
        self.seen = check.integer(raw["seen"], "window.seen")
        self.missing = check.integer(raw["missing"], "window.missing", high=self.seen)
        self.out_of_range = check.integer(
            raw["out_of_range"], "window.out_of_range", high=self.seen
        )

    def add_numeric(self, values: np.ndarray) -> None:
        profile = self.profile
        assert isinstance(profile, NumericProfile)
        missing = np.isnan(values)
        present = values[~missing]
        self.seen += values.size
        self.missing += int(missing.sum())
        self.counts += np.bincount(
            np.searchsorted(profile.edges, present, "right"), minlength=profile.bins
        )
        self.out_of_range += int(
            np.count_nonzero((present < profile.minimum) | (present > profile.maximum))
        )

    def add_categories(self, values: list[str | None]) -> None:
        assert isinstance(self.profile, CategoricalProfile)
        self.seen += len(values)
        self.missing += values.count(None)
        self.counts += self.profile.bin_counts(values)

    def verdicts(self, config: DetectorConfig) -> list[Verdict]:
        """What each detector says of the window now ending."""
        profile, n = self.profile, self.seen
        verdicts = [
            Verdict("psi", "psi", population_stability_index(profile.shares, self.counts),
                    config.psi_threshold),
            Verdict("missing_rate", "missing_rate", self.missing / max(n, 1),
                    rate_threshold(profile.missing_rate, n, z=config.rate_z,
                                   min_increase=config.rate_min_increase)),
        ]  # fmt: skip
        if isinstance(profile, NumericProfile):
            present = n - self.missing
            # A fresh sample exceeds the range of n reference values with probability 2/(n+1).
            expected = 2 / (profile.count + 1)
            verdicts.append(
                Verdict("out_of_range", "out_of_range_rate", self.out_of_range / max(present, 1),
                        rate_threshold(expected, present, z=config.rate_z,
                                       min_increase=config.rate_min_increase))
            )  # fmt: skip
        return verdicts

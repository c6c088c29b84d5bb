"""Share of a categorical column's present values that the reference never saw."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from streams.core.alerts.alert import AlertType
from streams.core.detectors.base import DetectorConfig, RateConfig, Reads, Target, Watched
from streams.core.detectors.rate import RateDetector
from streams.core.drift.profile import CategoricalProfile

__all__ = ["UnseenCategories", "UnseenCategoriesConfig"]

#: The categorical columns: model inputs, and the class a classifier predicts.
CATEGORICAL_COLUMNS: frozenset[Target] = frozenset(
    {"categorical_feature", "categorical_prediction"}
)


@dataclass(frozen=True, slots=True)
class UnseenCategoriesConfig(RateConfig):
    """Fires at ``z`` standard errors above the reference's own rate of values outside its
    kept categories, and never for less than ``min_increase`` more.

    The false-alarm budget: at the default ``z`` = 6 a reference-like window crosses the
    bar with probability about 1e-9 (normal approximation of the binomial count), so even
    a thousand versions closing a window a minute give one false alarm in ~2,000 years;
    ``min_increase`` keeps a few new rare values from firing where the reference's tail is
    empty (its expected rate 0).
    """


class UnseenCategories(RateDetector):
    """Present values of one categorical column that are none of the reference's categories.

    The reference keeps its most common categories (``CategoricalProfile``); a share of its
    own values fell outside them (its "other" share), and that is the rate a window like the
    reference shows. A new category (a new country code, a renamed tier, a model predicting a
    class it never predicted) lifts it; PSI counts it too, but diluted among every category.

    Examples
    --------
    >>> from streams.core.drift.profile import CategoricalProfile
    >>> profile = CategoricalProfile.from_values(["gold", "silver", "bronze"] * 2000)
    >>> detector = UnseenCategories(UnseenCategoriesConfig(), profile)
    >>> detector.update(["gold", "silver", "platinum", None] * 250)  # 1 in 3 present is new
    >>> verdict = detector.verdict()
    >>> round(verdict.value, 3), verdict.value > verdict.threshold
    (0.333, True)
    """

    name: ClassVar[str] = "unseen_categories"
    statistic: ClassVar[str] = "unseen_rate"
    rule: ClassVar[str] = "unseen_categories"
    alert_type: ClassVar[AlertType] = "data_quality"
    watches: ClassVar[frozenset[Target]] = CATEGORICAL_COLUMNS
    reads: ClassVar[Reads] = "values"
    Config: ClassVar[type[DetectorConfig]] = UnseenCategoriesConfig

    _KEYS: ClassVar[tuple[str, str]] = ("unseen", "present")

    def __init__(self, config: UnseenCategoriesConfig, profile: CategoricalProfile) -> None:
        super().__init__(config)
        self.profile = profile

    @classmethod
    def watching(cls, config: UnseenCategoriesConfig, watched: Watched) -> UnseenCategories | None:
        profile = watched.profile
        return cls(config, profile) if isinstance(profile, CategoricalProfile) else None

    def _count(self, values: Any) -> tuple[int, int]:
        counts = self.profile.bin_counts(values)
        return int(counts[-1]), int(counts.sum())

    def _expected_rate(self) -> float:
        return float(self.profile.shares[-1])

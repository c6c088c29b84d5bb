"""Share of a categorical column's present values of a kind the reference never had."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from streams.core.alerts.alert import AlertType
from streams.core.detectors.base import DetectorConfig, RateConfig, Reads, Target, Watched
from streams.core.detectors.rate import RateDetector
from streams.core.detectors.unseen_categories import CATEGORICAL_COLUMNS
from streams.core.drift.profile import CategoricalProfile

__all__ = ["TypeChange", "TypeChangeConfig", "kind_of"]

Kind = Literal["number", "boolean", "text"]
_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def kind_of(category: str) -> Kind:
    """What a category's text is: a JSON number, a boolean, or other text.

    >>> [kind_of(v) for v in ("12", "-0.5", "1e3", "true", "gold", "12a")]
    ['number', 'number', 'number', 'boolean', 'text', 'text']
    """
    if category in ("true", "false"):
        return "boolean"
    return "number" if _NUMBER.fullmatch(category) else "text"


@dataclass(frozen=True, slots=True)
class TypeChangeConfig(RateConfig):
    """Fires at ``z`` standard errors above the reference's rate of values outside its kept
    categories (whose kinds it does not know), never for less than ``min_increase`` more;
    the false-alarm budget is ``UnseenCategoriesConfig``'s."""


class TypeChange(RateDetector):
    """Present values of one categorical column whose kind none of the reference's had.

    A producer that starts sending a tier as its numeric code ("3" for "gold"), a flag as
    text, or an id column filled with words changes the column's type without breaking the
    spec: a string feature still gets strings (categories are compared by their JSON text,
    ``category_of``). Values that break the spec's declared type (a string in a number
    feature) are rejected before any monitor (``wrong_type`` in the dead-letter topic).

    Examples
    --------
    >>> from streams.core.drift.profile import CategoricalProfile
    >>> profile = CategoricalProfile.from_values(["gold", "silver"] * 3000)
    >>> detector = TypeChange(TypeChangeConfig(), profile)
    >>> detector.update(["gold", "3", "2", "silver"] * 250)  # half sent as numeric codes
    >>> verdict = detector.verdict()
    >>> verdict.value, verdict.value > verdict.threshold
    (0.5, True)
    """

    name: ClassVar[str] = "type_change"
    statistic: ClassVar[str] = "type_change_rate"
    rule: ClassVar[str] = "type_change"
    alert_type: ClassVar[AlertType] = "data_quality"
    watches: ClassVar[frozenset[Target]] = CATEGORICAL_COLUMNS
    reads: ClassVar[Reads] = "values"
    Config: ClassVar[type[DetectorConfig]] = TypeChangeConfig

    _KEYS: ClassVar[tuple[str, str]] = ("changed", "present")

    def __init__(self, config: TypeChangeConfig, profile: CategoricalProfile) -> None:
        super().__init__(config)
        self.profile = profile
        self.kinds = frozenset(kind_of(category) for category in profile.categories)

    @classmethod
    def watching(cls, config: TypeChangeConfig, watched: Watched) -> TypeChange | None:
        profile = watched.profile
        return cls(config, profile) if isinstance(profile, CategoricalProfile) else None

    def _count(self, values: Any) -> tuple[int, int]:
        counts = Counter(values)
        counts.pop(None, None)
        changed = sum(n for value, n in counts.items() if kind_of(value) not in self.kinds)
        return changed, sum(counts.values())

    def _expected_rate(self) -> float:
        return float(self.profile.shares[-1])

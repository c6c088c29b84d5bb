"""Learning a model's spec from its first events, for models nobody registered."""

from __future__ import annotations

from collections import Counter

from streams.core.contract.event import PredictionEvent
from streams.core.contract.field_rules import check_name
from streams.core.contract.spec import FeatureSpec, FeatureType, ModelSpec

__all__ = ["SpecInference"]

_TYPE_NAMES: dict[type, FeatureType] = {
    int: "number",
    float: "number",
    str: "string",
    bool: "boolean",
}


class SpecInference:
    """Watch a warm-up window of events and infer the spec they follow.

    A feature's type is the one most of its non-null values had; it is required when every
    warm-up event carried it. Bounds and categories are not inferred: values outside what the
    warm-up saw are drift to report, not invalid events to drop.

    Parameters
    ----------
    model_id
        The model the events belong to.
    events_needed
        Size of the warm-up window.
    """

    def __init__(self, model_id: str, *, events_needed: int) -> None:
        if events_needed < 1:
            raise ValueError(f"events_needed must be positive, got {events_needed}")
        self.model_id = model_id
        self.events_needed = events_needed
        self.events_seen = 0
        self._presence: Counter[str] = Counter()
        self._types: dict[str, Counter[FeatureType]] = {}
        self._scored = False
        self._numeric_predictions = True

    @property
    def done(self) -> bool:
        """Whether the warm-up window is full."""
        return self.events_seen >= self.events_needed

    def observe(self, event: PredictionEvent) -> None:
        """Take one schema-valid event into the window."""
        self.events_seen += 1
        self._scored = self._scored or event.score is not None
        self._numeric_predictions = self._numeric_predictions and type(event.prediction) in (
            int,
            float,
        )
        for name, value in event.features.items():
            if name not in self._types:
                check_name(name, "features")
                self._types[name] = Counter()
            self._presence[name] += 1
            if value is not None:
                self._types[name][_TYPE_NAMES[type(value)]] += 1

    def spec(self) -> ModelSpec:
        """The spec the window points to."""
        features = {
            name: FeatureSpec(
                type=_majority(types),
                required=self._presence[name] == self.events_seen,
            )
            for name, types in sorted(self._types.items())
        }
        regression = self._numeric_predictions and not self._scored
        return ModelSpec(
            model_id=self.model_id,
            features=features,
            task="regression" if regression else "classification",
            source="inferred",
        )


def _majority(types: Counter[FeatureType]) -> FeatureType:
    # A feature that was always null gives no evidence; number is the common case.
    return types.most_common(1)[0][0] if types else "number"

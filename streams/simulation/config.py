"""What a simulated prediction stream looks like: its model, features, clock, seed and drifts."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from numbers import Integral, Real

from streams.simulation.scenario import NUMERIC_KINDS, Scenario

__all__ = ["MAX_FEATURES", "StreamConfig"]

MAX_FEATURES = 1000
"""The most features an event may carry (``schemas/prediction_event.json``)."""

_IDENTIFIER = re.compile(r"[A-Za-z0-9._-]{1,64}")
_SPECIAL_FEATURES_FROM = 6
_MODEL_FEATURES = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamConfig:
    """A synthetic prediction stream, fully determined by these fields.

    Numeric features ``x0..x{n-1}`` are normal with a mean in [-5, 5] and a standard deviation
    in [0.5, 3] drawn from ``seed``, except, when there are at least 6, the last two: a
    heavy-tailed lognormal feature (``x18`` by default) and a Poisson count feature (``x19``,
    integer values). Categorical features ``c0..c{m-1}`` take the values ``"a".."e"`` with
    fixed, distinct, non-uniform probabilities. Every value is missing with probability
    ``base_missing_rate``. The model is a fixed logistic regression over ``x0..x3``
    standardised, a missing input counting as its mean: ``score = sigmoid(w . z + b)``,
    ``prediction = int(score > 0.5)``. Attributes: ``segment`` web/app/store 50/35/15% and
    ``group`` A/B 60/40%. Numeric values are rounded to 4 decimals, scores to 6.

    Detectors must not false-alarm on the lognormal and count features of a stationary
    stream. Under drift, count values stay integers (stochastic rounding keeps the mean shift
    exact); a ``variance`` above 1 or an ``anomaly_burst`` can take either feature below 0.

    Parameters
    ----------
    model_id, model_version
        Identifiers put in every event.
    numeric_features, categorical_features
        How many features of each kind.
    base_missing_rate
        Probability that any one value is null, in [0, 1).
    seed
        Non-negative seed; the same config always yields the same stream.
    start_time
        Timestamp of event 0, timezone-aware.
    events_per_second
        Event ``i`` is at ``start_time + i / events_per_second``.
    scenarios
        Drifts to inject, applied in order.

    Examples
    --------
    >>> from streams.simulation import Scenario, StreamConfig
    >>> config = StreamConfig(seed=7, scenarios=(
    ...     Scenario(kind="abrupt", feature="x3", start=5000, magnitude=0.5),))
    >>> config.feature_names[:3], config.lognormal_feature, config.count_feature
    (('x0', 'x1', 'x2'), 'x18', 'x19')
    """

    model_id: str = "sim-model"
    model_version: str = "v1"
    numeric_features: int = 20
    categorical_features: int = 4
    base_missing_rate: float = 0.0
    seed: int = 0
    start_time: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    events_per_second: float = 100.0
    scenarios: tuple[Scenario, ...] = ()

    def __post_init__(self) -> None:
        for field in ("model_id", "model_version"):
            value = getattr(self, field)
            if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
                raise ValueError(f"{field} must be 1-64 of A-Za-z0-9._-, got {value!r}")
        self._check_features()
        self._check_clock()
        _check_count("seed", self.seed, minimum=0)
        if isinstance(self.scenarios, Scenario | str):
            raise ValueError("scenarios must be a sequence of Scenario, not a single one")
        # A list is a natural thing to pass; storing it would make the config mutable.
        object.__setattr__(self, "scenarios", tuple(self.scenarios))
        for index, scenario in enumerate(self.scenarios):
            self._check_scenario(index, scenario)

    def _check_features(self) -> None:
        _check_count("numeric_features", self.numeric_features, minimum=1)
        _check_count("categorical_features", self.categorical_features, minimum=0)
        if self.numeric_features + self.categorical_features > MAX_FEATURES:
            raise ValueError(f"numeric_features + categorical_features is over {MAX_FEATURES}")
        _check_number("base_missing_rate", self.base_missing_rate)
        if not 0 <= self.base_missing_rate < 1:
            raise ValueError(f"base_missing_rate must be in [0, 1), got {self.base_missing_rate}")

    def _check_clock(self) -> None:
        if not isinstance(self.start_time, datetime) or self.start_time.utcoffset() is None:
            raise ValueError(f"start_time must be a timezone-aware datetime: {self.start_time!r}")
        _check_number("events_per_second", self.events_per_second)
        if self.events_per_second <= 0:
            raise ValueError(f"events_per_second must be positive: {self.events_per_second}")

    def _check_scenario(self, index: int, scenario: object) -> None:
        if not isinstance(scenario, Scenario):
            raise ValueError(f"scenarios[{index}] must be a Scenario, got {scenario!r}")
        feature, kind = scenario.feature, scenario.kind
        if feature is None:
            return
        if kind in NUMERIC_KINDS:
            allowed, what = self.numeric_names, "a numeric feature"
        elif kind == "categorical":
            allowed, what = self.categorical_names, "a categorical feature"
        else:
            allowed, what = self.feature_names, "a feature"
        if feature not in allowed:
            raise ValueError(f"scenarios[{index}].feature: {feature!r} is not {what} of the stream")

    @property
    def numeric_names(self) -> tuple[str, ...]:
        """Names of the numeric features, ``x0, x1, ...``."""
        return tuple(f"x{j}" for j in range(self.numeric_features))

    @property
    def categorical_names(self) -> tuple[str, ...]:
        """Names of the categorical features, ``c0, c1, ...``."""
        return tuple(f"c{k}" for k in range(self.categorical_features))

    @property
    def feature_names(self) -> tuple[str, ...]:
        """All feature names, numeric first: the column order of an event's features."""
        return self.numeric_names + self.categorical_names

    @property
    def lognormal_feature(self) -> str | None:
        """The heavy-tailed (lognormal, positive) numeric feature, if the stream has one."""
        n = self.numeric_features
        return f"x{n - 2}" if n >= _SPECIAL_FEATURES_FROM else None

    @property
    def count_feature(self) -> str | None:
        """The discrete (Poisson counts, integers) numeric feature, if the stream has one."""
        n = self.numeric_features
        return f"x{n - 1}" if n >= _SPECIAL_FEATURES_FROM else None

    @property
    def model_features(self) -> tuple[str, ...]:
        """The features the simulated model's score depends on (``x0..x3``)."""
        return self.numeric_names[: min(_MODEL_FEATURES, self.numeric_features)]


def _check_count(field: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{field} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{field} must be at least {minimum}, got {value}")


def _check_number(field: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{field} must be a finite number, got {value!r}")

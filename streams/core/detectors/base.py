"""What every detector is: its protocol, what it watches, its verdict and its config base."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol, Self, TypeVar

import numpy as np

from streams.core.alerts.alert import AlertType
from streams.core.drift.anomaly import AnomalyScorer
from streams.core.drift.profile import CategoricalProfile, NumericProfile
from streams.core.errors import InvalidState

__all__ = [
    "COLUMNS",
    "NUMERIC_COLUMNS",
    "Detector",
    "DetectorConfig",
    "RateConfig",
    "Reads",
    "Target",
    "Verdict",
    "Watched",
    "built",
]

T = TypeVar("T")

#: What a detector watches: one column (a model input, or the score / prediction the model
#: gave, by its type), or the whole model (every numeric input at once).
Target = Literal[
    "numeric_feature", "categorical_feature", "numeric_prediction", "categorical_prediction",
    "model",
]  # fmt: skip
COLUMNS: frozenset[Target] = frozenset(
    {"numeric_feature", "categorical_feature", "numeric_prediction", "categorical_prediction"}
)
NUMERIC_COLUMNS: frozenset[Target] = frozenset({"numeric_feature", "numeric_prediction"})
#: What ``update`` is given, per batch: the column's values (a float array, NaN missing, or a
#: list of category texts, None missing), the column's standardised means of each completed
#: block of events (``BlockMeans``), or, for the whole model, each event's anomaly flag.
Reads = Literal["values", "block_means", "anomaly_flags"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one detector says of a window: its statistic now, and the bar it must clear."""

    detector: str
    statistic: str
    value: float
    threshold: float


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    """Settings every detector has: whether it runs at all."""

    enabled: bool = True


@dataclass(frozen=True, slots=True)
class RateConfig(DetectorConfig):
    """A rate detector fires at ``z`` standard errors above the reference rate, never for
    less than ``min_increase`` (so a clear but harmless change does not either)."""

    z: float = 6.0
    min_increase: float = 0.02

    def __post_init__(self) -> None:
        if not self.z > 0 or not self.min_increase >= 0:
            raise ValueError("z must be positive and min_increase not negative")


@dataclass(frozen=True, slots=True)
class Watched:
    """What a detector is built against: the column (or the model) and its reference.

    ``mean`` and ``scale`` are the reference mean and standard deviation of a numeric
    model input (None for other columns), the ones its block means are standardised by.
    """

    target: Target
    name: str | None
    profile: NumericProfile | CategoricalProfile | None = None
    mean: float | None = None
    scale: float | None = None
    anomaly: AnomalyScorer | None = None


class Detector(Protocol):
    """One detector of one column (or of the whole model) of one model version.

    The class says what it is: ``name`` (in alerts, metrics and settings), the
    ``statistic`` it judges, the alert ``rule`` it belongs to (detectors of one rule on one
    column share one episode: PSI and ADWIN both judge a feature's drift), the
    ``alert_type`` it raises (``data_drift`` becomes ``prediction_drift`` on the model's
    own outputs), the targets it ``watches``, what it ``reads`` and whether its verdict may
    end an episode (``ends_episodes``: ADWIN's estimate forgets a past shift only slowly,
    so it may open an episode that PSI against the reference then closes). ``Config`` is its
    frozen config class, whose defaults are the detector's defaults.

    ``update`` never mutates its input; ``verdict`` is read when a window closes, then
    ``end_window`` starts the next one (a windowed detector forgets, an online one goes on).

    State follows the one convention of every state class (docs/ARCHITECTURE.md, "State"):
    ``snapshot()`` gives JSON-safe plain data; the class-level ``SNAPSHOT_VERSION`` is the
    ``"version"`` that data carries, or None where the state is a part stored inside a
    versioned whole (a detector's is part of its monitor's, so None here); the classmethod
    ``restore(snapshot, <what it is built from>)`` returns a new instance continuing from
    it, checking every field through ``streams.core.plain_data`` and raising
    ``InvalidState`` for anything malformed. A detector is built from its ``config`` and
    what it ``watched``, as ``watching`` builds it.
    """

    name: ClassVar[str]
    statistic: ClassVar[str]
    rule: ClassVar[str]
    alert_type: ClassVar[AlertType]
    watches: ClassVar[frozenset[Target]]
    reads: ClassVar[Reads]
    ends_episodes: ClassVar[bool]
    Config: ClassVar[type[DetectorConfig]]
    SNAPSHOT_VERSION: ClassVar[None]

    @property
    def config(self) -> DetectorConfig: ...

    @classmethod
    def watching(cls, config: Any, watched: Watched) -> Detector | None:
        """A detector of ``watched``, or None where it has nothing to judge it by."""
        ...

    def update(self, values: Any) -> None: ...

    def verdict(self) -> Verdict: ...

    def end_window(self) -> None: ...

    def snapshot(self) -> dict[str, Any]: ...

    @classmethod
    def restore(cls, snapshot: Any, config: Any, watched: Watched) -> Self:
        """A detector of ``watched`` under ``config`` continuing from ``snapshot``."""
        ...


def built(watching: Callable[[Any, Watched], T | None], config: Any, watched: Watched) -> T:
    """A fresh detector from ``watching`` (a detector class's), to restore state into;
    ``InvalidState`` where it has nothing to watch (state stored for another reference)."""
    detector = watching(config, watched)
    if detector is None:
        raise InvalidState("detector: stored for a column it cannot watch")
    return detector


def missing(values: np.ndarray | list[str | None]) -> int:
    """Missing values of a column: NaN in a numeric one, None in a categorical one."""
    if isinstance(values, np.ndarray):
        return int(np.isnan(values).sum())
    return values.count(None)

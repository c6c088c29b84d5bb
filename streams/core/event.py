"""The events Driftline consumes, as validated, immutable values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["FeatureValue", "PredictionEvent", "RawRecord"]

FeatureValue = float | int | str | bool | None


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One undecoded input record and where it came from.

    ``source``/``partition``/``offset`` are a Kafka topic position under the worker and
    a file name / 0 / line number under replay: enough to find the record again.
    """

    value: bytes | None
    timestamp_ms: int
    source: str
    partition: int
    offset: int
    key: bytes | None = None


@dataclass(frozen=True, slots=True)
class PredictionEvent:
    """A prediction event that passed the contract in ``schemas/prediction_event.json``."""

    event_id: str
    model_id: str
    model_version: str
    timestamp_ms: int
    features: Mapping[str, FeatureValue]
    prediction: float | int | str | bool
    score: float | None = None
    latency_ms: float | None = None
    attributes: Mapping[str, FeatureValue] | None = None
    trace_id: str | None = None


@dataclass(frozen=True, slots=True)
class LabelEvent:
    """The ground truth of one earlier prediction (``schemas/label_event.json``)."""

    event_id: str
    model_id: str
    label: float | int | str | bool
    timestamp_ms: int
    model_version: str | None = None

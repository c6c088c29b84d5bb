"""A prediction joined to its delayed label, and what is kept of a prediction until then.

Labels arrive minutes to weeks after their predictions, so the join keeps each prediction
until its label comes or its time to live ends. It keeps only what performance, fairness and
concept-drift metrics read (version, prediction, score, segment attributes, time), never the
features: they are the bulk of an event and may be personal data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from streams.core.event import FeatureValue, LabelEvent, PredictionEvent

__all__ = [
    "JoinOutcome",
    "LabelledPrediction",
    "kept_fields",
    "label_fields",
    "label_from_fields",
    "labelled",
]

Outcome = float | int | str | bool


class JoinOutcome(StrEnum):
    """What became of a label; each is counted."""

    JOINED = "joined"
    #: The prediction was joined already: a redelivered or repeated label, never counted twice.
    DUPLICATE = "duplicate"
    #: No prediction yet: the label waits a bounded time for it.
    EARLY = "early"
    #: The prediction was seen but its time to live had ended.
    EXPIRED = "expired"
    #: No prediction with this id arrived within the wait (or ever).
    UNKNOWN = "unknown"
    #: Too many labels already wait for this model; the label is dropped.
    OVERFLOW = "overflow"


@dataclass(frozen=True, slots=True)
class LabelledPrediction:
    """One prediction with its ground truth."""

    model_id: str
    model_version: str
    event_id: str
    prediction: Outcome
    label: Outcome
    score: float | None
    attributes: Mapping[str, FeatureValue] | None
    predicted_at_ms: int
    labelled_at_ms: int


def kept_fields(event: PredictionEvent) -> dict[str, Any]:
    """What the join keeps of ``event`` (short keys: millions of these may wait)."""
    kept: dict[str, Any] = {"v": event.model_version, "p": event.prediction,
                            "t": event.timestamp_ms}  # fmt: skip
    if event.score is not None:
        kept["s"] = event.score
    if event.attributes:
        kept["a"] = dict(event.attributes)
    return kept


def label_fields(label: LabelEvent, position: tuple[int, int]) -> dict[str, Any]:
    """What the join keeps of a label that waits for its prediction, with its (partition,
    offset) in the labels topic, so an alert it triggers later can point at it."""
    return {"l": label.label, "t": label.timestamp_ms, "v": label.model_version,
            "at": list(position)}  # fmt: skip


def label_from_fields(
    model_id: str, event_id: str, fields: Mapping[str, Any]
) -> tuple[LabelEvent, tuple[int, int]]:
    """The waiting label and its position back from ``label_fields``."""
    partition, offset = fields["at"]
    return LabelEvent(event_id, model_id, fields["l"], fields["t"], fields["v"]), (
        partition,
        offset,
    )


def labelled(label: LabelEvent, kept: Mapping[str, Any]) -> LabelledPrediction:
    """Join ``label`` to the fields kept of its prediction."""
    return LabelledPrediction(
        model_id=label.model_id,
        model_version=kept["v"],
        event_id=label.event_id,
        prediction=kept["p"],
        label=label.label,
        score=kept.get("s"),
        attributes=kept.get("a"),
        predicted_at_ms=kept["t"],
        labelled_at_ms=label.timestamp_ms,
    )

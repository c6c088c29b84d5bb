"""A prediction joined to its delayed label, and what is kept of a prediction until then.

Labels arrive minutes to weeks after their predictions, so the join keeps each prediction
until its label comes or its time to live ends. It keeps only what performance, fairness and
concept-drift metrics read (version, prediction, score, segment attributes, time), never the
features: they are the bulk of an event and may be personal data. Attributes the spec marks
PII are kept only as their keyed hash, or not at all (``streams.core.contract.pii``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from streams.core.contract.event import FeatureValue, LabelEvent, PredictionEvent
from streams.core.contract.pii import PiiPolicy
from streams.core.errors import InvalidState

__all__ = [
    "JoinOutcome",
    "LabelledPrediction",
    "MemoryLabelJoin",
    "kept_fields",
    "label_fields",
    "label_from_fields",
    "labelled",
]

Outcome = float | int | str | bool
# The shape checks of what the join reads back, as tuples (a union is slower to check, and
# dict first spares the ABC's check for what orjson gives): once per joined label.
_OUTCOME = (float, int, str, bool)
_MAPPING = (dict, Mapping)
_DROP = PiiPolicy(mode="drop")


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
    #: What was kept of the prediction cannot be read (not what ``kept_fields`` stores:
    #: written by something else); the label is counted, not joined.
    UNREADABLE = "unreadable"


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


def kept_fields(
    event: PredictionEvent,
    pii_attributes: frozenset[str] = frozenset(),
    pii: PiiPolicy | None = None,
) -> dict[str, Any]:
    """What the join keeps of ``event`` (short keys: millions of these may wait).

    Attributes in ``pii_attributes`` are redacted by ``pii`` (dropped when it is None).
    """
    kept: dict[str, Any] = {"v": event.model_version, "p": event.prediction,
                            "t": event.timestamp_ms}  # fmt: skip
    if event.score is not None:
        kept["s"] = event.score
    attributes = event.attributes
    if attributes and pii_attributes and not pii_attributes.isdisjoint(attributes):
        attributes = (pii or _DROP).redact_fields(attributes, pii_attributes)
    if attributes:
        kept["a"] = dict(attributes)
    return kept


def label_fields(label: LabelEvent, position: tuple[int, int]) -> dict[str, Any]:
    """What the join keeps of a label that waits for its prediction, with its (partition,
    offset) in the labels topic, so an alert it triggers later can point at it."""
    return {"l": label.label, "t": label.timestamp_ms, "v": label.model_version,
            "at": list(position)}  # fmt: skip


def label_from_fields(
    model_id: str, event_id: str, fields: Mapping[str, Any]
) -> tuple[LabelEvent, tuple[int, int]]:
    """The waiting label and its position back from ``label_fields``; ``InvalidState`` if
    ``fields`` is not what that stores."""
    at = fields.get("at") if isinstance(fields, _MAPPING) else None
    if not (isinstance(at, list) and len(at) == 2 and all(type(i) is int for i in at)
            and isinstance(fields.get("l"), _OUTCOME) and type(fields.get("t")) is int
            and isinstance(fields.get("v"), (str, type(None)))):  # fmt: skip
        raise InvalidState(f"the waiting label of {event_id}: not what label_fields stores")
    return LabelEvent(event_id, model_id, fields["l"], fields["t"], fields["v"]), (at[0], at[1])


def labelled(label: LabelEvent, kept: Any) -> LabelledPrediction:
    """Join ``label`` to the fields kept of its prediction; ``InvalidState`` if ``kept`` is
    not what ``kept_fields`` stores."""
    if not (isinstance(kept, _MAPPING) and isinstance(kept.get("v"), str)
            and isinstance(kept.get("p"), _OUTCOME) and type(kept.get("t")) is int
            and isinstance(kept.get("s"), (float, int, type(None)))
            and isinstance(kept.get("a"), (*_MAPPING, type(None)))):  # fmt: skip
        raise InvalidState(f"the kept prediction of {label.event_id}: not what kept_fields stores")
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


class MemoryLabelJoin:
    """The label join in memory, for replay, where every prediction is read before the labels.

    It judges as the worker's Redis join does, by the events' own times: a label more than
    ``ttl_ms`` after its prediction is ``expired``, a second label for a prediction is a
    ``duplicate``, a label without a prediction ``unknown``. It holds every prediction of
    the file (a few hundred bytes each): it is for backtests, not for streams.
    """

    def __init__(self, *, ttl_ms: int | None = None, pii: PiiPolicy | None = None) -> None:
        self.ttl_ms = ttl_ms
        self.pii = pii
        self._kept: dict[tuple[str, str], dict[str, Any] | None] = {}

    def keep(
        self,
        events: Iterable[PredictionEvent],
        pii_attributes: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        """Keep ``events``; ``pii_attributes`` maps a model id to its PII attribute names."""
        for event in events:
            pii = (pii_attributes or {}).get(event.model_id, frozenset())
            self._kept.setdefault((event.model_id, event.event_id),
                                  kept_fields(event, pii, self.pii))  # fmt: skip

    def join(self, label: LabelEvent) -> tuple[JoinOutcome, LabelledPrediction | None]:
        key = (label.model_id, label.event_id)
        if key not in self._kept:
            return JoinOutcome.UNKNOWN, None
        kept = self._kept[key]
        if kept is None:
            return JoinOutcome.DUPLICATE, None
        if self.ttl_ms is not None and label.timestamp_ms - kept["t"] > self.ttl_ms:
            return JoinOutcome.EXPIRED, None
        self._kept[key] = None  # joined: only a marker stays
        return JoinOutcome.JOINED, labelled(label, kept)

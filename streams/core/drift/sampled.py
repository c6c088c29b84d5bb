"""The events a monitor keeps for its alerts' sample and trigger (the window's tail)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Self

from streams.core import plain_data as check
from streams.core.contract.event import PredictionEvent

__all__ = ["SampleTail", "Sampled"]


class Sampled(NamedTuple):
    """An event kept for an alert's sample and trigger (its features already redacted)."""

    event_id: str
    timestamp_ms: int
    features: dict[str, Any]
    prediction: Any
    partition: int
    offset: int

    @classmethod
    def restore(cls, raw: Any) -> Sampled:
        """A kept event from its stored list form; ``InvalidState`` if it is malformed."""
        event_id, timestamp_ms, features, prediction, partition, offset = check.listing(
            raw, "tail[]", length=6
        )
        return cls(
            check.text(event_id, "tail.event_id"),
            check.integer(timestamp_ms, "tail.timestamp_ms"),
            dict(check.mapping(features, "tail.features")),
            prediction,
            check.integer(partition, "tail.partition"),
            check.integer(offset, "tail.offset"),
        )


class SampleTail:
    """The newest events seen, at least one (a closed window's trigger) and at most ``keep``."""

    __slots__ = ("_events", "keep")

    def __init__(self, keep: int) -> None:
        self.keep = max(keep, 1)
        self._events: list[Sampled] = []

    def __len__(self) -> int:
        return len(self._events)

    @property
    def last(self) -> Sampled:
        """The newest event kept; ``IndexError`` before any."""
        return self._events[-1]

    def add(
        self,
        events: Sequence[PredictionEvent],
        positions: Sequence[tuple[int, int]],
        redact: Callable[[Mapping[str, Any]], dict[str, Any]],
    ) -> None:
        """Keep the newest of ``events`` (at ``positions``: partition, offset), their features
        through ``redact``; only the few kept are redacted, the rest are never looked at."""
        recent = [
            Sampled(e.event_id, e.timestamp_ms, redact(e.features), e.prediction, *position)
            for e, position in zip(events[-self.keep :], positions[-self.keep :], strict=True)
        ]
        self._events = (self._events + recent)[-self.keep :]

    def sample(self, size: int) -> list[dict[str, Any]]:
        """The newest ``size`` events as an alert's sample."""
        newest = self._events[-size:] if size > 0 else []
        return [
            {"event_id": e.event_id, "features": e.features, "prediction": e.prediction}
            for e in newest
        ]

    def snapshot(self) -> list[list[Any]]:
        return [list(sampled) for sampled in self._events]

    @classmethod
    def restore(cls, snapshot: Any, keep: int) -> Self:
        """A tail from ``snapshot``; ``InvalidState`` if it is malformed or holds too many."""
        tail = cls(keep)
        items = check.listing(snapshot, "tail", max_length=tail.keep)
        tail._events = [Sampled.restore(item) for item in items]
        return tail

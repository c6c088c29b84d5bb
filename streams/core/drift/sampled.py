"""The events a monitor keeps for its alerts' sample and trigger (the window's tail)."""

from __future__ import annotations

from typing import Any, NamedTuple

from streams.core import plain_data as check

__all__ = ["Sampled"]


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

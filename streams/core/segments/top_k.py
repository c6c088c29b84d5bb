"""Which values of a segment attribute are watched on their own: the top K of a Space-Saving
count (``streams/core/online/space_saving.py``, the heavy hitters the abuse tracker counts
sources with), nothing kept per value but its events."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from streams.core import plain_data as check
from streams.core.online.space_saving import SpaceSaving

__all__ = [
    "COUNTERS_PER_VALUE",
    "count_values",
    "settled_restored",
    "settled_values",
    "top_values",
    "value_counter",
    "value_counter_restored",
    "value_counters",
    "value_counters_restored",
]

#: Counters Space-Saving keeps per top-K value while the values settle.
COUNTERS_PER_VALUE = 10


def value_counter(capacity: int) -> SpaceSaving:
    """Counters for one attribute's values: any value with more than ``1 / capacity`` of
    the events is among them, whatever the attribute's cardinality.

    Examples
    --------
    >>> counter = value_counter(3)
    >>> count_values(counter, ["eu"] * 50 + ["us"] * 30 + [f"rare{i}" for i in range(20)])
    >>> top_values(counter, 2)
    ['eu', 'us']
    """
    return SpaceSaving(capacity, patterns=0, masks=0, memory=0)


def value_counter_restored(snapshot: Any, capacity: int) -> SpaceSaving:
    """``value_counter``'s state as stored; ``InvalidState`` for malformed data."""
    return SpaceSaving.restore(snapshot, capacity, patterns=0, masks=0, memory=0)


def count_values(counter: SpaceSaving, values: Iterable[str]) -> None:
    for value in values:
        counter.offer(value)


def top_values(counter: SpaceSaving, k: int) -> list[str]:
    """The ``k`` values with the highest guaranteed counts (count minus error), ties by
    value so every worker settles on the same list."""
    ranked = sorted(counter.tracked.items(), key=lambda item: (-item[1].events, item[0]))
    return [value for value, _ in ranked[:k]]


def settled_restored(
    raw: Any, attributes: tuple[str, ...], top_k: int
) -> dict[str, frozenset[str]]:
    """The values settled per attribute, as stored; ``InvalidState`` for malformed data."""
    settled = check.mapping(raw, "segments.settled", attributes)
    return {
        a: frozenset(
            check.text(v, "segments.settled[]", max_length=256)
            for v in check.listing(settled[a], "segments.settled", max_length=top_k)
        )
        for a in attributes
    }


def value_counters(attributes: tuple[str, ...], top_k: int) -> dict[str, SpaceSaving]:
    """A ``value_counter`` per attribute, sized for its ``top_k`` values."""
    return {a: value_counter(top_k * COUNTERS_PER_VALUE) for a in attributes}


def value_counters_restored(
    raw: Any, attributes: tuple[str, ...], top_k: int
) -> dict[str, SpaceSaving]:
    """``value_counters``' state as stored; ``InvalidState`` for malformed data."""
    counting = check.mapping(raw, "segments.counting", attributes)
    return {a: value_counter_restored(counting[a], top_k * COUNTERS_PER_VALUE) for a in attributes}


def settled_values(counting: dict[str, SpaceSaving], top_k: int) -> dict[str, frozenset[str]]:
    """The values watched on their own, per attribute: each counter's ``top_k``."""
    return {a: frozenset(top_values(counter, top_k)) for a, counter in counting.items()}

"""The most frequent values of a stream in bounded memory: Space-Saving (Metwally et al.)."""

from __future__ import annotations

from typing import Any, ClassVar, Self

from streams.core import plain_data as check

__all__ = ["SpaceSaving"]


class SpaceSaving:
    """Approximate counts of the ``capacity`` most frequent values.

    A value not tracked while all counters are taken replaces the one with the smallest
    count and inherits it plus one, so a count overestimates by at most that inherited
    ``error``; any value more frequent than ``total / capacity`` is tracked. Memory is
    ``capacity`` counters whatever the stream's cardinality.

    Examples
    --------
    >>> top = SpaceSaving(capacity=3)
    >>> top.add(["eu"] * 50 + ["us"] * 30 + [f"rare{i}" for i in range(20)] + ["eu"] * 5)
    >>> top.top(2)
    ['eu', 'us']
    >>> top.total
    105
    """

    SNAPSHOT_VERSION: ClassVar[None] = None

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self.total = 0
        self._counts: dict[str, int] = {}
        self._errors: dict[str, int] = {}

    def add(self, values: list[str]) -> None:
        """Count each of ``values`` once."""
        counts, errors = self._counts, self._errors
        for value in values:
            if value in counts:
                counts[value] += 1
            elif len(counts) < self.capacity:
                counts[value], errors[value] = 1, 0
            else:
                smallest = min(counts, key=counts.__getitem__)
                floor = counts.pop(smallest)
                del errors[smallest]
                counts[value], errors[value] = floor + 1, floor
        self.total += len(values)

    def top(self, k: int) -> list[str]:
        """The ``k`` values with the highest guaranteed counts (count minus error), ties by
        value so every worker settles on the same list."""
        ranked = sorted(self._counts, key=lambda v: (-(self._counts[v] - self._errors[v]), v))
        return ranked[:k]

    def snapshot(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "counts": [[v, c, self._errors[v]] for v, c in self._counts.items()],
        }

    @classmethod
    def restore(cls, snapshot: Any, capacity: int) -> Self:
        raw = check.mapping(snapshot, "top_k", ("total", "counts"))
        top = cls(capacity)
        top.total = check.integer(raw["total"], "top_k.total")
        for item in check.listing(raw["counts"], "top_k.counts", max_length=capacity):
            value, count, error = check.listing(item, "top_k.counts[]", length=3)
            name = check.text(value, "top_k.value", max_length=256)
            top._counts[name] = check.integer(count, "top_k.count", high=top.total)
            top._errors[name] = check.integer(error, "top_k.error", high=top._counts[name])
        return top

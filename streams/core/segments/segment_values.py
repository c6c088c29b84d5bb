"""Which values of each segment attribute get a monitor of their own, for the drift side
(``segment_monitors.py``) and the label side (``labels/segment_performance.py``) alike.

The first ``settle_after`` rows (events or usable labels) are counted per attribute
(``top_k.py``: Space-Saving, bounded memory); then each attribute's ``top_k`` most frequent
values are settled for good, and every other value, and a missing one, is pooled as the
rest (key ``None``, shown as "other"). Rows counted while the values settle are not
judged by segment; ``settle`` says from which row on a batch is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

from streams.core import plain_data as check
from streams.core.segments.top_k import (
    count_values,
    settled_restored,
    settled_values,
    value_counters,
    value_counters_restored,
)

__all__ = ["SNAPSHOT_KEYS", "SegmentValues"]

#: The keys of a ``SegmentValues`` snapshot, beside which its owner stores its segments.
SNAPSHOT_KEYS = ("watching", "seen", "counting", "settled")


class SegmentValues:
    """The values watched on their own per attribute of ``attributes``: the ``top_k`` most
    frequent of the first ``settle_after`` rows.

    Examples
    --------
    >>> values = SegmentValues(("region",), top_k=1, settle_after=3)
    >>> values.settle({"region": ["eu", "us", "eu", "eu"]}, 4)  # rows from 3 on are judged
    3
    >>> values.settled
    {'region': frozenset({'eu'})}
    >>> values.groups("region", ["us", "eu", None, "eu"], 1)
    {'eu': [1, 3], None: [2]}
    """

    def __init__(self, attributes: tuple[str, ...], top_k: int, settle_after: int) -> None:
        self.attributes, self.top_k, self.settle_after = attributes, top_k, settle_after
        self._seen = 0
        self._counting = value_counters(attributes, top_k)
        self._settled: dict[str, frozenset[str]] | None = None

    @property
    def settled(self) -> dict[str, frozenset[str]] | None:
        """The values watched on their own, per attribute, once settled."""
        return self._settled

    def settle(self, columns: Mapping[str, Sequence[str | None]], rows: int) -> int:
        """Count what of ``rows`` the settling still needs (``columns``: each attribute's
        value per row); the first row to judge by segment (``rows`` while not settled)."""
        if self._settled is not None:
            return 0
        start = min(rows, self.settle_after - self._seen)
        for attribute, column in columns.items():
            count_values(self._counting[attribute], (v for v in column[:start] if v is not None))
        self._seen += start
        if self._seen < self.settle_after:
            return rows
        self._settled = settled_values(self._counting, self.top_k)
        self._counting = {}
        return start

    def groups(
        self, attribute: str, column: Sequence[str | None], start: int
    ) -> dict[str | None, list[int]]:
        """The rows of ``attribute``'s ``column`` from ``start`` on, by segment: a settled
        value, or None for the rest; none while the values have not settled."""
        groups: dict[str | None, list[int]] = {}
        if self._settled is None:
            return groups
        watched = self._settled[attribute]
        for row in range(start, len(column)):
            value = column[row]
            groups.setdefault(value if value in watched else None, []).append(row)
        return groups

    def snapshot(self) -> dict[str, Any]:
        settled = self._settled
        return {
            "watching": [list(self.attributes), self.top_k],
            "seen": self._seen,
            "counting": {a: counter.snapshot() for a, counter in self._counting.items()},
            "settled": None if settled is None else {a: sorted(v) for a, v in settled.items()},
        }

    @classmethod
    def restore(
        cls, raw: Mapping[str, Any], attributes: tuple[str, ...], top_k: int, settle_after: int
    ) -> Self | None:
        """Continue from a ``snapshot()`` (``raw`` holds its keys, checked to be there);
        None if it was taken under other attributes or another top K (the spec changed:
        the segments start afresh). ``InvalidState`` for anything malformed."""
        if raw["watching"] != [list(attributes), top_k]:
            return None
        values = cls(attributes, top_k, settle_after)
        values._seen = check.integer(raw["seen"], "segments.seen", high=settle_after)
        if raw["settled"] is None:
            values._counting = value_counters_restored(raw["counting"], attributes, top_k)
        else:
            values._counting = {}
            values._settled = settled_restored(raw["settled"], attributes, top_k)
        return values

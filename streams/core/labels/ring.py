"""The last N rows of a few named numpy columns: the windows of labels, groups and scores.

Memory is fixed at N rows whatever the stream's length; rows are written in place, a whole
batch at once, and read back in storage order (the metrics computed from them do not depend
on order), so a snapshot restored slot for slot continues bit for bit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np

from streams.core import plain_data as check

__all__ = ["ColumnRing"]


class ColumnRing:
    """A ring buffer of named 1-D columns holding the last ``size`` rows pushed.

    Examples
    --------
    >>> ring = ColumnRing(3, {"x": np.float64})
    >>> ring.push({"x": np.array([1.0, 2.0])})
    >>> ring.push({"x": np.array([3.0, 4.0])})
    >>> len(ring), sorted(ring.rows()["x"].tolist())
    (3, [2.0, 3.0, 4.0])
    """

    SNAPSHOT_VERSION: ClassVar[None] = None  # a part of the window that holds it

    def __init__(self, size: int, dtypes: Mapping[str, Any]) -> None:
        if not isinstance(size, int) or size < 1:
            raise ValueError("the window size must be a positive integer")
        self.size = size
        self.dtypes = dict(dtypes)
        self._columns = {name: np.zeros(size, dtype) for name, dtype in self.dtypes.items()}
        self._filled = 0
        self._next = 0  # the slot the next row is written to

    def __len__(self) -> int:
        return self._filled

    def push(self, columns: Mapping[str, np.ndarray]) -> None:
        """Append rows; ``columns`` are 1-D, of equal length, one per name (checked by the
        caller). Of a batch longer than the ring only its last ``size`` rows are written."""
        n = len(next(iter(columns.values())))
        keep = min(n, self.size)
        slots = (self._next + np.arange(keep)) % self.size
        for name, column in self._columns.items():
            column[slots] = columns[name][n - keep :]
        self._next = (self._next + keep) % self.size
        self._filled = min(self._filled + keep, self.size)

    def rows(self) -> dict[str, np.ndarray]:
        """The filled rows, in storage order (views: do not write to them)."""
        return {name: column[: self._filled] for name, column in self._columns.items()}

    def last(self, count: int | None = None) -> dict[str, np.ndarray]:
        """The newest ``count`` rows (all if None), oldest first: arrival order.

        >>> ring = ColumnRing(3, {"x": np.int64})
        >>> ring.push({"x": np.arange(5)})
        >>> ring.last()["x"].tolist(), ring.last(2)["x"].tolist()
        ([2, 3, 4], [3, 4])
        """
        taken = self._filled if count is None else min(count, self._filled)
        slots = (self._next - taken + np.arange(taken)) % self.size
        return {name: column[slots] for name, column in self._columns.items()}

    def snapshot(self) -> dict[str, Any]:
        """JSON-safe: the filled rows (NaN as None) and the write position."""
        return {"next": self._next,
                "columns": {name: _plain(c) for name, c in self.rows().items()}}  # fmt: skip

    @classmethod
    def restore(cls, snapshot: Any, size: int, dtypes: Mapping[str, Any]) -> Self:
        """A ring of ``size`` rows of ``dtypes`` continuing from ``snapshot``;
        ``InvalidState`` for anything malformed."""
        with check.restoring("window rows"):
            return cls._restore(check.mapping(snapshot, "ring", ("next", "columns")), size, dtypes)

    @classmethod
    def _restore(cls, snapshot: Mapping[str, Any], size: int, dtypes: Mapping[str, Any]) -> Self:
        ring = cls(size, dtypes)
        columns = {name: np.asarray(snapshot["columns"][name], dtype)
                   for name, dtype in ring.dtypes.items()}  # fmt: skip
        filled, slot = len(next(iter(columns.values()))), snapshot["next"]
        # A ring not yet full fills slots 0..filled-1, so its next slot is its fill.
        if not ((filled == size and 0 <= slot < size) or slot == filled < size):
            raise check.InvalidState("ring: snapshot does not fit its window")
        if any(len(column) != filled for column in columns.values()):
            raise check.InvalidState("ring: snapshot columns differ in length")
        for name, column in columns.items():
            ring._columns[name][:filled] = column
        ring._filled, ring._next = filled, slot
        return ring


def _plain(column: np.ndarray) -> list[Any]:
    values: list[Any] = column.tolist()
    if column.dtype.kind == "f":
        return [None if np.isnan(v) else v for v in values]
    return values

"""Standardised means of blocks of events: what the online mean-shift detectors read.

Online detectors on raw values re-alarm on heavy-tailed and discrete features (river #574);
the mean of a block of events, standardised by the reference mean and standard deviation,
is close to normal whatever the feature, and comes once per block rather than per event.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np

from streams.core import plain_data as check

__all__ = ["BLOCK_EVENTS", "BlockMeans"]

BLOCK_EVENTS = 100


class BlockMeans:
    """Tallies of the open block of each numeric feature; ``add`` returns the closed blocks.

    Parameters
    ----------
    names, mean, scale
        The features (columns of the rows given to ``add``) and their reference mean and
        standard deviation.
    block_events
        Events per block.
    """

    SNAPSHOT_VERSION: ClassVar[None] = None  # a part of its monitor's state

    def __init__(
        self,
        names: tuple[str, ...],
        mean: np.ndarray,
        scale: np.ndarray,
        *,
        block_events: int = BLOCK_EVENTS,
    ) -> None:
        if block_events < 2:
            raise ValueError("block_events must be at least 2")
        self.names, self.mean, self.scale = names, mean, scale
        self.block_events = block_events
        self._sums = np.zeros(len(names))
        self._counts = np.zeros(len(names))
        self._rows = 0

    def add(self, rows: np.ndarray) -> dict[str, list[float]]:
        """Take rows (NaN = missing); per feature, the standardised means of the blocks
        they completed, in order (a block with no value of a feature gives it none)."""
        closed: dict[str, list[float]] = {name: [] for name in self.names}
        start = 0
        while start < len(rows):
            end = min(len(rows), start + self.block_events - self._rows)
            block = rows[start:end]
            present = ~np.isnan(block)
            # Summed over the whole matrix at once: the order of the additions, and so the
            # last bits of each mean, are those the stored detectors were fed before.
            self._sums += np.where(present, block, 0.0).sum(axis=0)
            self._counts += present.sum(axis=0)
            self._rows += end - start
            if self._rows == self.block_events:
                self._close(closed)
            start = end
        return closed

    def _close(self, closed: dict[str, list[float]]) -> None:
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (self._sums / self._counts - self.mean) / (self.scale / np.sqrt(self._counts))
        for name, value in zip(self.names, z.tolist(), strict=True):
            if np.isfinite(value):
                closed[name].append(value)
        self._sums[:] = 0
        self._counts[:] = 0
        self._rows = 0

    def snapshot(self) -> dict[str, Any]:
        return {"sums": self._sums.tolist(), "counts": self._counts.tolist(), "rows": self._rows}

    @classmethod
    def restore(
        cls,
        snapshot: Any,
        names: tuple[str, ...],
        mean: np.ndarray,
        scale: np.ndarray,
        *,
        block_events: int = BLOCK_EVENTS,
    ) -> Self:
        """Block means continuing from ``snapshot``; ``InvalidState`` if it is malformed."""
        raw = check.mapping(snapshot, "blocks", ("sums", "counts", "rows"))
        blocks = cls(names, mean, scale, block_events=block_events)
        rows = check.integer(raw["rows"], "blocks.rows", high=block_events - 1)
        counts = check.numbers(raw["counts"], "blocks.counts", length=len(names), low=0, high=rows)
        sums = check.numbers(raw["sums"], "blocks.sums", length=len(names))
        blocks._sums = np.asarray(sums, dtype=float)
        blocks._counts = np.asarray(counts, dtype=float)
        blocks._rows = rows
        return blocks

"""Online mean-shift detection with ADWIN (``streams.core.online.adwin``), one per numeric feature.

ADWIN on raw values re-alarms on heavy-tailed and discrete features (river #574); here it
reads standardised means of blocks of events, which are close to normal whatever the
feature, at one update per feature per block rather than per event. The statistic is how
far ADWIN's current estimate sits from the reference, in standard errors of a block mean,
once its adaptive window spans ``min_blocks`` blocks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from streams.core import plain_data as check
from streams.core.online.adwin import ADWIN

__all__ = ["OnlineMeanDrift"]

# 2: detectors as plain numbers (1 pickled river's ADWIN and is refused).
SNAPSHOT_VERSION = 2


class OnlineMeanDrift:
    """Block means of each feature, standardised against the reference, fed to ADWIN.

    Parameters
    ----------
    names, mean, scale
        The features (columns of the rows given to ``add``) and their reference mean and
        standard deviation.
    block_events
        Events per block mean.
    delta
        ADWIN's confidence parameter.
    min_blocks
        Blocks ADWIN's window must span before its estimate is trusted.
    max_blocks
        Longest window kept: ADWIN's memory grows with the log of its width, and the
        statistic (distance from the reference, not from the past) needs no longer history.
    """

    def __init__(
        self,
        names: tuple[str, ...],
        mean: np.ndarray,
        scale: np.ndarray,
        *,
        block_events: int = 100,
        delta: float = 0.002,
        min_blocks: int = 5,
        max_blocks: int = 1000,
    ) -> None:
        if block_events < 2 or not 1 <= min_blocks < max_blocks or not 0 < delta < 1:
            raise ValueError(
                "block_events >= 2, 1 <= min_blocks < max_blocks and 0 < delta < 1 are needed"
            )
        self.names = names
        self.mean = mean
        self.scale = scale
        self.block_events = block_events
        self.min_blocks = min_blocks
        self.max_blocks = max_blocks
        self.delta = delta
        self._detectors = [self._fresh() for _ in names]
        self._sums = np.zeros(len(names))
        self._counts = np.zeros(len(names))
        self._rows = 0

    def add(self, rows: np.ndarray) -> None:
        """Take rows (NaN = missing), closing blocks as they fill."""
        start = 0
        while start < len(rows):
            end = min(len(rows), start + self.block_events - self._rows)
            block = rows[start:end]
            present = ~np.isnan(block)
            self._sums += np.where(present, block, 0.0).sum(axis=0)
            self._counts += present.sum(axis=0)
            self._rows += end - start
            if self._rows == self.block_events:
                self._close_block()
            start = end

    def _close_block(self) -> None:
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (self._sums / self._counts - self.mean) / (self.scale / np.sqrt(self._counts))
        for j, value in enumerate(z.tolist()):
            if np.isfinite(value):
                self._detectors[j].update(value)
                if self._detectors[j].width > self.max_blocks:
                    self._detectors[j] = self._fresh()
        self._sums[:] = 0
        self._counts[:] = 0
        self._rows = 0

    def _fresh(self) -> ADWIN:
        # clock=1: check for a change at every block, not every 32nd (river's default).
        return ADWIN(delta=self.delta, clock=1)

    def shifts(self) -> dict[str, float]:
        """Per feature, |ADWIN's estimate| in block standard errors; 0 until trusted."""
        return {
            name: abs(d.estimation) if d.width >= self.min_blocks else 0.0
            for name, d in zip(self.names, self._detectors, strict=True)
        }

    def snapshot(self) -> dict[str, Any]:
        """JSON-safe state: each feature's ADWIN as numbers and the open block's tallies."""
        return {"version": SNAPSHOT_VERSION,
                "detectors": [d.snapshot() for d in self._detectors],
                "sums": self._sums.tolist(), "counts": self._counts.tolist(),
                "rows": self._rows}  # fmt: skip

    def restore(self, snapshot: Any) -> None:
        """Continue from ``snapshot``; ``InvalidState`` if it is malformed or of another
        version (the pickled format of version 1 is refused, never loaded)."""
        raw = check.version(snapshot, "online", SNAPSHOT_VERSION)
        check.mapping(raw, "online", ("detectors", "sums", "counts", "rows"))
        n = len(self.names)
        stored = check.listing(raw["detectors"], "online.detectors", length=n)
        detectors = [ADWIN.from_snapshot(d) for d in stored]
        if any(d.delta != self.delta or d.clock != 1 for d in detectors):
            raise check.InvalidState("online.detectors: taken with other parameters")
        rows = check.integer(raw["rows"], "online.rows", high=self.block_events - 1)
        counts = check.numbers(raw["counts"], "online.counts", length=n, low=0, high=rows)
        self._sums = np.asarray(check.numbers(raw["sums"], "online.sums", length=n), dtype=float)
        self._counts = np.asarray(counts, dtype=float)
        self._detectors, self._rows = detectors, rows

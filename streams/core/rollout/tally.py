"""One model version's traffic in a period: counts and fixed-bin histograms, plain data.

Fixed bins keep a tally's size constant however many events it holds, so a canary's state
is a few hundred integers: scores in 50 equal bins over [0, 1] (a score outside is clipped
to the nearest end), latencies in 60 log-spaced bins from 0.1 ms to 100 s (ratio 1.26 per
bin, plus one bin under and one over).
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np

from streams.core import plain_data as check

__all__ = ["LATENCY_EDGES", "SCORE_BINS", "Tally"]

SCORE_BINS = 50
#: Inner edges of the latency bins (ms); bin ``i`` is ``searchsorted(edges, x, 'right')``.
LATENCY_EDGES = np.geomspace(0.1, 100_000.0, 61)
_LATENCY_BINS = LATENCY_EDGES.size + 1


class Tally:
    """Events, positives, rejections, labelled predictions (and how many were right) and the
    score and latency histograms of one version.

    >>> t = Tally()
    >>> t.add(np.array([0.1, 0.9, np.nan]), positives=1, latencies=np.array([5.0, 7.0, 9.0]))
    >>> t.events, t.positives, int(t.scores.sum()), round(t.latency_quantile(0.5), 2)
    (3, 1, 2, 7.94)
    """

    SNAPSHOT_VERSION: ClassVar[None] = None

    def __init__(self) -> None:
        self.events = 0
        self.positives = 0
        self.rejected = 0
        self.labelled = 0
        self.correct = 0
        self.scores = np.zeros(SCORE_BINS, dtype=np.int64)
        self.latencies = np.zeros(_LATENCY_BINS, dtype=np.int64)

    def add(self, scores: np.ndarray, *, positives: int, latencies: np.ndarray) -> None:
        """Count a chunk of events: ``scores`` and ``latencies`` with NaN where missing."""
        self.events += len(scores)
        self.positives += positives
        present = scores[~np.isnan(scores)]
        bins = np.clip((present * SCORE_BINS).astype(np.int64), 0, SCORE_BINS - 1)
        self.scores += np.bincount(bins, minlength=SCORE_BINS)
        timed = latencies[~np.isnan(latencies)]
        self.latencies += np.bincount(
            np.searchsorted(LATENCY_EDGES, timed, "right"), minlength=_LATENCY_BINS
        )

    def merge(self, other: Tally) -> None:
        """Add ``other``'s counts to these."""
        self.events += other.events
        self.positives += other.positives
        self.rejected += other.rejected
        self.labelled += other.labelled
        self.correct += other.correct
        self.scores += other.scores
        self.latencies += other.latencies

    def latency_quantile(self, q: float) -> float:
        """The upper edge (ms) of the bin holding the ``q`` quantile; NaN without latencies.

        The top bin has no upper edge: its lower one (100 s) is returned."""
        total = int(self.latencies.sum())
        if total == 0:
            return float("nan")
        at = int(np.searchsorted(np.cumsum(self.latencies), q * total, "left"))
        return float(LATENCY_EDGES[min(at, LATENCY_EDGES.size - 1)])

    def snapshot(self) -> dict[str, Any]:
        return {"events": self.events, "positives": self.positives, "rejected": self.rejected,
                "labelled": self.labelled, "correct": self.correct,
                "scores": self.scores.tolist(), "latencies": self.latencies.tolist()}  # fmt: skip

    @classmethod
    def restore(cls, snapshot: Any) -> Self:
        raw = check.mapping(snapshot, "tally", ("events", "positives", "rejected", "scores",
                                                "latencies"))  # fmt: skip
        tally = cls()
        tally.events = check.integer(raw["events"], "tally.events")
        tally.positives = check.integer(raw["positives"], "tally.positives", high=tally.events)
        tally.rejected = check.integer(raw["rejected"], "tally.rejected")
        # Absent from state stored before labels were counted.
        tally.labelled = check.integer(raw.get("labelled", 0), "tally.labelled")
        tally.correct = check.integer(raw.get("correct", 0), "tally.correct", high=tally.labelled)
        tally.scores = _counts(raw["scores"], "tally.scores", SCORE_BINS)
        tally.latencies = _counts(raw["latencies"], "tally.latencies", _LATENCY_BINS)
        if tally.scores.sum() > tally.events:
            raise check.InvalidState("tally.scores: more scores than events")
        return tally


def _counts(raw: Any, name: str, length: int) -> np.ndarray:
    values = check.listing(raw, name, length=length)
    return np.array([check.integer(v, name) for v in values], dtype=np.int64)

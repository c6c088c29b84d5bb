"""How often each score's label was positive in the reference, in bounded memory.

The reference's scores are cut into up to 20 bins of equal count (quantile edges, each an
actual score, so tied scores share a bin); each bin keeps its labels and positives. A bin
with fewer than ``MIN_BIN`` labels is merged into its smaller neighbour; a score outside
the reference's range falls in the end bins. This is what ``calibration_cusum`` holds new
labels to.

Why so few bins, 250 labels or more each: a rate estimated from ``n`` labels is off by
``sqrt(p (1 - p) / n)``, and the CUSUM's steps lean with that error, so with no change its
sum drifts down more slowly than the true rates would make it. The threshold allows for
the lean (``calibration_cusum``), and the price is detection: with a 10,000-label reference
h is ~21 at 20 bins, ~29 at 64 and ~34 at 128.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Self

import numpy as np

from streams.core import plain_data as check

__all__ = ["CalibrationReference"]

BINS = 20
MIN_BIN = 250


@dataclass(frozen=True, slots=True)
class CalibrationReference:
    """Bins of the reference's scores: bin ``i`` holds scores in ``[edges[i - 1],
    edges[i])``, with ``counts[i]`` labels of which ``positives[i]`` positive.

    >>> rng = np.random.default_rng(1)
    >>> score = rng.random(10_000)
    >>> reference = CalibrationReference.from_scores(score, rng.random(10_000) < score)
    >>> len(reference.counts), reference.counts[0], reference.rates[[0, -1]].round(2).tolist()
    (20, 499, [0.03, 0.97])
    >>> CalibrationReference.from_dict(reference.to_dict()) == reference
    True
    """

    edges: tuple[float, ...]
    positives: tuple[int, ...]
    counts: tuple[int, ...]

    @classmethod
    def from_scores(cls, score: np.ndarray, positive: np.ndarray) -> Self | None:
        """The reference of these pairs (NaN scores left out); None when the scores cannot
        make two bins of ``MIN_BIN`` labels."""
        scored = ~np.isnan(score)
        score, positive = score[scored], np.asarray(positive, dtype=bool)[scored]
        if len(score) < 2 * MIN_BIN:
            return None
        at = np.arange(1, BINS) / BINS
        edges = np.unique(np.quantile(score, at, method="inverted_cdf"))
        while len(edges):
            counts = np.bincount(np.searchsorted(edges, score, "right"), minlength=len(edges) + 1)
            small = int(np.argmin(counts))
            if counts[small] >= MIN_BIN:
                break
            edges = np.delete(edges, _edge_to_merge(counts, small))
        if not len(edges):
            return None
        bins = np.searchsorted(edges, score, "right")
        positives = np.bincount(bins, positive, len(edges) + 1).astype(int)
        return cls(tuple(edges.tolist()), tuple(positives.tolist()), tuple(counts.tolist()))

    @property
    def rates(self) -> np.ndarray:
        """Each bin's positive rate, kept off 0 and 1 (half a label each way)."""
        positives, counts = np.asarray(self.positives), np.asarray(self.counts)
        rates: np.ndarray = (positives + 0.5) / (counts + 1)
        return rates

    def bins(self, score: np.ndarray) -> np.ndarray:
        """The bin of each score."""
        found: np.ndarray = np.searchsorted(np.asarray(self.edges), score, "right")
        return found

    def to_dict(self) -> dict[str, Any]:
        return {"edges": list(self.edges), "positives": list(self.positives),
                "counts": list(self.counts)}  # fmt: skip

    @classmethod
    def from_dict(cls, raw: Any) -> Self:
        """A reference from ``to_dict()``'s form; ``InvalidState`` if malformed."""
        name = "labels reference.calibration"
        data = check.mapping(raw, name, ("edges", "positives", "counts"))
        edges = check.numbers(data["edges"], f"{name}.edges")
        if not 0 < len(edges) < BINS or any(b <= a for a, b in itertools.pairwise(edges)):
            raise check.InvalidState(f"{name}.edges: expected 1-{BINS - 1} increasing scores")
        counts = [check.integer(c, f"{name}.counts", low=1)
                  for c in check.listing(data["counts"], f"{name}.counts",
                                         length=len(edges) + 1)]  # fmt: skip
        positives = [check.integer(p, f"{name}.positives", low=0, high=c)
                     for p, c in zip(check.listing(data["positives"], f"{name}.positives",
                                                   length=len(counts)), counts,
                                     strict=True)]  # fmt: skip
        return cls(tuple(edges), tuple(positives), tuple(counts))


def _edge_to_merge(counts: np.ndarray, small: int) -> int:
    """The edge between bin ``small`` and its smaller neighbour."""
    if small == 0:
        return 0
    if small == len(counts) - 1 or counts[small - 1] <= counts[small + 1]:
        return small - 1
    return small

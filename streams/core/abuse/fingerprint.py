"""Quantised feature vectors, and keys that two vectors share when they differ in few features.

A probing client sends one input again and again with one or two features walked across
a range. Quantised on the reference's quantile bins, its events then agree on every other
feature. For each event and each *mask* (one feature, or a pair of features, left out)
the key is a hash of the quantised values of the features not masked: two events share a
key for some mask exactly when they differ at most in that mask's features (up to a hash
collision). The hash is linear in the codes, so all keys of a batch are
a few numpy operations: ``sum_j w_j c_j`` minus the masked terms, plus a salt per mask (so
the keys of two different masks never meet). A key keeps the hash's top 32 bits: a source's
events are compared with at most a few dozen keys, so a chance match is ~1e-8 per event,
while the counters' stored keys take half the room of 64-bit ones.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from streams.core.contract.columns import Columns
from streams.core.drift.profile import ReferenceProfile

__all__ = ["Fingerprint"]

_GOLDEN = 0x9E3779B97F4A7C15
_MASK64 = 2**64 - 1


def _mix(seed: int) -> int:
    """splitmix64: well-spread fixed 64-bit weights, the same in every process."""
    z = (seed * _GOLDEN) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """Keys of each event's features with one (``differing=1``) or also two features left out.

    Parameters
    ----------
    names
        The features, numeric ones first (in the order of ``edges``), then categorical.
    edges
        The reference's inner bin edges of each numeric feature.
    differing
        Features in which two events may differ and still share a key: 1 or 2.

    Examples
    --------
    >>> import numpy as np
    >>> from streams.core.contract.columns import Columns
    >>> edges = (np.array([1.0, 2.0, 3.0]),) * 3
    >>> fp = Fingerprint(("a", "b", "c"), edges, differing=1)
    >>> rows = np.array([[0.5, 1.5, 2.5], [0.5, 1.5, 3.5], [0.5, 2.5, 3.5], [3.5, 3.5, 0.5]])
    >>> keys = fp.keys(Columns(("a", "b", "c"), rows, {})).tolist()
    >>> [len(set(keys[0]) & set(other)) for other in keys[1:]]
    [1, 0, 0]
    >>> fp.features_of(2)
    ('c',)
    """

    names: tuple[str, ...]
    edges: tuple[np.ndarray, ...]
    differing: int = 1

    def __post_init__(self) -> None:
        if self.differing not in (1, 2):
            raise ValueError(f"differing must be 1 or 2, got {self.differing}")
        if len(self.edges) > len(self.names):
            raise ValueError("more numeric edges than feature names")

    @classmethod
    def from_profile(
        cls,
        profile: ReferenceProfile,
        numeric: Sequence[str],
        categorical: Sequence[str],
        *,
        differing: int = 1,
    ) -> Fingerprint:
        """The fingerprint of a model version's features, binned as its reference."""
        edges = tuple(profile.numeric[name].edges for name in numeric)
        return cls((*numeric, *categorical), edges, differing)

    @property
    def masks(self) -> tuple[tuple[int, ...], ...]:
        """The feature positions each key leaves out, in key order."""
        single = tuple((j,) for j in range(len(self.names)))
        if self.differing == 1:
            return single
        return single + tuple(combinations(range(len(self.names)), 2))

    def features_of(self, mask: int) -> tuple[str, ...]:
        """The names of the features key ``mask`` leaves out."""
        return tuple(self.names[j] for j in self.masks[mask])

    def keys(self, chunk: Columns) -> np.ndarray:
        """One row of 32-bit keys per event (a column per mask); needs the columns of
        ``names`` in ``chunk``."""
        codes = self._codes(chunk)
        count = len(self.names)
        weights = np.array([_mix(j + 1) | 1 for j in range(count)], dtype=np.uint64)
        masks = self.masks
        selector = np.zeros((count, len(masks)), dtype=np.uint64)
        for m, mask in enumerate(masks):
            selector[list(mask), m] = 1
        salts = np.array([_mix(1000 + m) for m in range(len(masks))], dtype=np.uint64)
        with np.errstate(over="ignore"):
            terms = codes * weights
            total = terms.sum(axis=1, dtype=np.uint64)
            keys: np.ndarray = (total[:, None] - terms @ selector + salts) >> np.uint64(32)
        return keys

    def _codes(self, chunk: Columns) -> np.ndarray:
        codes = np.zeros((len(chunk), len(self.names)), dtype=np.uint64)
        for j, edges in enumerate(self.edges):
            values = chunk.numeric[:, chunk.numeric_names.index(self.names[j])]
            binned = np.searchsorted(edges, values, "right")
            binned[np.isnan(values)] = edges.size + 1  # missing is its own code
            codes[:, j] = binned
        for j in range(len(self.edges), len(self.names)):
            column = chunk.categorical[self.names[j]]
            codes[:, j] = [0 if v is None else zlib.crc32(v.encode()) + 1 for v in column]
        return codes

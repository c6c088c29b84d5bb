"""EDDM (early drift detection method) on a binary error stream, with plain-number state.

It decides as river 0.26.1's ``river.drift.binary.EDDM`` does, step for step, but keeps its
state as a handful of numbers that ``snapshot()`` gives as JSON-safe data and
``restore`` rebuilds from after checking them: nothing stored is unpickled.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from streams.core import plain_data as check
from streams.core.online.binary import BinaryDriftDetector

__all__ = ["EDDM"]


class EDDM(BinaryDriftDetector):
    """Early drift detection method (Baena-García et al., 2006): the distance between
    errors, mean plus two deviations, falling below ``beta`` of its highest point.

    Parameters
    ----------
    warm_start
        Updates (and errors) before any detection.
    alpha, beta
        Ratios to the maximum under which a warning, a drift, is raised (alpha >= beta).

    Examples
    --------
    >>> import random
    >>> rng = random.Random(42)
    >>> eddm = EDDM()
    >>> stream = [rng.random() < 0.05 for _ in range(3000)]
    >>> stream += [rng.random() < 0.5 for _ in range(500)]
    >>> [i for i, x in enumerate(stream) if (eddm.update(x), eddm.drift_detected)[1]][-1:]
    [3401]
    """

    NAME: ClassVar[str] = "eddm"
    _FIELDS: ClassVar[tuple[str, ...]] = ("counts", "distances", "p2s_prime_max")

    def __init__(self, *, warm_start: int = 30, alpha: float = 0.95, beta: float = 0.9) -> None:
        if warm_start < 0 or not 0 < beta <= alpha:
            raise ValueError("warm_start >= 0 and 0 < beta <= alpha")
        self.warm_start = int(warm_start)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self._reset()

    def _reset(self) -> None:
        self._n = 0
        self._last_error = 0
        self._n_errors = 0
        self._p2s_prime_max = -1.0
        # river's running variance of the distances between errors: count, mean, sum of squares.
        self._count = 0.0
        self._mean = 0.0
        self._squares = 0.0
        self._drift_detected = False
        self._warning_detected = False

    def update(self, x: bool) -> None:
        """Take one value: 1 (True) for an error."""
        if self._drift_detected:
            self._reset()
        self._n += 1
        if x != 1:
            return
        self._n_errors += 1
        self._add_distance(self._n - self._last_error)
        if self._n > self.warm_start:
            variance = self._squares / (self._count - 1) if self._count > 1 else 0.0
            p2s_prime = self._mean + 2 * variance**0.5
            if p2s_prime > self._p2s_prime_max:
                self._p2s_prime_max = p2s_prime
            elif self._n_errors > self.warm_start:
                level = p2s_prime / self._p2s_prime_max
                if level < self.beta:
                    self._drift_detected = True
                elif level < self.alpha:
                    self._warning_detected = True
                else:
                    self._warning_detected = False
        self._last_error = self._n

    def _add_distance(self, distance: int) -> None:
        old = self._mean
        self._count += 1.0
        self._mean += (1.0 / self._count) * (distance - self._mean)
        self._squares += 1.0 * (distance - old) * (distance - self._mean)

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON-safe numbers, for ``restore``."""
        return {
            "version": self.SNAPSHOT_VERSION,
            "params": [self.warm_start, self.alpha, self.beta],
            "counts": [self._n, self._last_error, self._n_errors],
            "distances": [self._count, self._mean, self._squares],
            "p2s_prime_max": self._p2s_prime_max,
            "flags": self._flags(),
        }

    @classmethod
    def restore(cls, snapshot: Any) -> Self:
        """An EDDM continuing from ``snapshot``; ``InvalidState`` if it is malformed."""
        raw, (warm, alpha, beta) = cls._checked(snapshot)
        eddm = cls(
            warm_start=check.integer(warm, "eddm.warm_start"),
            alpha=check.number(alpha, "eddm.alpha", low=1e-9),
            beta=check.number(beta, "eddm.beta", low=1e-9, high=alpha),
        )
        n, last, errors = check.listing(raw["counts"], "eddm.counts", length=3)
        eddm._n = check.integer(n, "eddm.n")
        eddm._last_error = check.integer(last, "eddm.last_error", high=eddm._n)
        eddm._n_errors = check.integer(errors, "eddm.n_errors", high=eddm._n)
        count, mean, squares = check.numbers(raw["distances"], "eddm.distances", length=3, low=0)
        eddm._count, eddm._mean, eddm._squares = count, mean, squares
        eddm._p2s_prime_max = check.number(raw["p2s_prime_max"], "eddm.p2s_prime_max", low=-1)
        eddm._restore_flags(raw)
        return eddm

"""DDM (drift detection method) on a binary error stream, with plain-number state.

It decides as river 0.26.1's ``river.drift.binary.DDM`` does, step for step, but keeps its
state as a handful of numbers that ``snapshot()`` gives as JSON-safe data and
``restore`` rebuilds from after checking them: nothing stored is unpickled.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Self

from streams.core import plain_data as check
from streams.core.online.binary import BinaryDriftDetector

__all__ = ["DDM"]


class DDM(BinaryDriftDetector):
    """Drift detection method (Gama et al., 2004): the error rate plus its standard
    deviation rising ``drift_threshold`` deviations over its lowest point.

    Parameters
    ----------
    warm_start
        Updates before any detection.
    warning_threshold, drift_threshold
        Deviations over the minimum that raise a warning, a drift.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(42)
    >>> ddm = DDM()
    >>> stream = [rng.random() < 0.1 for _ in range(1000)]
    >>> stream += [rng.random() < 0.5 for _ in range(500)]
    >>> [i for i, x in enumerate(stream) if (ddm.update(x), ddm.drift_detected)[1]][:1]
    [1033]
    """

    NAME: ClassVar[str] = "ddm"
    _FIELDS: ClassVar[tuple[str, ...]] = ("n", "p", "min")

    def __init__(
        self, *, warm_start: int = 30, warning_threshold: float = 2.0, drift_threshold: float = 3.0
    ) -> None:
        if warm_start < 0 or not 0 < warning_threshold <= drift_threshold:
            raise ValueError("warm_start >= 0 and 0 < warning_threshold <= drift_threshold")
        self.warm_start = int(warm_start)
        self.warning_threshold = float(warning_threshold)
        self.drift_threshold = float(drift_threshold)
        self._reset()

    def _reset(self) -> None:
        self._n = 0.0  # river's running Mean: count and mean of the errors
        self._p = 0.0
        self._p_min: float | None = None
        self._s_min: float | None = None
        self._ps_min = math.inf
        self._drift_detected = False
        self._warning_detected = False

    def update(self, x: bool) -> None:
        """Take one value: 1 (True) for an error."""
        if self._drift_detected:
            self._reset()
        self._n += 1.0
        self._p += (1.0 / self._n) * (x - self._p)
        p, n = self._p, self._n
        s = math.sqrt(p * (1 - p) / n)
        if n <= self.warm_start:
            return
        if p + s <= self._ps_min:
            self._p_min, self._s_min = p, s
            self._ps_min = p + s
        assert self._p_min is not None and self._s_min is not None
        self._warning_detected = p + s > self._p_min + self.warning_threshold * self._s_min
        if p + s > self._p_min + self.drift_threshold * self._s_min:
            self._drift_detected = True
            self._warning_detected = False

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON-safe numbers, for ``restore``."""
        return {
            "version": self.SNAPSHOT_VERSION,
            "params": [self.warm_start, self.warning_threshold, self.drift_threshold],
            "n": self._n,
            "p": self._p,
            "min": None if self._p_min is None else [self._p_min, self._s_min, self._ps_min],
            "flags": self._flags(),
        }

    @classmethod
    def restore(cls, snapshot: Any) -> Self:
        """A DDM continuing from ``snapshot``; ``InvalidState`` if it is malformed."""
        raw, (warm, warning, drift) = cls._checked(snapshot)
        ddm = cls(
            warm_start=check.integer(warm, "ddm.warm_start"),
            warning_threshold=check.number(warning, "ddm.warning_threshold", low=1e-9),
            drift_threshold=check.number(drift, "ddm.drift_threshold", low=warning),
        )
        ddm._n = check.number(raw["n"], "ddm.n", low=0.0, high=2.0**53)
        if not ddm._n.is_integer():
            raise check.InvalidState("ddm.n: expected a whole count")
        ddm._p = check.number(raw["p"], "ddm.p", low=0.0, high=1.0)
        if raw["min"] is not None:
            p_min, s_min, ps_min = check.numbers(raw["min"], "ddm.min", length=3, low=0.0)
            ddm._p_min, ddm._s_min, ddm._ps_min = p_min, s_min, ps_min
        ddm._restore_flags(raw)
        return ddm

"""ADWIN (adaptive windowing, ADWIN2) whose state is plain numbers.

It decides as river 0.26.1's ``river.drift.ADWIN`` does, step for step (the same
floating-point operations in the same order, so the same cuts), but its state is the
exponential histogram's bucket rows of totals and variances plus a few counters:
``snapshot()`` gives them as JSON-safe data and ``restore`` rebuilds from them after
checking every field, so nothing read back from storage is ever unpickled.

Like river's, the detector starts afresh on the update after the one that detected a drift.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Self

from streams.core import plain_data as check

__all__ = ["ADWIN"]

# A window holds at most 2**62 values: far past any stream, and exact as a float.
_MAX_ROWS = 62
_FIELDS = ("params", "total", "variance", "width", "tick", "n_detections", "drift_detected",
           "totals", "variances")  # fmt: skip


class ADWIN:
    """Adaptive windowing drift detector (Bifet and Gavaldà, 2007).

    Parameters
    ----------
    delta
        Significance of a cut, in (0, 1).
    clock
        Check for a cut every ``clock`` updates.
    max_buckets
        Buckets of each size kept before two are merged into one of the next size.
    min_window_length
        Neither sub-window of a cut may be shorter.
    grace_period
        No check until the window is longer than this.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(12345)
    >>> adwin = ADWIN()
    >>> stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
    >>> for i, value in enumerate(stream):
    ...     adwin.update(value)
    ...     if adwin.drift_detected:
    ...         print(i)
    1023
    """

    SNAPSHOT_VERSION: ClassVar[int] = 1

    def __init__(
        self,
        *,
        delta: float = 0.002,
        clock: int = 32,
        max_buckets: int = 5,
        min_window_length: int = 5,
        grace_period: int = 10,
    ) -> None:
        if not 0 < delta < 1:
            raise ValueError("delta must be in (0, 1)")
        if min(clock, max_buckets, min_window_length) < 1 or grace_period < 0:
            raise ValueError("clock, max_buckets, min_window_length >= 1 and grace_period >= 0")
        self.delta = float(delta)
        self.clock = int(clock)
        self.max_buckets = int(max_buckets)
        self.min_window_length = int(min_window_length)
        self.grace_period = int(grace_period)
        self._reset()

    def _reset(self) -> None:
        self.total = 0.0
        self.variance = 0.0  # sum of squared deviations over the window, as river's
        self.width = 0.0
        self.n_detections = 0
        self._tick = 0
        # Row i holds buckets of 2**i values, oldest first: their totals and variances.
        self._totals: list[list[float]] = [[]]
        self._variances: list[list[float]] = [[]]
        self._drift_detected = False
        self._saved: dict[str, Any] | None = None

    @property
    def drift_detected(self) -> bool:
        """Whether the last update cut the window."""
        return self._drift_detected

    @property
    def estimation(self) -> float:
        """Mean of the values in the window; 0 while it is empty."""
        return self.total / self.width if self.width else 0.0

    def update(self, x: float) -> None:
        """Add one value and check for a cut (every ``clock`` updates)."""
        self._saved = None
        if self._drift_detected:
            self._reset()
        self._insert(float(x))
        self._tick += 1
        detected = False
        if self._tick % self.clock == 0 and self.width > self.grace_period:
            while self._cut():
                detected = True
        if detected:
            self.n_detections += 1
        self._drift_detected = detected

    def _insert(self, value: float) -> None:
        self._totals[0].append(value)
        self._variances[0].append(0.0)
        self.width += 1.0
        if self.width > 1.0:
            d = value - self.total / (self.width - 1.0)
            self.variance += (self.width - 1.0) * d * d / self.width
        self.total += value
        self._compress()

    def _compress(self) -> None:
        totals, variances, full = self._totals, self._variances, self.max_buckets + 1
        i = 0
        while len(totals[i]) == full:
            n = float(1 << i)
            t0, t1 = totals[i][0], totals[i][1]
            mu1, mu2 = t0 / n, t1 / n
            merged_variance = (
                variances[i][0] + variances[i][1] + n * 0.5 * (mu1 - mu2) * (mu1 - mu2)
            )
            if i + 1 == len(totals):
                totals.append([])
                variances.append([])
            totals[i + 1].append(t0 + t1)
            variances[i + 1].append(merged_variance)
            del totals[i][:2], variances[i][:2]
            i += 1

    def _cut(self) -> bool:
        """Drop the oldest bucket if some split of the window differs in mean; say if so."""
        width, minimum = self.width, float(self.min_window_length)
        if width < 2 * minimum:  # no split leaves both sides long enough
            return False
        # Fixed within one pass over the splits: river computes them at every split.
        delta_prime = math.log(2.0 * math.log(width) / self.delta)
        per_value = self.variance / width
        third = 2.0 / 3.0 * delta_prime
        # Whole numbers below 2**53, so n - minimum + 1.0 is exactly n - shift.
        shift, sqrt = minimum - 1.0, math.sqrt
        n0, n1, u0, u1 = 0.0, width, 0.0, self.total
        totals = self._totals
        # Oldest bucket first; the newest (last of row 0) splits nothing off, river stops there.
        for i in range(len(totals) - 1, -1, -1):
            size = float(1 << i)
            for bucket_total in totals[i] if i else totals[0][:-1]:
                n0 += size
                n1 -= size
                u0 += bucket_total
                u1 -= bucket_total
                if n1 < minimum or n0 < minimum:
                    continue
                m_recip = 1.0 / (n0 - shift) + 1.0 / (n1 - shift)
                epsilon = sqrt(2.0 * m_recip * per_value * delta_prime) + third * m_recip
                if abs(u0 / n0 - u1 / n1) > epsilon:
                    self._drop_oldest()
                    return True
        return False

    def _drop_oldest(self) -> None:
        last = len(self._totals) - 1
        n = float(1 << last)
        u, v = self._totals[last].pop(0), self._variances[last].pop(0)
        mu = u / n
        self.width -= n
        self.total -= u
        mu_window = self.total / self.width
        self.variance -= v + n * self.width * (mu - mu_window) * (mu - mu_window) / (n + self.width)
        if not self._totals[last] and last > 0:
            self._totals.pop()
            self._variances.pop()

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON-safe numbers, for ``restore``: the same object until the
        next ``update`` (read it, do not change it)."""
        # A monitor's state is saved every batch, while its ADWINs take one value per block
        # of events: most saves find the last copy of the bucket rows still current.
        if self._saved is None:
            self._saved = self._state()
        return self._saved

    def _state(self) -> dict[str, Any]:
        return {
            "version": self.SNAPSHOT_VERSION,
            "params": [self.delta, self.clock, self.max_buckets,
                       self.min_window_length, self.grace_period],
            "total": self.total,
            "variance": self.variance,
            "width": self.width,
            "tick": self._tick,
            "n_detections": self.n_detections,
            "drift_detected": self._drift_detected,
            "totals": [list(row) for row in self._totals],
            "variances": [list(row) for row in self._variances],
        }  # fmt: skip

    @classmethod
    def restore(cls, snapshot: Any) -> Self:
        """An ADWIN continuing from ``snapshot``; ``InvalidState`` (a ValueError) if any
        field is missing, of the wrong type or size, not finite, or inconsistent."""
        raw = check.version(snapshot, "adwin", cls.SNAPSHOT_VERSION)
        check.mapping(raw, "adwin", _FIELDS)
        params = check.listing(raw["params"], "adwin.params", length=5)
        delta, clock, buckets, min_length, grace = params
        adwin = cls(
            delta=check.number(delta, "adwin.delta", low=1e-300, high=1 - 1e-12),
            clock=check.integer(clock, "adwin.clock", low=1, high=1_000_000),
            max_buckets=check.integer(buckets, "adwin.max_buckets", low=1, high=1000),
            min_window_length=check.integer(min_length, "adwin.min_window_length", low=1),
            grace_period=check.integer(grace, "adwin.grace_period"),
        )
        adwin._totals, adwin._variances = adwin._rows(raw["totals"], raw["variances"])
        width = sum(len(row) * float(1 << i) for i, row in enumerate(adwin._totals))
        if check.number(raw["width"], "adwin.width") != width:
            raise check.InvalidState("adwin.width: does not match its buckets")
        adwin.width = width
        adwin.total = check.number(raw["total"], "adwin.total")
        adwin.variance = check.number(raw["variance"], "adwin.variance")
        adwin._tick = check.integer(raw["tick"], "adwin.tick")
        adwin.n_detections = check.integer(raw["n_detections"], "adwin.n_detections")
        adwin._drift_detected = check.flag(raw["drift_detected"], "adwin.drift_detected")
        return adwin

    def _rows(self, totals: Any, variances: Any) -> tuple[list[list[float]], list[list[float]]]:
        rows = check.listing(totals, "adwin.totals", max_length=_MAX_ROWS)
        if not rows:
            raise check.InvalidState("adwin.totals: no bucket row")
        check.listing(variances, "adwin.variances", length=len(rows))
        kept_t, kept_v = [], []
        for row_t, row_v in zip(rows, variances, strict=True):
            row_t = check.listing(row_t, "adwin.totals[]", max_length=self.max_buckets)
            kept_t.append(check.numbers(row_t, "adwin.totals[]"))
            kept_v.append(check.numbers(row_v, "adwin.variances[]", length=len(row_t), low=0.0))
        if len(kept_t) > 1 and not kept_t[-1]:
            raise check.InvalidState("adwin.totals: empty last row")
        return kept_t, kept_v

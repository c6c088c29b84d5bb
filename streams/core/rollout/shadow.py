"""Shadow traffic: the same request scored by two versions (one ``event_id``, two events).

Events wait in a bounded map (``max_pending``, oldest evicted first) for at most ``ttl_ms``
of event time; when another version's event with the same id arrives, the pair counts
towards that pair of versions' prediction agreement and score correlation (running sums,
so memory does not grow with the stream). Only the sums are state: events waiting at a
restart are not stored (at most ``max_pending`` joins are missed).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, ClassVar, NamedTuple, Self

from streams.core import plain_data as check

__all__ = ["ShadowJoin", "Waiting"]

# n, agreeing predictions, scored pairs, sums of x, y, x*x, y*y, x*y (x the earlier version).
_SUMS = 8


class Waiting(NamedTuple):
    """An event waiting for its twin of another version."""

    version: str
    timestamp_ms: int
    prediction: str | None
    score: float


class ShadowJoin:
    """Pairs of one model's versions joined by ``event_id``.

    >>> join = ShadowJoin(ttl_ms=60_000, max_pending=100)
    >>> for i in range(4):
    ...     join.add(f"e{i}", "v1", 1000 * i, "yes", 0.1 * i)
    ...     join.add(f"e{i}", "v2", 1000 * i, "yes" if i < 3 else "no", 0.1 * i + 0.05)
    >>> s = join.summary("v1", "v2")
    >>> s["pairs"], s["agreement"], round(s["score_correlation"], 3)
    (4, 0.75, 1.0)
    """

    SNAPSHOT_VERSION: ClassVar[None] = None

    def __init__(self, *, ttl_ms: int, max_pending: int) -> None:
        self.ttl_ms = ttl_ms
        self.max_pending = max_pending
        self._pending: OrderedDict[str, Waiting] = OrderedDict()
        self._sums: dict[tuple[str, str], list[float]] = {}
        self._latest = 0

    def add(self, event_id: str, version: str, timestamp_ms: int, prediction: str | None,
            score: float) -> None:  # fmt: skip
        """One event (``score`` NaN when it has none)."""
        self.add_many([(event_id, Waiting(version, timestamp_ms, prediction, score))])

    def add_many(self, events: Iterable[tuple[str, Waiting]]) -> None:
        """Events in stream order, as (event id, what waits); expired ones go afterwards."""
        pending, latest = self._pending, self._latest
        for event_id, event in events:
            latest = max(latest, event.timestamp_ms)
            waiting = pending.pop(event_id, None)
            if waiting is not None and waiting.version != event.version:
                self._count(waiting, event)
            else:
                pending[event_id] = event
        self._latest = latest
        self._expire()

    def _expire(self) -> None:
        while len(self._pending) > self.max_pending:
            self._pending.popitem(last=False)
        horizon = self._latest - self.ttl_ms
        while self._pending and next(iter(self._pending.values())).timestamp_ms < horizon:
            self._pending.popitem(last=False)

    def _count(self, first: Waiting, second: Waiting) -> None:
        if first.version > second.version:
            first, second = second, first
        sums = self._sums.setdefault((first.version, second.version), [0.0] * _SUMS)
        sums[0] += 1
        sums[1] += first.prediction == second.prediction
        x, y = first.score, second.score
        if not (math.isnan(x) or math.isnan(y)):
            for i, term in enumerate((1.0, x, y, x * x, y * y, x * y), start=2):
                sums[i] += term

    def summary(self, a: str, b: str) -> dict[str, Any]:
        """Pairs seen, prediction agreement and Pearson's score correlation (None when
        undefined) between versions ``a`` and ``b``."""
        key = (a, b) if a <= b else (b, a)
        n, agree, m, sx, sy, sxx, syy, sxy = self._sums.get(key, [0.0] * _SUMS)
        spread = (m * sxx - sx * sx) * (m * syy - sy * sy)
        return {
            "pairs": int(n),
            "agreement": agree / n if n else None,
            "score_correlation": (m * sxy - sx * sy) / math.sqrt(spread) if spread > 0 else None,
        }

    def forget(self, keep: set[str]) -> None:
        """Drop the sums of pairs with a version not in ``keep`` (versions no longer watched)."""
        self._sums = {k: v for k, v in self._sums.items() if set(k) <= keep}

    def snapshot(self) -> dict[str, Any]:
        return {"sums": [[a, b, sums] for (a, b), sums in self._sums.items()],
                "latest": self._latest}  # fmt: skip

    @classmethod
    def restore(cls, snapshot: Any, *, ttl_ms: int, max_pending: int) -> Self:
        raw = check.mapping(snapshot, "shadow", ("sums", "latest"))
        join = cls(ttl_ms=ttl_ms, max_pending=max_pending)
        join._latest = check.integer(raw["latest"], "shadow.latest")
        for item in check.listing(raw["sums"], "shadow.sums", max_length=1000):
            a, b, sums = check.listing(item, "shadow.sums[]", length=3)
            key = (check.text(a, "shadow.version", max_length=64),
                   check.text(b, "shadow.version", max_length=64))  # fmt: skip
            join._sums[key] = check.numbers(sums, "shadow.sums", length=_SUMS)
        return join

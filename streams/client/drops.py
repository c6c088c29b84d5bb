"""Counting what a logger dropped, and saying so at most once a minute.

A logger never raises into the caller's request path: an event it cannot queue or deliver is
dropped and counted here, by a reason from a small fixed set, and the background thread logs
one line per interval that had drops (not one per event: a Kafka outage would flood the log).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

__all__ = ["REASONS", "DropCounter"]

#: Why an event was dropped.
#: ``queue_full``: the producer's bounded queue was full (Kafka down or too slow);
#: ``delivery_failed``: Kafka did not take it before the message timeout, or refused it;
#: ``refused``: the client refused it at once (e.g. larger than the producer's limit);
#: ``not_authorized``: Kafka refuses the principal writes to the topic (an ACL is missing:
#: ``driftline kafka-acl --role logger`` prints them);
#: ``invalid``: it broke the contract and the logger's ``validate`` is ``"drop"``;
#: ``closed``: logged after ``close()``, or still unsent when ``close()``'s deadline came.
REASONS = ("queue_full", "delivery_failed", "refused", "not_authorized", "invalid", "closed")


class DropCounter:
    """Thread-safe drop counts, and a report due once per ``interval_s`` with new drops.

    Examples
    --------
    >>> now = [0.0]
    >>> drops = DropCounter(interval_s=60, clock=lambda: now[0])
    >>> drops.add("queue_full", 3)
    >>> drops.report()  # the first drop is reported at once
    'dropped 3 events in the last 60s (queue_full: 3); 3 in all'
    >>> drops.add("delivery_failed")
    >>> drops.report() is None  # within the minute: held back
    True
    >>> now[0] = 61.0
    >>> drops.report()
    'dropped 1 events in the last 60s (delivery_failed: 1); 4 in all'
    """

    def __init__(self, *, interval_s: float = 60.0, clock: Callable[[], float] = time.monotonic):
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, got {interval_s}")
        self.interval_s = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._total: Counter[str] = Counter()
        self._unreported: Counter[str] = Counter()
        self._last_report = -float("inf")

    def add(self, reason: str, count: int = 1) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown drop reason {reason!r}")
        with self._lock:
            self._total[reason] += count
            self._unreported[reason] += count

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._total.values())

    def by_reason(self) -> dict[str, int]:
        with self._lock:
            return dict(self._total)

    def report(self) -> str | None:
        """The line to log now, or ``None`` (no new drops, or the last line is too recent)."""
        with self._lock:
            now = self._clock()
            if not self._unreported or now - self._last_report < self.interval_s:
                return None
            parts = ", ".join(f"{name}: {n}" for name, n in sorted(self._unreported.items()))
            count = sum(self._unreported.values())
            self._unreported.clear()
            self._last_report = now
            return (
                f"dropped {count} events in the last {self.interval_s:.0f}s ({parts}); "
                f"{sum(self._total.values())} in all"
            )

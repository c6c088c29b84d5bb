"""Waiting for workers to take a workload, without the waiting costing them CPU.

Progress is read from the workers' /metrics, and a scrape is not free: the page grows with
models and features (with 10 models, serving the harnesses' two scrapes every 0.1 s took a
third of the worker's busy time under py-spy). Prometheus asks every 15-30 s. So the
wait below asks quickly only until the first event is taken and again as the end nears,
and about once a second in between: the clock's error stays under ~50 ms at both ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from loadtest.work_done import WorkNotDone

__all__ = ["Taken", "wait_taken"]

_QUICK_S, _SLOW_S = 0.05, 1.0


@dataclass(frozen=True)
class Taken:
    """When the work began (the last reading of none taken) and when all ``events`` were
    seen taken (``time.monotonic``)."""

    started: float
    ended: float
    events: int

    @property
    def seconds(self) -> float:
        return self.ended - self.started


def wait_taken(read: Callable[[], int], total: int, *, timeout_s: float, what: str) -> Taken:
    """Poll ``read`` (events taken so far) until it reaches ``total``.

    The work started after the last reading of none (or, if no reading saw none, before the
    first one): a work done between two readings still takes a positive time.
    """
    began = time.monotonic()
    deadline = began + timeout_s
    idle_until = began  # the last reading of no events taken
    first: tuple[float, int] | None = None  # when events were first seen taken, and how many
    while (taken := read()) < total:
        now = time.monotonic()
        if now > deadline:
            raise WorkNotDone(f"{what} took {taken:,} of {total:,} events in {timeout_s:.0f} s")
        if not taken:
            idle_until = now
        elif first is None:
            first = (now, taken)
        time.sleep(_pause(taken, total, first, now))
    return Taken(idle_until, time.monotonic(), taken)


def _pause(taken: int, total: int, first: tuple[float, int] | None, now: float) -> float:
    """Quick until the first event, and when the rest is due within ~2 s at the rate seen
    since (not since 0: the count may start high); else up to ~1 s."""
    if first is None:
        return _QUICK_S
    elapsed, progress = now - first[0], taken - first[1]
    if progress <= 0:  # no rate yet: the pause grows with the time waited
        return min(_SLOW_S, max(_QUICK_S, elapsed))
    seconds_left = (total - taken) * elapsed / progress
    return min(_SLOW_S, max(_QUICK_S, seconds_left / 2))

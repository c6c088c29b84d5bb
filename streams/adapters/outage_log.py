"""One log line per outage instead of one per retry.

While Kafka is down aiokafka logs "Unable connect to node with id 1: ..." on every
reconnect attempt: 1,232 lines in 34 s of an outage here. ``OutageLogFilter`` lets the
first record of each message template through, holds back the repeats, and when the
template has been quiet for ``quiet_s`` logs one summary with their count and time span.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["OutageLogFilter"]


@dataclass(slots=True)
class _Burst:
    first: float
    last: float
    held_back: int = 0


class OutageLogFilter(logging.Filter):
    """Passes the first of a run of records with one template; summarises the rest.

    Parameters
    ----------
    quiet_s
        A template not logged for this long ends its outage; its next record passes again.
    level
        Records below this level always pass (only errors and warnings are aggregated).
    clock
        Monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        quiet_s: float = 10.0,
        *,
        level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.quiet_s = quiet_s
        self.level = level
        self._clock = clock
        self._bursts: dict[tuple[str, str], _Burst] = {}
        self._loggers: dict[tuple[str, str], logging.Logger] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.level:
            return True
        now = self._clock()
        self.flush(now)
        key = (record.name, str(record.msg))
        burst = self._bursts.get(key)
        if burst is None:
            self._bursts[key] = _Burst(now, now)
            self._loggers[key] = logging.getLogger(record.name)
            return True
        burst.last = now
        burst.held_back += 1
        return False

    def flush(self, now: float | None = None) -> None:
        """Summarise the outages that have been quiet for ``quiet_s`` (a timer calls this)."""
        now = self._clock() if now is None else now
        for key, burst in list(self._bursts.items()):
            if now - burst.last < self.quiet_s:
                continue
            del self._bursts[key]
            target = self._loggers.pop(key)
            if burst.held_back:
                # Past the filters: a summary must not be held back as a repeat itself.
                target.callHandlers(target.makeRecord(
                    target.name, logging.WARNING, __file__, 0,
                    "%r repeated %d more times over %.1fs (held back)", (key[1],
                    burst.held_back, burst.last - burst.first), None,
                ))  # fmt: skip

"""CPU time and resident memory of a process, sampled from /proc while it works."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

__all__ = ["ProcessProbe"]

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE


@dataclass
class ProcessProbe:
    """Samples (time, CPU seconds, RSS bytes) of ``pid`` every ``every_s`` in a thread."""

    pid: int
    every_s: float = 0.2
    samples: list[tuple[float, float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic(), cpu_seconds(self.pid), rss_bytes(self.pid)))
            except OSError:
                return
            self._stop.wait(self.every_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def between(self, start: float, end: float) -> tuple[float, int]:
        """CPU seconds spent between two moments, and the peak RSS in that span."""
        inside = [s for s in self.samples if start - self.every_s <= s[0] <= end + self.every_s]
        if len(inside) < 2:
            return 0.0, max((s[2] for s in self.samples), default=0)
        return inside[-1][1] - inside[0][1], max(s[2] for s in inside)

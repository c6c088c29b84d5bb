"""Is each partition this worker holds moving? Lag and time without progress, per partition.

A partition stalls when it has records to process (lag) and its position has not moved
for ``stall_s``: a dead letter that cannot be written, a store that does not answer, a
record retried forever. ``HealthCheck`` reports stalled partitions and /health fails.

Everything is known locally, no broker round trip: the position is where the agent's last
processed chunk ended (or the first offset it was handed, before it finished one), the
high watermark is what the consumer learnt from its last fetch (``consumer.highwater``).
A partition whose position is not known yet (nothing fetched since it was assigned) has no
lag to judge.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

__all__ = ["PartitionProgress", "Stall"]

#: A partition: (topic, partition number).
Partition = tuple[str, int]


@dataclass(slots=True)
class _State:
    position: int | None = None  # the next offset to process
    highwater: int | None = None
    since: float = 0.0  # monotonic: the last progress, or when lag appeared


@dataclass(frozen=True, slots=True)
class Stall:
    """A partition with lag and no progress for ``seconds``."""

    topic: str
    partition: int
    lag: int
    seconds: float
    since: float  # Unix time

    def to_dict(self) -> dict:
        return {"topic": self.topic, "partition": self.partition, "lag": self.lag,
                "seconds": round(self.seconds, 1), "since": round(self.since, 3)}  # fmt: skip


class PartitionProgress:
    """Positions, high watermarks and the time of last progress of the held partitions.

    Parameters
    ----------
    stall_s
        How long a partition with lag may go without progress before it counts as stalled.
    clock
        Monotonic seconds (tests pass their own).
    """

    def __init__(self, stall_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if stall_s <= 0:
            raise ValueError("stall_s must be positive")
        self.stall_s = stall_s
        self._clock = clock
        self._held: dict[Partition, _State] = {}

    @property
    def held(self) -> list[Partition]:
        return sorted(self._held)

    def assign(self, partitions: Iterable[Partition]) -> None:
        now = self._clock()
        for partition in partitions:
            self._held.setdefault(partition, _State(since=now))

    def revoke(self, partitions: Iterable[Partition]) -> None:
        for partition in partitions:
            self._held.pop(partition, None)

    def handed(self, offsets: Mapping[Partition, list[int]]) -> None:
        """A chunk was handed to the agent: where a partition's position starts if unknown."""
        for partition, numbers in offsets.items():
            state = self._held.get(partition)
            if state is not None and state.position is None and numbers:
                state.position = min(numbers)

    def processed(self, offsets: Mapping[Partition, list[int]]) -> None:
        """A chunk's effects are durable: its partitions moved past its offsets."""
        now = self._clock()
        for partition, numbers in offsets.items():
            state = self._held.get(partition)
            if state is not None and numbers:
                state.position = max(numbers) + 1
                state.since = now

    def observe(self, partition: Partition, highwater: int | None) -> None:
        """The consumer's high watermark of ``partition`` now (None: not known yet)."""
        state = self._held.get(partition)
        if state is None:
            return
        if highwater is not None:
            state.highwater = highwater
        if not self.lag(partition):
            state.since = self._clock()  # nothing to do is not a stall: the clock restarts

    def lag(self, partition: Partition) -> int | None:
        """Records not processed yet, if the position and the high watermark are known."""
        state = self._held.get(partition)
        if state is None or state.position is None or state.highwater is None:
            return None
        return max(state.highwater - state.position, 0)

    def seconds_since_progress(self, partition: Partition) -> float:
        """How long ``partition`` has had lag without progress (0 without lag)."""
        state = self._held.get(partition)
        if state is None or not self.lag(partition):
            return 0.0
        return self._clock() - state.since

    def stalls(self) -> list[Stall]:
        """The held partitions with lag and no progress for ``stall_s`` or longer."""
        found = []
        for partition in self.held:
            seconds = self.seconds_since_progress(partition)
            if seconds >= self.stall_s:
                lag = self.lag(partition) or 0
                found.append(Stall(*partition, lag, seconds, time.time() - seconds))
        return found

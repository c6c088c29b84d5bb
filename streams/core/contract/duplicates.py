"""Duplicate events: the same event id of one model version sent again (a producer retry).

A producer that retries a send it thought lost publishes the event twice, under two
offsets. Counted twice it would weigh twice in every window, and be kept twice for the label
join. An event is a duplicate when an event of the same (model id, version, event id) was
seen within the TTL at ANOTHER position: the same record read again (a batch replayed after
a crash, before its offsets were saved) is not a duplicate, so nothing is lost by a replay.
The id includes the version: the same request scored by two versions (shadow traffic) is
two events.

``MemoryDuplicates`` is the in-memory filter replay uses, bounded by the TTL (event time, so
a replay is deterministic) and by a number of ids; the worker keeps the ids in Redis
(``streams/adapters/redis/duplicates.py``) and shares ``keep`` with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate

from streams.core.contract.event import PredictionEvent

__all__ = ["MemoryDuplicates", "Position", "keep"]

Position = tuple[int, int]


def keep(
    events: Sequence[PredictionEvent], positions: Sequence[Position], duplicate: Sequence[bool]
) -> tuple[list[PredictionEvent], list[Position]]:
    """The events (and their positions) that are not ``duplicate``."""
    if len(events) == len(positions) == len(duplicate) and not any(duplicate):
        return list(events), list(positions)
    kept = [(e, p) for e, p, d in zip(events, positions, duplicate, strict=True) if not d]
    return [e for e, _ in kept], [p for _, p in kept]


class MemoryDuplicates:
    """Event ids seen within ``ttl_ms`` of event time, at most ``max_ids`` of them.

    An id is remembered until the newest event time seen is more than ``ttl_ms`` past its
    own; the oldest ids are forgotten first once there are more than ``max_ids`` (checked
    once per batch, so a batch may hold up to its own length more for a moment).

    Examples
    --------
    >>> from streams.core.contract.event import PredictionEvent
    >>> def event(event_id, at):
    ...     return PredictionEvent(event_id, "m", "v1", at, {}, "yes", 0.9)
    >>> seen = MemoryDuplicates(ttl_ms=60_000)
    >>> seen.duplicates([event("a", 0), event("b", 1), event("a", 2)], [(0, 0), (0, 1), (0, 2)])
    [False, False, True]
    >>> seen.duplicates([event("a", 3)], [(0, 0)])  # the first "a" read again: not a copy
    [False]
    >>> seen.duplicates([event("a", 70_000)], [(0, 9)])  # past the TTL: a new event
    [False]
    """

    def __init__(self, *, ttl_ms: int, max_ids: int = 1_000_000) -> None:
        if ttl_ms <= 0 or max_ids <= 0:
            raise ValueError("ttl_ms and max_ids must be positive")
        self.ttl_ms = ttl_ms
        self.max_ids = max_ids
        #: (model id, version, event id) -> (event time, position), oldest first
        self._seen: dict[tuple[str, str, str], tuple[int, Position]] = {}
        self._newest_ms = 0

    def duplicates(
        self, events: Sequence[PredictionEvent], positions: Sequence[Position]
    ) -> list[bool]:
        """Whether each event is a copy of one seen before (remembering the new ones)."""
        if len(events) != len(positions):
            raise ValueError(f"{len(events)} events but {len(positions)} positions")
        times = [event.timestamp_ms for event in events]
        # The TTL's edge as of each event: the newest event time up to it, less the TTL.
        edges = accumulate(times, max, initial=self._newest_ms)
        next(edges)
        seen, ttl_ms = self._seen, self.ttl_ms
        flags: list[bool] = []
        flag = flags.append
        for event, at, position, newest in zip(events, times, positions, edges, strict=True):
            key = (event.model_id, event.model_version, event.event_id)
            earlier = seen.get(key)
            if earlier is None:
                seen[key] = (at, position)  # a new key goes last
                flag(False)
            elif earlier[0] < newest - ttl_ms:
                del seen[key]  # an expired id seen anew is the newest entry
                seen[key] = (at, position)
                flag(False)
            else:
                flag(earlier[1] != position)
        if times:
            self._newest_ms = max(self._newest_ms, max(times))
        self._forget_old()
        return flags

    def _forget_old(self) -> None:
        # Oldest first by arrival (a dict keeps its insertion order); event time is nearly in
        # order, so the few late ids behind a newer one are dropped with it, and the lookup
        # above treats them as gone already.
        seen, horizon = self._seen, self._newest_ms - self.ttl_ms
        over = len(seen) - self.max_ids
        old: list[tuple[str, str, str]] = []
        for key, (at, _) in seen.items():
            if at >= horizon and len(old) >= over:
                break
            old.append(key)
        for key in old:
            del seen[key]

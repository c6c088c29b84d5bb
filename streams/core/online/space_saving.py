"""The heavy hitters of a stream in ``capacity`` counters (Metwally et al., Space-Saving, 2005).

A source not tracked takes the counter of the smallest count, inheriting it as its
``error``: a tracked count overestimates the source's true count by at most ``error``, and
every source with more than ``n / capacity`` of ``n`` events is tracked. What is counted
for a source beyond its events (its hits of each pattern and the features of its recent
events) starts when it is tracked: ``count - error`` is exactly its events since then, so
its rates are true rates over the events seen while tracked.
"""

from __future__ import annotations

import heapq
from typing import Any, ClassVar, Self

from streams.core import plain_data as check

__all__ = ["SpaceSaving", "Tracked"]


class Tracked:
    """One tracked source: its counts since it took its counter, and its recent keys.

    The recent keys are two generations of sets: ``recent`` fills with the keys of up to
    ``half`` events, then becomes ``older`` (the previous ``older`` forgotten). An event is
    compared with the last ``half`` to ``2 * half`` events of the source: two set look-ups
    per key, done in C (``isdisjoint``), where a sliding window kept as key counts cost
    ~3x more per event.
    """

    __slots__ = ("count", "duplicates", "error", "half", "hits", "matched", "older",
                 "older_events", "recent", "recent_events", "seen")  # fmt: skip

    def __init__(self, count: int, error: int, patterns: int, masks: int, memory: int) -> None:
        self.count = count
        self.error = error
        #: events of each counted pattern (near the threshold, anomalous, ...)
        self.hits = [0] * patterns
        #: events that shared a key with an earlier one, and the earlier events compared
        self.duplicates = 0
        self.seen = 0
        #: near-duplicates by the mask that matched first (which features differed)
        self.matched = [0] * masks
        self.half = max(1, memory // 2)
        self.recent: set[int] = set()
        self.older: set[int] = set()
        self.recent_events = self.older_events = 0

    def reset(self, count: int) -> None:
        """Start over as a new source inheriting ``count`` (an evicted entry, reused: most
        events of a long tail of sources evict one, and allocating anew cost ~3 us)."""
        self.count = self.error = count
        if any(self.hits):
            self.hits = [0] * len(self.hits)
        if self.duplicates:
            self.duplicates = 0
            self.matched = [0] * len(self.matched)
        self.seen = self.recent_events = self.older_events = 0
        self.recent.clear()
        self.older.clear()

    @property
    def events(self) -> int:
        """Events since the source was tracked."""
        return self.count - self.error

    def compare(self, keys: list[int]) -> None:
        """Count ``keys`` (one event's) against the recent events', then remember them."""
        known = self.recent_events + self.older_events
        if known:
            self.seen += known
            recent, older = self.recent, self.older
            if not (recent.isdisjoint(keys) and older.isdisjoint(keys)):
                self.duplicates += 1
                mask = next(m for m, key in enumerate(keys) if key in recent or key in older)
                self.matched[mask] += 1
        self.remember(keys)

    def remember(self, keys: list[int]) -> None:
        """Keep ``keys`` among the recent events' (a full generation becomes the older)."""
        self.recent.update(keys)
        self.recent_events += 1
        if self.recent_events == self.half:
            self.older, self.recent = self.recent, self.older
            self.recent.clear()
            self.older_events, self.recent_events = self.recent_events, 0

    def snapshot(self) -> list[Any]:
        memory = [self.older_events, sorted(self.older), self.recent_events, sorted(self.recent)]
        return [self.count, self.error, self.hits, self.duplicates, self.seen, self.matched,
                memory]  # fmt: skip

    def restore_memory(self, raw: Any, masks: int) -> None:
        """Take the recent keys from ``snapshot()``'s last item (checked)."""
        older_events, older, recent_events, recent = check.listing(raw, "tracked.memory", length=4)
        self.older_events = check.integer(older_events, "tracked.older_events", high=self.half)
        self.recent_events = check.integer(
            recent_events, "tracked.recent_events", high=self.half - 1
        )
        self.older.update(_keys(older, "older", self.older_events * masks))
        self.recent.update(_keys(recent, "recent", self.recent_events * masks))


class SpaceSaving:
    """Space-Saving over sources (hashed ids), each tracked source with its pattern counts.

    Parameters
    ----------
    capacity
        Counters kept: memory is bounded by it whatever the number of sources.
    patterns
        Per-event patterns counted for each source (``Tracked.hits``).
    masks
        Keys per event (``Tracked.matched``).
    memory
        Recent events whose keys each tracked source keeps for near-duplicate checks.

    Examples
    --------
    >>> heavy = SpaceSaving(2, patterns=0, masks=0, memory=0)
    >>> for source in "abacaadaa":
    ...     _ = heavy.offer(source)
    >>> [(s, t.count, t.error) for s, t in heavy.top()]
    [('a', 6, 0), ('d', 3, 2)]
    """

    SNAPSHOT_VERSION: ClassVar[None] = None

    def __init__(self, capacity: int, *, patterns: int, masks: int, memory: int) -> None:
        if capacity < 1 or min(patterns, masks, memory) < 0:
            raise ValueError("capacity must be positive; patterns, masks, memory not negative")
        self.capacity = capacity
        self.patterns, self.masks, self.memory = patterns, masks, memory
        self.tracked: dict[str, Tracked] = {}
        # One (count, source) item per tracked source, its count possibly behind the source's:
        # an eviction pushes a stale item back with its true count (pushing on every
        # increment instead cost more than the rest of the counting). The item popped with
        # its true count is then the smallest (count, source): the choice does not depend on
        # when the items were pushed, so a restored heap evicts the same sources.
        self._heap: list[tuple[int, str]] = []

    def offer(self, source: str) -> Tracked:
        """Count one event of ``source``; its entry (new, or taken from the smallest)."""
        tracked = self.tracked
        entry = tracked.get(source)
        if entry is None:
            if len(tracked) >= self.capacity:
                entry = self._evict()
            else:
                entry = Tracked(0, 0, self.patterns, self.masks, self.memory)
            tracked[source] = entry
            heapq.heappush(self._heap, (entry.count + 1, source))
        entry.count += 1
        return entry

    def top(self) -> list[tuple[str, Tracked]]:
        """Tracked sources, largest count first (ties by source)."""
        return sorted(self.tracked.items(), key=lambda item: (-item[1].count, item[0]))

    def clear(self) -> None:
        self.tracked.clear()
        self._heap.clear()

    def _evict(self) -> Tracked:
        """Take the entry of the smallest count off its source, reset to inherit it."""
        tracked, heap = self.tracked, self._heap
        while True:
            count, source = heapq.heappop(heap)
            entry = tracked[source]
            if entry.count == count:
                del tracked[source]
                entry.reset(count)
                return entry
            heapq.heappush(heap, (entry.count, source))

    def _compact(self) -> None:
        self._heap = [(entry.count, source) for source, entry in self.tracked.items()]
        heapq.heapify(self._heap)

    def snapshot(self) -> dict[str, Any]:
        """Plain data: each tracked source with its counts and recent keys."""
        return {"tracked": [[source, *entry.snapshot()] for source, entry in self.tracked.items()]}

    @classmethod
    def restore(
        cls, snapshot: Any, capacity: int, *, patterns: int, masks: int, memory: int
    ) -> Self:
        """The counters as they were; raises ``InvalidState`` for malformed data."""
        raw = check.mapping(snapshot, "space_saving", ("tracked",))
        out = cls(capacity, patterns=patterns, masks=masks, memory=memory)
        for item in check.listing(raw["tracked"], "tracked", max_length=capacity):
            source, count, error, hits, duplicates, seen, matched, recent = check.listing(
                item, "tracked[]", length=8
            )
            entry = Tracked(
                check.integer(error, "tracked.error"), check.integer(error, "tracked.error"),
                patterns, masks, memory,
            )  # fmt: skip
            entry.count = check.integer(count, "tracked.count", low=entry.error)
            entry.hits = [check.integer(h, "tracked.hits") for h in
                          check.listing(hits, "tracked.hits", length=patterns)]  # fmt: skip
            entry.duplicates = check.integer(duplicates, "tracked.duplicates")
            entry.seen = check.integer(seen, "tracked.seen")
            entry.matched = [check.integer(m, "tracked.matched") for m in
                             check.listing(matched, "tracked.matched", length=masks)]  # fmt: skip
            entry.restore_memory(recent, masks)
            out.tracked[check.text(source, "tracked.source", max_length=256)] = entry
        out._compact()
        return out


def _keys(raw: Any, name: str, most: int) -> list[int]:
    """Stored keys (32-bit) of one generation, at most ``most`` of them."""
    keys = check.listing(raw, f"tracked.{name}", max_length=most)
    return [check.integer(key, f"tracked.{name}[]", high=2**32 - 1) for key in keys]

"""The cycle collector, set for a process that handles events in batches.

CPython runs its cycle collector whenever allocations outrun deallocations by a threshold,
700 container objects by default. A batch of a few thousand events is tens of thousands of
live objects (records, events, their feature dicts) that refcounting frees moments later,
so the default threshold ran a collection every ~100 events: 12-14% of a worker's CPU
(BENCHMARKS.md), finding next to no cycles. A threshold above a batch's objects leaves the
collector to the cycles.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["YOUNG_THRESHOLD", "collecting_for_batches"]

#: Allocations net of deallocations before a young collection: above the objects a batch
#: holds at once (its records, and three per decoded event: 20,000-25,000 at the default
#: cap of 5,000 events).
YOUNG_THRESHOLD = 50_000


@contextmanager
def collecting_for_batches() -> Iterator[None]:
    """Within: the young generation's threshold raised, and what existed on entry (modules,
    the app built at start-up) frozen, so no full collection walks it again. Both are
    undone on exit: a command run inside another program (a test) leaves its collector as
    it was."""
    threshold = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()

"""A bounded memory of ids already handled: de-duplication of at-least-once records."""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["SeenIds"]


class SeenIds:
    """The last ``capacity`` ids seen, least recently seen forgotten first (an LRU).

    Driftline publishes alerts at least once: a worker that restarts before committing sends
    a batch's alerts again, with the same ``alert_id``. A re-sent alert comes soon after the
    first, so remembering the recent ids catches it in bounded memory; one older than
    ``capacity`` ids ago would pass again.

    Examples
    --------
    >>> seen = SeenIds(capacity=2)
    >>> [seen.check_and_add(i) for i in ("a", "b", "a", "c", "b")]
    [False, False, True, False, False]
    """

    def __init__(self, *, capacity: int = 10_000) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def check_and_add(self, item: str) -> bool:
        """Whether ``item`` was seen before; it is remembered as the most recent either way."""
        if item in self._ids:
            self._ids.move_to_end(item)
            return True
        self._ids[item] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return False

    def __len__(self) -> int:
        return len(self._ids)

"""The partition counts the routing stage routes by, and what it says when they change.

A model's by-model partition is ``crc32(model id) % count``, so partitions added to the
by-model topic move models between partitions, and so between workers. Records a worker had
copied under the old count and reads again after a crash are copied under the new one and
meet no fence (seen: RELIABILITY.md, "Partitions added"); and a model's copies still
waiting in its old partition are applied by that partition's owner while its new copies
reach another's. Under ``direct`` the input topic's count decides which records go direct,
alike. So: add partitions with the group stopped at zero lag (``partitions.py``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

__all__ = ["PARTITIONS_ADDED", "CachedCount"]

logger = logging.getLogger(__name__)


class CachedCount:
    """A topic's partition count, read again now and then: partitions may be added (never
    removed, so an old count only names partitions that exist)."""

    def __init__(self, read: Callable[[], Awaitable[int | None]], topic: str) -> None:
        self.read = read
        self.topic = topic
        self._count: int | None = None
        self._read_at = float("-inf")

    async def get(self) -> int | None:
        """The count; None until the brokers say (then copies go one by one)."""
        now = time.monotonic()
        if self._count is None or now - self._read_at > _PARTITIONS_TTL_S:
            count = await self.read() or self._count
            if self._count is not None and count != self._count:
                logger.error(PARTITIONS_ADDED, self.topic, self._count, count)
            self._count, self._read_at = count, now
        return self._count


#: Said at each change: nothing makes a change with records in flight safe yet
#: (RELIABILITY.md, "Partitions added").
PARTITIONS_ADDED = (
    "partitions were added to %s while this worker ran (%d -> %d): models now map to other "
    "partitions, so a model's records in flight may be applied twice (if read again after "
    "a crash) or by two workers at once. Add partitions with the group stopped at zero lag: "
    "`driftline partitions` (k8s/README.md)."
)


#: How long the router trusts the by-model topic's partition count (librdkafka refreshes
#: its own every 5 minutes; a count behind the brokers' sends as the other workers did).
_PARTITIONS_TTL_S = 30.0

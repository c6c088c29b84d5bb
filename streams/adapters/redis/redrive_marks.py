"""Which dead letters ``driftline redrive`` has sent again: a bit per dead-letter offset.

Key ``<prefix>:redriven:<topic>:<topic id>:<partition>:<block>``, a bitmap of 2**20
offsets (128 KiB at most), so a long-lived topic's high offsets need no megabytes of zeros
below them. The topic id (Kafka's, per topic incarnation) keeps the marks of a topic deleted
and made again from passing over the new topic's records. A block lives as long as the
records it marks: its TTL is the topic's retention (and a day), renewed at each mark.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import redis.asyncio as aioredis

__all__ = ["RedriveMarks"]

_BLOCK_BITS = 20
_SPARE_MS = 24 * 3600 * 1000


class RedriveMarks:
    """The marks of one dead-letter topic, read once per run and set as copies are sent.

    Parameters
    ----------
    retention_ms
        The topic's ``retention.ms``; None or negative: kept for ever, as its records are.
    """

    def __init__(self, client: aioredis.Redis, *, prefix: str, topic: str, topic_id: str,
                 retention_ms: int | None) -> None:  # fmt: skip
        self.client = client
        self._base = f"{prefix}:redriven:{topic}:{topic_id}"
        self._ttl_ms = (
            None if retention_ms is None or retention_ms < 0 else retention_ms + _SPARE_MS
        )
        self._bits: dict[tuple[int, int], bytes] = {}

    def _key(self, partition: int, block: int) -> str:
        return f"{self._base}:{partition}:{block}"

    async def load(self, ranges: dict[int, tuple[int, int]]) -> None:
        """Read the marks of the offsets ``[low, high)`` of each partition of ``ranges``."""
        wanted = [(p, block) for p, (low, high) in ranges.items() if high > low
                  for block in range(_block(low), _block(high - 1) + 1)]  # fmt: skip
        async with self.client.pipeline(transaction=False) as pipe:
            for partition, block in wanted:
                pipe.get(self._key(partition, block))
            found = await pipe.execute()
        self._bits = {where: bits or b"" for where, bits in zip(wanted, found, strict=True)}

    def has(self, partition: int, offset: int) -> bool:
        """Whether the dead letter at ``offset`` was sent again by an earlier run."""
        bits = self._bits.get((partition, _block(offset)), b"")
        index = offset & ((1 << _BLOCK_BITS) - 1)
        byte = index >> 3
        return byte < len(bits) and bool(bits[byte] & (0x80 >> (index & 7)))

    async def mark(self, sent: Iterable[tuple[int, int]]) -> None:
        """Mark each ``(partition, offset)`` of ``sent`` (the broker has its copy)."""
        blocks: defaultdict[tuple[int, int], list[int]] = defaultdict(list)
        for partition, offset in sent:
            blocks[(partition, _block(offset))].append(offset & ((1 << _BLOCK_BITS) - 1))
        async with self.client.pipeline(transaction=False) as pipe:
            for (partition, block), indices in blocks.items():
                key = self._key(partition, block)
                for index in indices:
                    pipe.setbit(key, index, 1)
                if self._ttl_ms is not None:
                    pipe.pexpire(key, self._ttl_ms)
            await pipe.execute()


def _block(offset: int) -> int:
    return offset >> _BLOCK_BITS

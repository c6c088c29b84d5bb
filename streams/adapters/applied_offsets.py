"""Which input records were applied already, as Redis records it: replays are skipped.

After a crash Faust redelivers from its last commit, which may be behind what was applied;
the state store saves each batch's last offsets with its state in one atomic step, and this
reads them back once per partition to drop what is already in the state.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import Counter

from streams.adapters.durable import DurableWriter
from streams.adapters.state_store import MonitorUpdate, RedisMonitorStore
from streams.core.event import RawRecord

__all__ = ["AppliedOffsets"]


class AppliedOffsets:
    """Skip applied records; save state with the offsets it covers."""

    def __init__(self, store: RedisMonitorStore, writer: DurableWriter, skipped: Counter) -> None:
        self.store = store
        self.writer = writer
        self.skipped = skipped
        self._applied: dict[int, int] = {}

    def forget(self) -> None:
        """After a rebalance: Redis, not memory, knows what was applied."""
        self._applied.clear()

    async def fresh(self, records: Sequence[RawRecord]) -> list[RawRecord]:
        """The records not applied yet."""
        store = self.store
        unknown = {r.partition for r in records} - self._applied.keys()
        if unknown:
            stored = await self.writer.until_done("redis", lambda: store.applied_offsets(unknown))
            self._applied.update({p: stored.get(p, -1) for p in unknown})
        applied = self._applied
        fresh = [r for r in records if r.offset > applied[r.partition]]
        if len(fresh) < len(records):
            self.skipped.inc(len(records) - len(fresh))
        return fresh

    async def save(
        self,
        updates: list[MonitorUpdate],
        records: Sequence[RawRecord],
        retired: Sequence[tuple[str, str]] = (),
    ) -> bool:
        """Write ``updates`` with the last offset of ``records`` per partition (and delete the
        state of ``retired`` versions), atomically; False when another worker got further
        (then everything in memory is stale)."""
        offsets: dict[int, int] = {}
        for record in records:
            offsets[record.partition] = max(offsets.get(record.partition, -1), record.offset)
        saved = await self.writer.until_done(
            "redis", lambda: self.store.save(updates, offsets, retired)
        )
        if saved:
            self._applied.update(offsets)
        return saved

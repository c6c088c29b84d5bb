"""A batch's warm-ups shared with the other workers: the model cap's warm-up slots read from
Redis before the batch is decoded and this batch's changes claimed after (``RedisWarmupSlots``),
and the specs its warm-ups inferred stored before any state that rests on them
(``RedisSpecStore``). Step (1) of ``IngestionService``'s checkpoint order."""

from __future__ import annotations

import functools

from streams.adapters.durable import DurableWriter
from streams.adapters.faust.spec_sync import register_stored
from streams.adapters.redis.spec_store import RedisSpecStore
from streams.adapters.redis.warmup_slots import RedisWarmupSlots
from streams.core.contract.pii import PiiPolicy
from streams.core.contract.registry import SpecRegistry

__all__ = ["WarmupSharing"]


class WarmupSharing:
    """``slots`` None: the warm-up slots are this worker's alone; ``specs`` None: inferred
    specs stay in this process."""

    def __init__(
        self,
        registry: SpecRegistry,
        writer: DurableWriter,
        pii: PiiPolicy,
        *,
        slots: RedisWarmupSlots | None,
        specs: RedisSpecStore | None,
    ) -> None:
        self.registry = registry
        self.writer = writer
        self.pii = pii
        self.slots = slots
        self.specs = specs
        self._dropped: list[str] = []

    async def before_batch(self, now: float) -> None:
        """Expire warm-ups past their time and read every worker's slots, as of ``now``."""
        self._dropped.extend(self.registry.advance(now))
        if self.slots is not None:
            slots = self.slots
            self.registry.share(await self.writer.until_done("redis", lambda: slots.view(now)))

    async def after_decoding(self) -> None:
        """Claim the slots this batch's warm-ups started (or give back those that finished)
        and store the specs they inferred."""
        await self._claim()
        await self._store_inferred()

    def take_dropped(self) -> list[str]:
        """The models whose warm-up expired or was refused since the last call, and which are
        not warming up again: their ids can leave the metric labels."""
        dropped, self._dropped = self._dropped, []
        return [model for model in dropped if not self.registry.knows(model)]

    async def _claim(self) -> None:
        registry, slots = self.registry, self.slots
        started, finished = registry.take_slot_changes()
        if slots is None or not (started or finished):
            return
        refused = await self.writer.until_done(
            "redis",
            lambda: slots.claim(
                registry.now, started=started, finished=finished, room=registry.warmup_room
            ),
        )
        registry.refuse(refused)
        self._dropped.extend(refused)

    async def _store_inferred(self) -> None:
        """Store the inferred specs before the state built on them is saved: a worker stopped
        or killed after that save leaves its successor (and ``driftline report``) the spec
        too. A spec another worker stored first wins."""
        registry, store = self.registry, self.specs
        inferred = registry.take_inferred()
        if store is None or not inferred:
            return
        lost = []
        for spec in inferred:
            save = functools.partial(store.save, spec, replace=False)
            if not await self.writer.until_done("redis", save):
                lost.append((spec.model_id, spec.model_version))
        if lost:
            for spec in await self.writer.until_done("redis", store.load):
                if (spec.model_id, spec.model_version) in lost:
                    register_stored(registry, spec, self.pii)

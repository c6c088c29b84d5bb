"""What the prediction and label services share: the roads a monitoring batch leaves by.

Both write rejects to a dead-letter topic, alerts to the ``AlertSink`` and state with the
batch's offsets to Redis (``AppliedOffsets``), every write retried through one
``DurableWriter``; both quarantine stored state that does not restore.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from typing import Any

import faust

from streams.adapters.durable import DurableWriter
from streams.adapters.kafka.dead_letter import dead_letter_message, rescue
from streams.adapters.prometheus.metrics import IngestMetrics
from streams.adapters.redis.applied_offsets import AppliedOffsets
from streams.adapters.redis.quarantine import quarantine
from streams.adapters.redis.state_store import RedisMonitorStore
from streams.core.alerts.alert import Alert, Trigger
from streams.core.alerts.sink import AlertSink
from streams.core.contract.ingestor import Rejection
from streams.core.errors import InvalidState

__all__ = ["MonitoringStage"]


class MonitoringStage:
    """The outputs of a monitoring service, set up alike for predictions and labels.

    ``dead_letter`` turns a rejection into the dead-letter message (a redactor's, or the
    plain one); ``dead_letter_max_bytes`` cuts a longer value to a truncated copy.
    """

    def __init__(
        self,
        *,
        store: RedisMonitorStore,
        dead_letters: faust.TopicT,
        sink: AlertSink,
        metrics: IngestMetrics,
        dead_letter_max_bytes: int | None,
        dead_letter: Callable[..., Any] = dead_letter_message,
        writer: DurableWriter | None = None,
    ) -> None:
        self.store = store
        self.dead_letters = dead_letters
        self.sink = sink
        self.metrics = metrics
        self.dead_letter = dead_letter
        self.writer = writer or DurableWriter(metrics.retries, metrics.publish_failures)
        self.dead_letter_max_bytes = dead_letter_max_bytes
        self.applied = AppliedOffsets(
            store,
            self.writer,
            metrics.replayed_skipped,
            metrics.saves_refused.labels(store.state_kind),
            metrics.state_lost.labels(store.state_kind),
            metrics.state_behind.labels(store.state_kind),
        )
        #: Held by each batch, and by ``restore_lost`` between two.
        self.passing = asyncio.Lock()

    def reset(self) -> None:
        """After a rebalance: what this worker holds in memory may be stale; Redis is not."""
        self.applied.forget()

    async def reset_between_passes(self) -> None:
        """``reset`` once the pass running now, if any, has ended. A rebalance waits for the
        chunks its agents took, not for a timer's pass (waiting labels joined, lost state
        saved again): reset under it, that pass would save state read before the reset
        expecting no token, unchecked, over a save of the partitions' new owner."""
        async with self.passing:
            self.reset()

    def forget_models(self, models: Collection[str]) -> None:
        """Another worker saved ``models`` since this one read them: what this one holds of
        them is stale, to be read again where they are next met."""
        self.applied.forget_models(models)

    async def restore_lost(self, within_s: float) -> None:
        """Between two batches: save again, whole, the models this worker saved in the last
        ``within_s`` seconds whose stored state Redis has lost (``AppliedOffsets.save_lost``)."""
        async with self.passing:
            refused = await self.applied.save_lost(within_s)
            if refused:
                self.forget_models(refused)

    async def _dead_letter(self, rejected: list[Rejection]) -> None:
        """Publish the rejects and wait until the broker has them."""
        if rejected:
            limit = self.dead_letter_max_bytes
            dead = [self.dead_letter(r, max_value_bytes=limit) for r in rejected]
            await self.writer.publish(self.dead_letters, dead, rescue=rescue)

    async def _quarantine(self, key: tuple[str, str], exc: InvalidState, trigger: Trigger) -> Alert:
        """Set malformed stored state aside (the version starts fresh); its alert."""
        return await quarantine(
            self.store, self.writer, self.metrics.state_quarantined, key, exc, trigger
        )

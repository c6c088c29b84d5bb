"""A batch of Kafka events through the core under Faust: rejects to the DLQ, alerts out.

Checkpoint order, per batch: (0) drop records Redis says were applied already, (1) decode
and validate in the core, (2) publish every rejected record to the dead-letter topic and
wait until the broker has them, (3) load monitors from Redis and update them, (4) publish
their alerts and wait likewise, (4b) keep what the label join needs of each accepted
prediction (idempotent: a replay does not overwrite), (5) write the monitors' state and
the batch's last offsets to Redis in one atomic step, (6) return, and only then the agent
acks the batch's offsets. A crash before (5) replays the batch: dead letters and alerts
may be sent twice (alert ids are deterministic, so a consumer can tell), never lost; after
(5) the replayed records are skipped at (0), so no event is applied twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import faust

from streams.adapters.applied_offsets import AppliedOffsets
from streams.adapters.dead_letter import DeadLetterRedactor, dead_letter_message, rescue
from streams.adapters.durable import DurableWriter, alert_message
from streams.adapters.health import StreamLiveness
from streams.adapters.label_join import RedisLabelJoin
from streams.adapters.metrics import IngestMetrics
from streams.adapters.state_store import MonitorUpdate, RedisMonitorStore
from streams.core.event import PredictionEvent, RawRecord
from streams.core.ingestor import Ingestor
from streams.core.model_monitor import ModelMonitor
from streams.core.monitor import Monitor
from streams.core.pii import pii_attributes_by_model
from streams.core.profile import ReferenceProfile

__all__ = ["IngestionService"]

logger = logging.getLogger(__name__)


class IngestionService:
    """Process micro-batches; never raise on bad input, never drop a dead letter or alert.

    ``dead_letter_max_bytes``: a rejected record's value longer than this is dead-lettered
    as a truncated copy (the DLQ topic or the producer would refuse it whole).
    """

    def __init__(
        self,
        *,
        ingestor: Ingestor,
        monitor: Monitor,
        store: RedisMonitorStore,
        dead_letters: faust.TopicT,
        alerts: faust.TopicT,
        metrics: IngestMetrics,
        liveness: StreamLiveness,
        label_join: RedisLabelJoin | None = None,
        dlq_redactor: DeadLetterRedactor | None = None,
        dead_letter_max_bytes: int | None = None,
    ) -> None:
        self.ingestor = ingestor
        self.monitor = monitor
        self.store = store
        self.dead_letters = dead_letters
        self.alerts = alerts
        self.metrics = metrics
        self.liveness = liveness
        self.label_join = label_join
        self.dead_letter = dead_letter_message if dlq_redactor is None else dlq_redactor.message
        self.writer = DurableWriter(metrics.retries, metrics.publish_failures)
        self.dead_letter_max_bytes = dead_letter_max_bytes
        self.applied = AppliedOffsets(store, self.writer, metrics.replayed_skipped)

    def reset(self) -> None:
        """After a rebalance: what this worker holds in memory may be stale; Redis is not."""
        self.monitor.forget()
        self.applied.forget()

    async def process(self, batch: Sequence[RawRecord]) -> None:
        started = time.perf_counter()
        records = await self.applied.fresh(batch)
        if records:
            result = self.ingestor.ingest(records)
            keeping = self._keep_for_labels(result.accepted)
            if result.rejected:
                limit = self.dead_letter_max_bytes
                dead = [self.dead_letter(r, max_value_bytes=limit) for r in result.rejected]
                await self.writer.publish(self.dead_letters, dead, rescue=rescue)
            await self._load_monitors(result.accepted)
            alerts = self.monitor.process(result.accepted, result.positions)
            if alerts:
                await self.writer.publish(self.alerts, [alert_message(a) for a in alerts])
            await keeping
            await self._save_state(records)
            self.metrics.observe_batch(result, time.perf_counter() - started)
            self.metrics.observe_alerts(alerts)
            self.metrics.observe_monitors(self.monitor)
        self.liveness.batch_done()

    def _keep_for_labels(self, accepted: list[PredictionEvent]) -> asyncio.Future[None]:
        # Started now and awaited before the state is saved: Redis stores the batch while
        # this process updates the monitors.
        join = self.label_join
        if join is None or not accepted:
            return _done()
        pii = pii_attributes_by_model(accepted, self.monitor.registry.spec_for)
        return asyncio.ensure_future(
            self.writer.until_done("redis", lambda: join.keep(accepted, pii))
        )

    async def _load_monitors(self, accepted: Sequence[PredictionEvent]) -> None:
        for model_id, model_version in self.monitor.unloaded(accepted):
            stored = await self.writer.until_done(
                "redis", lambda m=model_id, v=model_version: self.store.load(m, v)
            )
            spec = self.monitor.registry.spec_for(model_id, model_version)
            if stored is None or spec is None:
                continue
            if stored.snapshot is None:  # a profile registered from training data
                profile = ReferenceProfile.from_dict(stored.profile or {})
                watcher = ModelMonitor(
                    spec, model_version, self.monitor.config, profile, pii=self.monitor.pii
                )
                self.monitor.adopt((model_id, model_version), watcher)
            else:
                restored = ModelMonitor.restore(
                    spec, model_version, self.monitor.config,
                    snapshot=stored.snapshot, profile=stored.profile, reference=stored.reference,
                    pii=self.monitor.pii,
                )  # fmt: skip
                self.monitor.adopt((model_id, model_version), restored)

    async def _save_state(self, records: list[RawRecord]) -> None:
        updates = []
        for model_id, model_version in self.monitor.touched:
            monitor = self.monitor.monitors[model_id, model_version]
            updates.append(
                MonitorUpdate(
                    model_id,
                    model_version,
                    monitor.snapshot(),
                    monitor.take_new_profile(),
                    monitor.take_new_reference(),
                )
            )
        if not await self.applied.save(updates, records):
            logger.warning("another worker has applied these partitions further; reloading")
            self.reset()


def _done() -> asyncio.Future[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future

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
from streams.adapters.dead_letter import dead_letter_message
from streams.adapters.durable import DurableWriter, alert_message
from streams.adapters.health import StreamLiveness
from streams.adapters.label_join import RedisLabelJoin
from streams.adapters.metrics import IngestMetrics
from streams.adapters.quarantine import quarantine
from streams.adapters.state_store import MonitorUpdate, RawMonitor, RedisMonitorStore
from streams.core.alert import Alert, Trigger
from streams.core.errors import InvalidState
from streams.core.event import PredictionEvent, RawRecord
from streams.core.ingestor import Ingestor
from streams.core.model_monitor import ModelMonitor
from streams.core.monitor import Monitor
from streams.core.plain_data import restoring
from streams.core.profile import ReferenceProfile
from streams.core.spec import ModelSpec

__all__ = ["IngestionService"]

logger = logging.getLogger(__name__)


class IngestionService:
    """Process micro-batches; never raise on bad input, never drop a dead letter or alert."""

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
    ) -> None:
        self.ingestor = ingestor
        self.monitor = monitor
        self.store = store
        self.dead_letters = dead_letters
        self.alerts = alerts
        self.metrics = metrics
        self.liveness = liveness
        self.label_join = label_join
        self.writer = DurableWriter(metrics.retries)
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
                await self.writer.publish(
                    self.dead_letters, [dead_letter_message(r) for r in result.rejected]
                )
            alerts = await self._load_monitors(result.accepted, result.positions)
            alerts += self.monitor.process(result.accepted, result.positions)
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
        return asyncio.ensure_future(self.writer.until_done("redis", lambda: join.keep(accepted)))

    async def _load_monitors(
        self, accepted: Sequence[PredictionEvent], positions: Sequence[tuple[int, int]]
    ) -> list[Alert]:
        """Adopt the stored monitors of the batch's new model versions; quarantine stored
        state that is malformed (the version then starts fresh) and return its alerts."""
        alerts = []
        for model_id, model_version in self.monitor.unloaded(accepted):
            raw = await self.writer.until_done(
                "redis", lambda m=model_id, v=model_version: self.store.fetch(m, v)
            )
            spec = self.monitor.registry.spec_for(model_id, model_version)
            if raw is None or spec is None:
                continue
            try:
                watcher = self._restored(spec, model_version, raw)
            except InvalidState as exc:
                key = (model_id, model_version)
                at = next(i for i, e in enumerate(accepted) if (e.model_id, e.model_version) == key)
                trigger = Trigger(accepted[at].event_id, *positions[at], accepted[at].timestamp_ms)
                alerts.append(
                    await quarantine(self.store, self.writer, self.metrics.state_quarantined,
                                     key, exc, trigger)
                )  # fmt: skip
                continue
            self.monitor.adopt((model_id, model_version), watcher)
        return alerts

    def _restored(self, spec: ModelSpec, model_version: str, raw: RawMonitor) -> ModelMonitor:
        stored = raw.parse()
        config = self.monitor.config
        if stored.snapshot is None:  # a profile registered from training data
            with restoring(f"profile of {spec.model_id}:{model_version}"):
                profile = ReferenceProfile.from_dict(stored.profile or {})
            return ModelMonitor(spec, model_version, config, profile)
        return ModelMonitor.restore(
            spec, model_version, config,
            snapshot=stored.snapshot, profile=stored.profile, reference=stored.reference,
        )  # fmt: skip

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

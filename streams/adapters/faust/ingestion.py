"""A batch of Kafka events through the core under Faust: rejects to the DLQ, alerts out.

Checkpoint order, per batch: (0) drop records Redis says were applied already (by every model
before decoding, by the event's own model after), (1) decode and validate in the core (the
registry's clock set and the warm-up slots of every worker read from Redis before, this batch's
new slots claimed after: ``RedisWarmupSlots``), (2) publish every rejected record to the
dead-letter topic and wait until the broker has them, (3) load monitors from Redis and update
them (dropping the versions the version cap retired), (4) publish their alerts and wait
likewise, (4b) keep what the label join needs of each accepted prediction (idempotent: a replay
does not overwrite), (5) write the monitors' state and the batch's last offsets to Redis in one
atomic step (deleting retired versions' state), (6) return, and only then the agent acks the
batch's offsets. Step (4) is the ``AlertSink``'s ``publish``: the Kafka sink returns once the
broker has every alert; sinks after it (a webhook) only queue (streams/adapters/sinks.py). A
crash before (5) replays the batch: dead letters and alerts may be sent twice (alert ids are
deterministic, so a consumer can tell), never lost; after (5) the replayed records are skipped
at (0), so no event is applied twice.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Sequence

import faust

from streams.adapters.faust.health import StreamLiveness
from streams.adapters.faust.stage import MonitoringStage
from streams.adapters.kafka.dead_letter import DeadLetterRedactor, dead_letter_message
from streams.adapters.prometheus.metrics import IngestMetrics
from streams.adapters.redis.label_join import RedisLabelJoin
from streams.adapters.redis.state_store import MonitorUpdate, RedisMonitorStore
from streams.adapters.redis.warmup_slots import RedisWarmupSlots
from streams.core.alerts.alert import Alert, Trigger
from streams.core.alerts.sink import AlertBatch, AlertSink
from streams.core.contract.event import PredictionEvent, RawRecord
from streams.core.contract.ingestor import Ingestor, IngestResult
from streams.core.contract.pii import pii_attributes_by_model
from streams.core.drift.monitor import Monitor
from streams.core.errors import InvalidState

__all__ = ["IngestionService"]

logger = logging.getLogger(__name__)


class IngestionService(MonitoringStage):
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
        sink: AlertSink,
        metrics: IngestMetrics,
        liveness: StreamLiveness,
        label_join: RedisLabelJoin | None = None,
        dlq_redactor: DeadLetterRedactor | None = None,
        dead_letter_max_bytes: int | None = None,
        warmup_slots: RedisWarmupSlots | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``warmup_slots`` shares the model cap's warm-up slots with the other workers
        (None: this worker's alone); ``clock`` gives the wall-clock seconds of each batch."""
        super().__init__(
            store=store, dead_letters=dead_letters, sink=sink, metrics=metrics,
            dead_letter_max_bytes=dead_letter_max_bytes,
            dead_letter=dead_letter_message if dlq_redactor is None else dlq_redactor.message,
        )  # fmt: skip
        self.ingestor = ingestor
        self.monitor = monitor
        self.liveness = liveness
        self.label_join = label_join
        self.warmup_slots = warmup_slots
        self._dropped: list[str] = []
        self.clock = clock

    def reset(self) -> None:
        """After a rebalance: what this worker holds in memory may be stale; Redis is not."""
        self.monitor.forget()
        self.applied.forget()

    async def process(self, batch: Sequence[RawRecord]) -> None:
        started = time.perf_counter()
        records = await self.applied.fresh(batch)
        if records:
            await self._share_warmups(self.clock())
            result = await self._unapplied(self.ingestor.ingest(records), records)
            await self._claim_warmups()
            keeping = self._keep_for_labels(result.accepted)
            await self._dead_letter(result.rejected)
            alerts = await self._load_monitors(result.accepted, result.positions)
            outcome = self.monitor.process(result.accepted, result.positions)
            alerts += outcome.alerts
            retired = self.ingestor.registry.take_retired()
            self.monitor.retire(retired)
            self.metrics.stream.forget_versions(retired)
            await self.sink.publish(AlertBatch.of(alerts))
            await keeping
            await self._save_state(records, retired, outcome.touched)
            self.metrics.observe_batch(result, time.perf_counter() - started)
            self.metrics.observe_unwatched(outcome)
            self._forget_dropped()
            now = self.clock()
            self.metrics.observe_alerts(alerts, now)
            self.metrics.observe_monitors(self.monitor, outcome)
            self.metrics.observe_events(result.accepted, self.monitor, now)
        self.liveness.batch_done()

    async def _unapplied(self, result: IngestResult, records: list[RawRecord]) -> IngestResult:
        """``result`` without the events their model's fence covers (applied already)."""
        models = [event.model_id for event in result.accepted]
        keep = await self.applied.fresh_events(models, result.positions, records)
        if len(keep) == len(models):
            return result
        return IngestResult(accepted=[result.accepted[i] for i in keep],
                            rejected=result.rejected,
                            positions=[result.positions[i] for i in keep])  # fmt: skip

    async def dead_letter_oversized(self, records: Sequence[RawRecord]) -> None:
        """Refuse records over the size limit where they are first read: the routing stage
        calls this instead of copying them to a by-model topic that may not take them. The
        decoder checks the size first, so they get the rejection, the dead letter (a
        truncated copy with the original's length and SHA-256 when needed) and the count
        they would get here."""
        result = self.ingestor.ingest(records)
        await self._dead_letter(result.rejected)
        self.metrics.observe_rejections(result.rejected)

    async def _share_warmups(self, now: float) -> None:
        registry = self.ingestor.registry
        self._dropped.extend(registry.advance(now))
        if self.warmup_slots is not None:
            slots = self.warmup_slots
            registry.share(await self.writer.until_done("redis", lambda: slots.view(now)))

    async def _claim_warmups(self) -> None:
        registry, slots = self.ingestor.registry, self.warmup_slots
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

    def _forget_dropped(self) -> None:
        # Expired or refused warm-ups: their model ids leave the metric labels, unless the
        # model came back and is warming up again.
        known = self.ingestor.registry.knows
        self.metrics.forget_models(m for m in self._dropped if not known(m))
        self._dropped = []

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

    async def _load_monitors(
        self, accepted: Sequence[PredictionEvent], positions: Sequence[tuple[int, int]]
    ) -> list[Alert]:
        """Adopt the stored monitors of the batch's new model versions; quarantine stored
        state that is malformed (the version then starts fresh) and return its alerts."""
        alerts = []
        for key in self.monitor.unloaded(accepted):
            raw = await self.writer.until_done("redis", functools.partial(self.store.fetch, *key))
            if raw is None:
                continue
            try:
                stored = raw.parse()
                self.monitor.restore_stored(key, snapshot=stored.snapshot, profile=stored.profile,
                                            reference=stored.reference)  # fmt: skip
            except InvalidState as exc:
                at = next(i for i, e in enumerate(accepted) if (e.model_id, e.model_version) == key)
                trigger = Trigger(accepted[at].event_id, *positions[at], accepted[at].timestamp_ms)
                alerts.append(await self._quarantine(key, exc, trigger))
        return alerts

    async def _save_state(
        self,
        records: list[RawRecord],
        retired: list[tuple[str, str]],
        touched: tuple[tuple[str, str], ...],
    ) -> None:
        updates = []
        for model_id, model_version in touched:
            monitor = self.monitor.monitors.get((model_id, model_version))
            if monitor is None:  # retired by this batch
                continue
            updates.append(
                MonitorUpdate(
                    model_id,
                    model_version,
                    monitor.snapshot(),
                    monitor.take_new_profile(),
                    monitor.take_new_reference(),
                )
            )
        if not await self.applied.save(updates, records, retired):
            logger.warning("another worker has applied these partitions further; reloading")
            self.reset()


def _done() -> asyncio.Future[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future

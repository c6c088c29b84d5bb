"""A batch of Kafka events through the core under Faust: rejects to the DLQ, alerts out.

Checkpoint order, per batch: (0) drop records Redis says were applied already (by every model
before decoding, by the event's own model after), (1) decode and validate in the core (the
warm-ups shared with the other workers around it: ``WarmupSharing``), then skip the copies of
events seen within the TTL at another offset (``RedisDuplicates``), (2) publish every rejected
record to the dead-letter topic and wait until the broker has them, (3) load monitors (and
rollouts) from Redis and update them (dropping the versions the version cap retired), (4)
publish their alerts and wait likewise, (4b) keep what the label join needs of each accepted
prediction (idempotent: a replay does not overwrite), (5) write each model's state and rollout
state with its fence (the batch's last offsets) in one atomic step per model, all in one
pipeline (deleting retired versions' state), then raise the low-water marks; a model another
worker saved since this one read it is refused, reloaded and its events applied again from (3),
less those the other applied, (6) return, and only then the agent acks the batch's offsets.
Step (4) is the ``AlertSink``'s ``publish``: the Kafka sink returns once the broker has every
alert; sinks after it (a webhook) only queue (streams/adapters/sinks.py). A crash before (5)
replays the batch: dead letters and alerts may be sent twice (alert ids are deterministic, so a
consumer can tell), never lost; after (5) the replayed records are skipped at (0), so no event
is applied twice.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

import faust
import orjson

from streams.adapters.durable import DurableWriter
from streams.adapters.faust.health import StreamLiveness
from streams.adapters.faust.stage import MonitoringStage
from streams.adapters.faust.state_updates import update_of, whole_state
from streams.adapters.faust.warmup_sharing import WarmupSharing
from streams.adapters.kafka.dead_letter import DeadLetterRedactor, dead_letter_message
from streams.adapters.prometheus.metrics import IngestMetrics
from streams.adapters.redis.duplicates import RedisDuplicates
from streams.adapters.redis.label_join import RedisLabelJoin
from streams.adapters.redis.rollout_store import RedisRolloutStore
from streams.adapters.redis.spec_store import RedisSpecStore
from streams.adapters.redis.state_store import RedisMonitorStore
from streams.adapters.redis.stored_values import MonitorUpdate
from streams.adapters.redis.warmup_slots import RedisWarmupSlots
from streams.core.alerts.alert import Alert, Trigger
from streams.core.alerts.sink import AlertBatch, AlertSink
from streams.core.contract.duplicates import keep
from streams.core.contract.event import PredictionEvent, RawRecord
from streams.core.contract.ingestor import Ingestor, IngestResult, Rejection
from streams.core.contract.pii import pii_attributes_by_model
from streams.core.drift.monitor import Monitor
from streams.core.drift.profile import ReferenceProfile
from streams.core.errors import InvalidState
from streams.core.labels.performance_monitors import LabelledBatch

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
        duplicates: RedisDuplicates | None = None,
        rollout_store: RedisRolloutStore | None = None,
        spec_store: RedisSpecStore | None = None,
        clock: Callable[[], float] = time.time,
        writer: DurableWriter | None = None,
    ) -> None:
        """``warmup_slots`` shares the model cap's warm-up slots with the other workers
        (None: this worker's alone); ``duplicates`` finds copies of events (None: no
        check); ``rollout_store`` keeps the monitor's rollout state (canary verdicts) when
        it has one; ``spec_store`` shares the specs warm-ups infer (None: they stay in this
        process); ``clock`` gives the wall-clock seconds of each batch; ``writer`` (the
        worker's, shared) retries its writes (None: one of its own)."""
        super().__init__(
            store=store, dead_letters=dead_letters, sink=sink, metrics=metrics,
            dead_letter_max_bytes=dead_letter_max_bytes,
            dead_letter=dead_letter_message if dlq_redactor is None else dlq_redactor.message,
            writer=writer,
        )  # fmt: skip
        self.ingestor = ingestor
        self.monitor = monitor
        self.liveness = liveness
        self.label_join = label_join
        self.warmups = WarmupSharing(ingestor.registry, self.writer, monitor.pii,
                                     slots=warmup_slots, specs=spec_store)  # fmt: skip
        self.duplicates = duplicates
        self.rollout_store = rollout_store
        self.clock = clock
        # Labels are counted in the canaries (``count_labels``) between two passes (under
        # ``passing``): a rollout state saved then holds no events of a pass not saved yet.
        self.applied.whole = self._whole_state

    def reset(self) -> None:
        self.monitor.forget()
        super().reset()

    def forget_models(self, models: Collection[str]) -> None:
        self.monitor.forget_models(models)
        super().forget_models(models)

    async def process(self, batch: Sequence[RawRecord]) -> None:
        async with self.passing:
            await self._process(batch)

    async def count_labels(self, pairs: LabelledBatch) -> list[Alert]:
        """Count joined labels in the canaries of the models whose rollout this worker
        holds, between two passes, and save those rollouts (each checked against its model's
        last save): the canary alerts raised. A model another worker saved since is
        forgotten, to be read again, and raises none."""
        rollouts = self.monitor.rollouts
        if rollouts is None or not pairs:
            return []
        async with self.passing:
            alerts = rollouts.label(pairs, self.monitor.registry.spec_for)
            refused = await self.applied.save_rollouts(self._changed_rollouts())
            if refused:
                self.forget_models(refused)
        return [alert for alert in alerts if alert.model_id not in refused]

    async def _process(self, batch: Sequence[RawRecord]) -> None:
        started = time.perf_counter()
        records = await self.applied.fresh(batch)
        if records:
            await self.warmups.before_batch(self.clock())
            result = await self._unapplied(self.ingestor.ingest(records), records)
            keeping = self._keep_for_labels(result.accepted)
            await self.warmups.after_decoding()
            await self._skip_duplicates(result)
            await self._dead_letter(result.rejected)
            applied = await self._monitor_and_save(result, records, keeping)
            self.metrics.observe_batch(applied, time.perf_counter() - started)
            self.metrics.forget_models(self.warmups.take_dropped())
        self.liveness.batch_done()

    async def _monitor_and_save(
        self, result: IngestResult, records: list[RawRecord], keeping: asyncio.Future[None]
    ) -> IngestResult:
        """Steps (3) to (5); again, on state reloaded from Redis, for the events of the
        models whose save was refused (another worker saved them since this one read
        them: it was paused past a rebalance, or took over from one), less those the other
        applied. The events this worker applied, with every rejection."""
        applied = IngestResult(accepted=[], rejected=result.rejected, positions=[])
        pending = result
        while True:
            refused = await self._monitor_once(pending, records, keeping)
            for event, position in zip(pending.accepted, pending.positions, strict=True):
                if event.model_id not in refused:
                    applied.accepted.append(event)
                    applied.positions.append(position)
            if not refused:
                return applied
            logger.warning("another worker saved %d models since this one read them: "
                           "reloading them", len(refused))  # fmt: skip
            self.applied.forget_models(refused)
            again = [i for i, event in enumerate(pending.accepted) if event.model_id in refused]
            pending = await self._unapplied(
                IngestResult(
                    accepted=[pending.accepted[i] for i in again],
                    rejected=[r for r in pending.rejected if r.model_id in refused],
                    positions=[pending.positions[i] for i in again],
                ),
                records,
            )

    async def _monitor_once(
        self, result: IngestResult, records: list[RawRecord], keeping: asyncio.Future[None]
    ) -> set[str]:
        """Feed the monitors, publish their alerts, save their state: the models refused
        (forgotten here: their state in memory is stale), found so before their alerts
        left when they can be."""
        await self._load_rollouts(result.accepted, result.rejected)
        alerts = await self._load_monitors(result.accepted, result.positions)
        outcome = self.monitor.process(result.accepted, result.positions, result.rejected)
        alerts += outcome.alerts
        retired = self.ingestor.registry.take_retired()
        self.monitor.retire(retired)
        self.metrics.forget_versions(retired)
        # Only a batch with alerts reads the tokens again: the save refuses a stale state.
        stale = await self.applied.overtaken({a.model_id for a in alerts}) if alerts else set()
        alerts = [alert for alert in alerts if alert.model_id not in stale]
        await self.sink.publish(AlertBatch.of(alerts))
        await keeping
        # The stale models go to the save too: it refuses them, and so raises no low-water
        # mark past their records, which are applied again only after it.
        refused = stale | await self._save_state(records, retired, outcome.touched)
        self.monitor.forget_models(refused)
        now = self.clock()
        self.metrics.observe_unwatched(outcome, refused)
        self.metrics.observe_alerts(alerts, now)
        self.metrics.observe_monitors(self.monitor, outcome)
        accepted = result.accepted  # the refused models' are observed when applied again
        if refused:
            accepted = [event for event in accepted if event.model_id not in refused]
        self.metrics.observe_events(accepted, outcome.columns, self.monitor, now)
        return refused

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

    async def _skip_duplicates(self, result: IngestResult) -> None:
        # Before the monitors: a copy does not count twice. Nor does it join twice, though
        # the label join has it too: the join keeps an event id once (NX).
        found = self.duplicates
        if found is None or not result.accepted:
            return
        now = self.clock()
        flags = await self.writer.until_done(
            "redis", lambda: found.duplicates(result.accepted, result.positions, now_s=now)
        )
        if any(flags):
            copies = [e for e, f in zip(result.accepted, flags, strict=True) if f]
            self.metrics.observe_duplicates(copies)
            result.accepted, result.positions = keep(result.accepted, result.positions, flags)

    def _keep_for_labels(self, accepted: list[PredictionEvent]) -> asyncio.Future[None]:
        # Started before the duplicate lookup, whose round trip lets it leave, and awaited
        # before the state is saved: Redis stores the batch while this process runs the
        # monitors, instead of this process waiting for it after them.
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
                await self._offer_reference(key)
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

    async def _offer_reference(self, key: tuple[str, str]) -> None:
        """A new version that inherits a reference, with no earlier version in memory: offer
        the stored profile of the model's latest other version (known from its stored
        rollout state and from this worker's version slots)."""
        if not self.monitor.needs_reference(key):
            return
        model_id, version = key
        rollouts = self.monitor.rollouts
        seen = [] if rollouts is None or model_id not in rollouts.models else (
            rollouts.models[model_id].versions
        )  # fmt: skip
        watched = self.ingestor.registry.versions.watched(model_id)
        for other in reversed(list(dict.fromkeys([*seen, *watched]))):
            fetch = functools.partial(self.store.fetch_profile, model_id, other)
            raw = None if other == version else await self.writer.until_done("redis", fetch)
            try:
                profile = None if raw is None else ReferenceProfile.from_dict(orjson.loads(raw))
            except (InvalidState, orjson.JSONDecodeError):
                continue  # unreadable: the version's own loader quarantines it
            if profile is not None:
                self.monitor.offer_reference(profile)
                return

    async def _load_rollouts(
        self, accepted: Sequence[PredictionEvent], rejected: Sequence[Rejection]
    ) -> None:
        """Adopt the stored rollout state of the batch's models not in memory."""
        rollouts, store = self.monitor.rollouts, self.rollout_store
        if rollouts is None or store is None:
            return
        unloaded = rollouts.unloaded(accepted, rejected)
        if unloaded:  # their tokens first: a save of a rollout read after expects them
            await self.applied.know(unloaded)
        for model_id in unloaded:
            try:
                stored = await self.writer.until_done(
                    "redis", functools.partial(store.fetch, model_id)
                )
                if stored is not None:
                    rollouts.adopt(model_id, stored)
            except (InvalidState, orjson.JSONDecodeError) as exc:
                logger.warning("rollout state of %s unreadable, starting afresh: %s", model_id, exc)

    async def _save_state(
        self,
        records: list[RawRecord],
        retired: list[tuple[str, str]],
        touched: tuple[tuple[str, str], ...],
    ) -> set[str]:
        monitors = self.monitor.monitors
        # A version missing was retired by this batch.
        updates = [update_of(key, monitors[key]) for key in touched if key in monitors]
        return await self.applied.save(updates, records, retired, self._changed_rollouts())

    async def _whole_state(
        self, models: frozenset[str]
    ) -> tuple[list[MonitorUpdate], dict[str, dict[str, Any]]]:
        return await whole_state(models, self.monitor, self.writer, specs=self.warmups.specs,
                                 rollouts_kept=self.rollout_store is not None)  # fmt: skip

    def _changed_rollouts(self) -> dict[str, dict[str, Any]]:
        """The rollout states changed since the last save, to save with the monitors'."""
        rollouts = self.monitor.rollouts
        if rollouts is None or self.rollout_store is None:
            return {}
        return rollouts.take_touched()


def _done() -> asyncio.Future[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future

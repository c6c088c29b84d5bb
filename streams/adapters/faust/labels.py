"""A batch of label records through the join and the performance monitors under Faust.

Checkpoint order, per batch, as for predictions (streams/adapters/faust/ingestion.py): (0) drop
records Redis says were applied, (1) decode; rejected labels to the labels dead-letter
topic, (2) join in Redis (atomic per model: a prediction joins at most once, so a replayed
batch finds its labels ``duplicate`` rather than counting them twice), (3) update the model
versions' performance monitors (``PerformanceMonitors``, restoring each version's stored
state first), (4) publish alerts and retraining requests to the ``AlertSink`` (the Kafka
sink waits until the broker has them), (5) save the monitors' state with the batch's last
offsets in one atomic step, (5b) count the saved labels in the canaries of the models whose
rollout this worker holds, saved under the predictions' fence (``canaries``), (6) return;
only then the agent acks. Labels that came before their prediction wait in Redis;
``retry_waiting`` (a timer) joins them later under the same lock.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from typing import Any

import faust
import orjson

from streams.adapters.durable import DurableWriter
from streams.adapters.faust.stage import MonitoringStage
from streams.adapters.files.validation_labels import references_of_profiles
from streams.adapters.prometheus.metrics import UNKNOWN_MODEL_LABEL, IngestMetrics
from streams.adapters.redis.label_join import JoinResult, RedisLabelJoin
from streams.adapters.redis.state_store import RedisMonitorStore
from streams.adapters.redis.stored_values import MonitorUpdate
from streams.core.alerts.alert import Alert, Trigger
from streams.core.alerts.sink import AlertBatch, AlertSink
from streams.core.contract.decoder import LabelDecoder
from streams.core.contract.event import LabelEvent, RawRecord
from streams.core.contract.ingestor import Rejection
from streams.core.contract.pii import PiiPolicy
from streams.core.contract.registry import SpecRegistry
from streams.core.drift.monitor import Monitor
from streams.core.errors import InvalidEvent, InvalidState
from streams.core.labels.labelled import JoinOutcome
from streams.core.labels.performance_monitor import PerformanceConfig, PerformanceMonitor
from streams.core.labels.performance_monitors import LabelledBatch, PerformanceMonitors

__all__ = ["LabelService"]

logger = logging.getLogger(__name__)


class LabelService(MonitoringStage):
    """Join labels, judge performance; never raise on bad input, never lose an alert.

    ``dead_letter_max_bytes`` as for ``IngestionService``.
    """

    def __init__(
        self,
        *,
        decoder: LabelDecoder,
        join: RedisLabelJoin,
        registry: SpecRegistry,
        config: PerformanceConfig,
        store: RedisMonitorStore,
        dead_letters: faust.TopicT,
        sink: AlertSink,
        metrics: IngestMetrics,
        pii: PiiPolicy | None = None,
        dead_letter_max_bytes: int | None = None,
        profiles: RedisMonitorStore | None = None,
        drift: Monitor | None = None,
        canaries: Callable[[LabelledBatch], Awaitable[list[Alert]]] | None = None,
        writer: DurableWriter | None = None,
    ) -> None:
        super().__init__(
            store=store, dead_letters=dead_letters, sink=sink, metrics=metrics,
            dead_letter_max_bytes=dead_letter_max_bytes, writer=writer,
        )  # fmt: skip
        self.decoder = decoder
        self.join = join
        self.registry = registry
        self.monitors = PerformanceMonitors(registry, config, pii=pii)
        #: Where registered profiles are (the predictions' store): one made with
        #: ``driftline profile --labels`` gives its version's performance reference.
        self.profiles = profiles
        #: The drift monitors of this worker: they explain performance alerts (the inputs
        #: that drifted meanwhile) for the versions whose predictions this worker watches.
        self.drift = drift
        #: Counts joined labels in the canaries of this worker's models and saves them
        #: (``IngestionService.count_labels``): the canary alerts raised.
        self.canaries = canaries
        #: Models with labels waiting for their prediction.
        self.waiting: set[str] = set()
        self.applied.whole = self._whole_state

    def reset(self) -> None:
        self.monitors.forget()
        self.waiting.clear()
        super().reset()

    def forget_models(self, models: Collection[str]) -> None:
        self.monitors.forget_models(models)
        super().forget_models(models)

    async def process(self, batch: Sequence[RawRecord]) -> None:
        async with self.passing:
            records = await self.applied.fresh(batch)
            if not records:
                return
            labels, positions, rejected = self._decoded(records)
            keep = await self.applied.fresh_events([x.model_id for x in labels], positions, records)
            labels, positions = [labels[i] for i in keep], [positions[i] for i in keep]
            await self._dead_letter(rejected)
            join = self.join
            now_ms = int(time.time() * 1000)
            results = await self.writer.until_done(
                "redis", lambda: join.join(labels, positions, now_ms=now_ms)
            )
            self.waiting |= {r.label.model_id for r in results if r.outcome is JoinOutcome.EARLY}
            await self._apply(results, records)

    async def dead_letter_oversized(self, records: Sequence[RawRecord]) -> None:
        """Refuse label records over the decoder's size limit where they are first read,
        as ``IngestionService.dead_letter_oversized`` does predictions: a copy the by-model
        topic refused would reach the dead-letter topic as a cut, without the original's
        length and digest. Every one is rejected (the size is checked before parsing)."""
        _, _, rejected = self._decoded(list(records))
        await self._dead_letter(rejected)

    async def retry_waiting(self) -> None:
        """Join labels whose prediction has come since; give up on those past their wait."""
        async with self.passing:
            results: list[JoinResult] = []
            now_ms = int(time.time() * 1000)
            for model_id in sorted(self.waiting):
                found, remaining = await self.writer.until_done(
                    "redis", functools.partial(self.join.retry_early, model_id, now_ms=now_ms)
                )
                results += found
                if not remaining:
                    self.waiting.discard(model_id)
            if results:
                # Tokens first, for a model forgotten since its labels came (a refused
                # save): its state is read again after this, and saved expecting them.
                await self.applied.know(r.label.model_id for r in results)
                await self._apply(results, [])

    def _decoded(
        self, records: list[RawRecord]
    ) -> tuple[list[LabelEvent], list[tuple[int, int]], list[Rejection]]:
        labels: list[LabelEvent] = []
        positions: list[tuple[int, int]] = []
        rejected: list[Rejection] = []
        for record in records:
            try:
                labels.append(self.decoder.decode(record))
                positions.append((record.partition, record.offset))
            except InvalidEvent as exc:
                rejected.append(Rejection.of(record, exc))
                self.metrics.labels.labels(UNKNOWN_MODEL_LABEL, "rejected").inc()
        return labels, positions, rejected

    async def _apply(self, results: list[JoinResult], records: list[RawRecord]) -> None:
        self._count(results)
        if not results and records:
            # Nothing to judge (every label rejected, or applied already): the low-water
            # marks still pass the batch, as a save's do, before its commit (``rewind``
            # reads a commit past them as writes Redis lost).
            await self.applied.save([], records)
            return
        applied: list[JoinResult] = []
        while results:
            refused = await self._judge(results, records)
            applied += [r for r in results if r.label.model_id not in refused]
            if not refused:
                break
            logger.warning("another worker saved the performance state of %d models since "
                           "this one read it: reloading them", len(refused))  # fmt: skip
            self.forget_models(refused)
            results = await self._not_applied([r for r in results if r.label.model_id in refused],
                                              records)  # fmt: skip
        # The labels this worker saved, after their save: a crash before this loses their
        # canary counts (the verdict waits longer), and never counts them twice.
        await self._canary(_pairs(applied))

    async def _not_applied(
        self, results: list[JoinResult], records: list[RawRecord]
    ) -> list[JoinResult]:
        """``results`` less the labels their model's fence covers. The join gives a label
        record read again its prediction again (a replay must not lose it), so the other
        worker may have applied some. Waiting labels joined late (no ``records``) are
        beyond the fence of the batch they came in: all of them."""
        models = [r.label.model_id for r in results]
        if not records:
            await self.applied.know(models)  # the state is read again after this
            return results
        keep = await self.applied.fresh_events(models, [r.position for r in results], records)
        return [results[i] for i in keep]

    async def _judge(self, results: list[JoinResult], records: list[RawRecord]) -> set[str]:
        """Feed the joined pairs to the performance monitors, publish their alerts, save:
        the models whose save was refused, found so before their alerts and retraining
        requests left when they can be (as for predictions)."""
        pairs = _pairs(results)
        quarantined = await self._load_monitors(pairs)
        outcome = self.monitors.process(pairs)
        for model_id, count in outcome.unwatched.items():
            self.metrics.labels.labels(self._model_label(model_id), "unwatched").inc(count)
        judged = outcome.alerts if self.drift is None else self.drift.explained(outcome.alerts)
        raised = {a.model_id for a in quarantined + judged}
        raised |= {r.model_id for r in outcome.retrain_requests}
        stale = await self.applied.overtaken(raised) if raised else set()
        alerts = [a for a in quarantined + judged if a.model_id not in stale]
        requests = [r for r in outcome.retrain_requests if r.model_id not in stale]
        await self.sink.publish(AlertBatch.of(alerts, requests))
        if alerts:
            self.metrics.observe_alerts(alerts)
        for request in requests:
            self.metrics.retrain_requests.labels(request.model_id).inc()
        # Stale models too: the save refuses them, and raises no low-water mark past them.
        updates = _updates(outcome.touched.items())
        refused = stale | await self.applied.save(updates, records)
        for (model_id, version), monitor in outcome.touched.items():
            if model_id not in refused:
                self.metrics.versions.observe_performance(model_id, version, monitor.metrics())
                self.metrics.versions.observe_fairness(model_id, version, monitor.fairness)
        return refused

    async def _whole_state(
        self, models: frozenset[str]
    ) -> tuple[list[MonitorUpdate], dict[str, dict[str, Any]]]:
        """All this worker holds of ``models``, whose stored performance state Redis no
        longer has (``AppliedOffsets.whole``)."""
        held = [(key, m) for key, m in self.monitors.monitors.items() if key[0] in models]
        return _updates(held), {}

    async def _canary(self, pairs: LabelledBatch) -> None:
        """Count the pairs' labels in the canaries of the models whose predictions this
        worker holds in memory, and publish the verdicts they changed."""
        if self.canaries is None or not pairs:
            return
        alerts = await self.canaries(pairs)
        if alerts:
            await self.sink.publish(AlertBatch.of(alerts))
            self.metrics.observe_alerts(alerts)

    async def _load_monitors(self, pairs: LabelledBatch) -> list[Alert]:
        """Restore the batch's model versions from Redis before they are fed; malformed
        stored state is quarantined (its ``internal`` alert returned) and the monitor
        starts fresh."""
        alerts = []
        for key, (pair, (partition, offset)) in self.monitors.unloaded(pairs).items():
            await self._take_given_reference(key)
            raw = await self.writer.until_done("redis", functools.partial(self.store.fetch, *key))
            try:
                stored = None if raw is None else raw.parse()
                if stored is not None and stored.snapshot is not None:
                    self.monitors.restore_stored(key, stored.snapshot)
            except InvalidState as exc:
                trigger = Trigger(pair.event_id, partition, offset, pair.labelled_at_ms)
                alerts.append(await self._quarantine(key, exc, trigger))
        return alerts

    async def _take_given_reference(self, key: tuple[str, str]) -> None:
        """The labelled reference of the version's registered profile, if it has one, for
        its monitor to start from (a malformed one is logged and the reference learned)."""
        if self.profiles is None:
            return
        fetch = functools.partial(self.profiles.fetch_profile, *key)
        raw = await self.writer.until_done("redis", fetch)
        if raw is None:
            return
        try:
            self.monitors.references.update(references_of_profiles([orjson.loads(raw)]))
        except (ValueError, TypeError, KeyError) as exc:  # InvalidState is a ValueError
            logger.warning("the labelled reference of %s:%s is unusable (%s): learning one",
                           *key, exc)  # fmt: skip

    def _count(self, results: list[JoinResult]) -> None:
        counts: dict[tuple[str, str], int] = {}
        for result in results:
            key = (self._model_label(result.label.model_id), result.outcome.value)
            counts[key] = counts.get(key, 0) + 1
        for (model, outcome), count in counts.items():
            self.metrics.labels.labels(model, outcome).inc(count)

    def _model_label(self, model_id: str) -> str:
        return model_id if self.registry.knows(model_id) else UNKNOWN_MODEL_LABEL


def _pairs(results: list[JoinResult]) -> LabelledBatch:
    return [(r.joined, r.position) for r in results if r.joined is not None]


def _updates(monitors: Iterable[tuple[tuple[str, str], PerformanceMonitor]]) -> list[MonitorUpdate]:
    """What a save writes of each performance monitor: its snapshot."""
    return [MonitorUpdate(*key, monitor.snapshot(), None, []) for key, monitor in monitors]

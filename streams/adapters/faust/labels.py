"""A batch of label records through the join and the performance monitors under Faust.

Checkpoint order, per batch, as for predictions (streams/adapters/faust/ingestion.py): (0) drop
records Redis says were applied, (1) decode; rejected labels to the labels dead-letter
topic, (2) join in Redis (atomic per model: a prediction joins at most once, so a replayed
batch finds its labels ``duplicate`` rather than counting them twice), (3) update the model
versions' performance monitors, (4) publish alerts and retraining requests and wait until
the broker has them, (5) save the monitors' state with the batch's last offsets in one
atomic step, (6) return; only then the agent acks. Labels that came before their prediction
wait in Redis; ``retry_waiting`` (a timer) joins them later under the same lock.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Sequence

import faust
import orjson

from streams.adapters.durable import DurableWriter, Message, alert_message
from streams.adapters.kafka.dead_letter import dead_letter_message, rescue
from streams.adapters.prometheus.metrics import UNKNOWN_MODEL_LABEL, IngestMetrics
from streams.adapters.redis.applied_offsets import AppliedOffsets
from streams.adapters.redis.label_join import JoinResult, RedisLabelJoin
from streams.adapters.redis.quarantine import quarantine
from streams.adapters.redis.state_store import MonitorUpdate, RedisMonitorStore
from streams.core.alerts.alert import Alert, Trigger
from streams.core.contract.decoder import LabelDecoder
from streams.core.contract.event import LabelEvent, RawRecord
from streams.core.contract.ingestor import Rejection
from streams.core.contract.pii import PiiPolicy
from streams.core.contract.registry import SpecRegistry
from streams.core.errors import InvalidEvent, InvalidState
from streams.core.labels.labelled import JoinOutcome, LabelledPrediction
from streams.core.labels.performance_monitor import PerformanceConfig, PerformanceMonitor

__all__ = ["LabelService"]

logger = logging.getLogger(__name__)


class LabelService:
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
        alerts: faust.TopicT,
        retrain: faust.TopicT,
        metrics: IngestMetrics,
        pii: PiiPolicy | None = None,
        dead_letter_max_bytes: int | None = None,
    ) -> None:
        self.decoder = decoder
        self.pii = pii or PiiPolicy(mode="drop")
        self.join = join
        self.registry = registry
        self.config = config
        self.store = store
        self.topics = {"dead_letters": dead_letters, "alerts": alerts, "retrain": retrain}
        self.metrics = metrics
        self.writer = DurableWriter(metrics.retries, metrics.publish_failures)
        self.dead_letter_max_bytes = dead_letter_max_bytes
        self.applied = AppliedOffsets(store, self.writer, metrics.replayed_skipped)
        self.monitors: dict[tuple[str, str], PerformanceMonitor] = {}
        #: Models with labels waiting for their prediction.
        self.waiting: set[str] = set()
        self._lock = asyncio.Lock()

    def reset(self) -> None:
        """After a rebalance: what this worker holds in memory may be stale; Redis is not."""
        self.monitors.clear()
        self.applied.forget()
        self.waiting.clear()

    async def process(self, batch: Sequence[RawRecord]) -> None:
        async with self._lock:
            records = await self.applied.fresh(batch)
            if not records:
                return
            labels, positions, rejected = self._decoded(records)
            if rejected:
                limit = self.dead_letter_max_bytes
                dead = [dead_letter_message(r, max_value_bytes=limit) for r in rejected]
                await self.writer.publish(self.topics["dead_letters"], dead, rescue=rescue)
            join = self.join
            now_ms = int(time.time() * 1000)
            results = await self.writer.until_done(
                "redis", lambda: join.join(labels, positions, now_ms=now_ms)
            )
            self.waiting |= {r.label.model_id for r in results if r.outcome is JoinOutcome.EARLY}
            await self._apply(results, records)

    async def retry_waiting(self) -> None:
        """Join labels whose prediction has come since; give up on those past their wait."""
        async with self._lock:
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
        groups: dict[tuple[str, str], list[tuple[LabelledPrediction, tuple[int, int]]]] = {}
        for result in results:
            if result.joined is not None:
                key = (result.joined.model_id, result.joined.model_version)
                groups.setdefault(key, []).append((result.joined, result.position))
        alerts: list[Alert] = []
        requests: list[Message] = []
        touched = []
        for (model_id, version), pairs in groups.items():
            monitor = await self._monitor(model_id, version, pairs[0], alerts)
            if monitor is None:
                self.metrics.labels.labels(self._model_label(model_id), "unwatched").inc(len(pairs))
                continue
            alerts += monitor.process([p for p, _ in pairs], [at for _, at in pairs])
            requests += [(model_id.encode(), orjson.dumps(r.to_dict()), None)
                         for r in monitor.take_retrain_requests()]  # fmt: skip
            touched.append((model_id, version, monitor))
        if alerts:
            await self.writer.publish(self.topics["alerts"], [alert_message(a) for a in alerts])
            self.metrics.observe_alerts(alerts)
        if requests:
            await self.writer.publish(self.topics["retrain"], requests)
            for model_key, _, _ in requests:
                assert model_key is not None  # every request is keyed by its model, above
                self.metrics.retrain_requests.labels(model_key.decode()).inc()
        updates = [MonitorUpdate(m, v, monitor.snapshot(), None, []) for m, v, monitor in touched]
        if not await self.applied.save(updates, records):
            logger.warning("another worker has applied these label partitions further")
            self.reset()
            return
        for model_id, version, monitor in touched:
            self.metrics.observe_performance(model_id, version, monitor.metrics())

    async def _monitor(
        self,
        model_id: str,
        version: str,
        first: tuple[LabelledPrediction, tuple[int, int]],
        alerts: list[Alert],
    ) -> PerformanceMonitor | None:
        """The version's monitor, from memory or Redis; malformed stored state is
        quarantined (its ``internal`` alert added to ``alerts``) and the monitor starts
        fresh."""
        monitor = self.monitors.get((model_id, version))
        if monitor is not None:
            return monitor
        spec = self.registry.spec_for(model_id, version)
        if spec is None:
            return None
        spec = self.pii.fairness_view(spec)  # kept PII attributes are hashed
        raw = await self.writer.until_done("redis", lambda: self.store.fetch(model_id, version))
        try:
            stored = None if raw is None else raw.parse()
            if stored is None or stored.snapshot is None:
                monitor = PerformanceMonitor(spec, version, self.config)
            else:
                monitor = PerformanceMonitor.restore(spec, version, self.config, stored.snapshot)
        except InvalidState as exc:
            pair, (partition, offset) = first
            trigger = Trigger(pair.event_id, partition, offset, pair.labelled_at_ms)
            alerts.append(
                await quarantine(self.store, self.writer, self.metrics.state_quarantined,
                                 (model_id, version), exc, trigger)
            )  # fmt: skip
            monitor = PerformanceMonitor(spec, version, self.config)
        self.monitors[model_id, version] = monitor
        return monitor

    def _count(self, results: list[JoinResult]) -> None:
        counts: dict[tuple[str, str], int] = {}
        for result in results:
            key = (self._model_label(result.label.model_id), result.outcome.value)
            counts[key] = counts.get(key, 0) + 1
        for (model, outcome), count in counts.items():
            self.metrics.labels.labels(model, outcome).inc(count)

    def _model_label(self, model_id: str) -> str:
        return model_id if self.registry.knows(model_id) else UNKNOWN_MODEL_LABEL

"""A batch of Kafka events through the core under Faust: rejects to the DLQ, alerts out.

Checkpoint order, per batch: (0) drop records Redis says were applied already, (1) decode
and validate in the core, (2) publish every rejected record to the dead-letter topic and
wait until the broker has them, (3) load monitors from Redis and update them, (4) publish
their alerts and wait likewise, (5) write the monitors' state and the batch's last offsets
to Redis in one atomic step, (6) return, and only then the agent acks the batch's offsets. A
crash before (5) replays the batch: dead letters and alerts may be sent twice (alert ids
are deterministic, so a consumer can tell), never lost; after (5) the replayed records are
skipped at (0), so no event is applied twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import faust
import orjson

from streams.adapters.dead_letter import dead_letter_headers
from streams.adapters.health import StreamLiveness
from streams.adapters.metrics import IngestMetrics
from streams.adapters.state_store import MonitorUpdate, RedisMonitorStore
from streams.core.alert import Alert
from streams.core.event import PredictionEvent, RawRecord
from streams.core.ingestor import Ingestor, Rejection
from streams.core.model_monitor import ModelMonitor
from streams.core.monitor import Monitor
from streams.core.profile import ReferenceProfile

__all__ = ["IngestionService"]

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

_RETRY_DELAYS_S = (0.1, 0.5, 1.0, 2.0, 5.0)


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
    ) -> None:
        self.ingestor = ingestor
        self.monitor = monitor
        self.store = store
        self.dead_letters = dead_letters
        self.alerts = alerts
        self.metrics = metrics
        self.liveness = liveness
        self._applied: dict[int, int] = {}

    def reset(self) -> None:
        """After a rebalance: what this worker holds in memory may be stale; Redis is not."""
        self.monitor.forget()
        self._applied.clear()

    async def process(self, batch: Sequence[RawRecord]) -> None:
        started = time.perf_counter()
        records = await self._not_yet_applied(list(batch))
        if records:
            result = self.ingestor.ingest(records)
            if result.rejected:
                await self._publish(self.dead_letters, [_dead_letter(r) for r in result.rejected])
            await self._load_monitors(result.accepted)
            alerts = self.monitor.process(result.accepted, result.positions)
            if alerts:
                await self._publish(self.alerts, [_alert_message(a) for a in alerts])
            await self._save_state(records)
            self.metrics.observe_batch(result, time.perf_counter() - started)
            self.metrics.observe_alerts(alerts)
            self.metrics.observe_monitors(self.monitor)
        self.liveness.batch_done()

    async def _not_yet_applied(self, records: list[RawRecord]) -> list[RawRecord]:
        # After a crash Faust replays from its last commit; Redis knows what was applied.
        unknown = {r.partition for r in records} - self._applied.keys()
        if unknown:
            stored = await self._until_done("redis", lambda: self.store.applied_offsets(unknown))
            self._applied.update({p: stored.get(p, -1) for p in unknown})
        applied = self._applied
        fresh = [r for r in records if r.offset > applied[r.partition]]
        if len(fresh) < len(records):
            self.metrics.replayed_skipped.inc(len(records) - len(fresh))
        return fresh

    async def _load_monitors(self, accepted: Sequence[PredictionEvent]) -> None:
        for model_id, model_version in self.monitor.unloaded(accepted):
            stored = await self._until_done(
                "redis", lambda m=model_id, v=model_version: self.store.load(m, v)
            )
            spec = self.monitor.registry.spec_for(model_id, model_version)
            if stored is None or spec is None:
                continue
            if stored.snapshot is None:  # a profile registered from training data
                profile = ReferenceProfile.from_dict(stored.profile or {})
                watcher = ModelMonitor(spec, model_version, self.monitor.config, profile)
                self.monitor.adopt((model_id, model_version), watcher)
            else:
                restored = ModelMonitor.restore(
                    spec, model_version, self.monitor.config,
                    snapshot=stored.snapshot, profile=stored.profile, reference=stored.reference,
                )  # fmt: skip
                self.monitor.adopt((model_id, model_version), restored)

    async def _save_state(self, records: list[RawRecord]) -> None:
        offsets: dict[int, int] = {}
        for record in records:
            offsets[record.partition] = max(offsets.get(record.partition, -1), record.offset)
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
        saved = await self._until_done("redis", lambda: self.store.save(updates, offsets))
        if saved:
            self._applied.update(offsets)
        else:
            logger.warning("another worker has applied these partitions further; reloading")
            self.reset()

    async def _publish(self, topic: faust.TopicT, messages: list[_Message]) -> None:
        async def send_all() -> None:
            deliveries = [
                await topic.send(key=key, value=value, headers=headers)
                for key, value, headers in messages
            ]
            await asyncio.gather(*deliveries)

        await self._until_done(topic.get_topic_name(), send_all)

    async def _until_done(self, target: str, operation: Callable[[], Awaitable[_T]]) -> _T:
        # Retry until it works: acking a batch whose dead letters, alerts or state were not
        # written would lose them, so an outage stalls the stream (visible in /health and
        # metrics) instead.
        attempt = 0
        while True:
            try:
                return await operation()
            except Exception as exc:
                delay = _RETRY_DELAYS_S[min(attempt, len(_RETRY_DELAYS_S) - 1)]
                attempt += 1
                self.metrics.retries.labels(target).inc()
                logger.error("writing to %s failed (attempt %d), retrying in %.1fs: %r",
                             target, attempt, delay, exc)  # fmt: skip
                await asyncio.sleep(delay)


_Message = tuple[bytes | None, bytes | None, list[tuple[str, bytes]] | None]


def _dead_letter(rejection: Rejection) -> _Message:
    record = rejection.record
    logger.debug(
        "dead-lettering %s[%d]@%d: %s",
        record.source,
        record.partition,
        record.offset,
        rejection.reason,
    )
    return record.key, record.value, dead_letter_headers(rejection)


def _alert_message(alert: Alert) -> _Message:
    logger.info("alert %s %s %s/%s %s", alert.status, alert.type, alert.model_id,
                alert.feature, alert.message)  # fmt: skip
    return alert.model_id.encode(), orjson.dumps(alert.to_dict()), None

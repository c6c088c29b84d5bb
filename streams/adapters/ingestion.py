"""A batch of Kafka events through the core under Faust: rejects to the DLQ, alerts out.

Checkpoint order, per batch: (1) decode and validate in the core, (2) publish every rejected
record to the dead-letter topic and wait until the broker has them, (3) update the monitors,
(4) publish their alerts and wait likewise, (5) count, (6) return, and only then Faust acks
the batch's offsets. A crash before (6) replays the batch: dead letters and alerts may be
sent twice (alert ids are deterministic, so a consumer can tell), never lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import faust
import orjson

from streams.adapters.dead_letter import dead_letter_headers
from streams.adapters.health import StreamLiveness
from streams.adapters.metrics import IngestMetrics
from streams.core.alert import Alert
from streams.core.event import RawRecord
from streams.core.ingestor import Ingestor, Rejection
from streams.core.monitor import Monitor

__all__ = ["IngestionService", "raw_records"]

logger = logging.getLogger(__name__)

_RETRY_DELAYS_S = (0.1, 0.5, 1.0, 2.0, 5.0)


def raw_records(events: Sequence[Any]) -> list[RawRecord]:
    """Faust events to the core's records, keeping where each came from."""
    records = []
    for event in events:
        message = event.message
        records.append(
            RawRecord(
                value=message.value,
                timestamp_ms=int(message.timestamp * 1000),
                source=message.topic,
                partition=message.partition,
                offset=message.offset,
                key=message.key,
            )
        )
    return records


class IngestionService:
    """Process micro-batches; never raise on bad input, never drop a dead letter."""

    def __init__(
        self,
        *,
        ingestor: Ingestor,
        monitor: Monitor,
        dead_letters: faust.TopicT,
        alerts: faust.TopicT,
        metrics: IngestMetrics,
        liveness: StreamLiveness,
    ) -> None:
        self.ingestor = ingestor
        self.monitor = monitor
        self.dead_letters = dead_letters
        self.alerts = alerts
        self.metrics = metrics
        self.liveness = liveness

    async def process(self, events: Sequence[Any]) -> None:
        started = time.perf_counter()
        result = self.ingestor.ingest(raw_records(events))
        if result.rejected:
            await self._deliver(self.dead_letters, [_dead_letter(r) for r in result.rejected])
        alerts = self.monitor.process(result.accepted, result.positions)
        if alerts:
            await self._deliver(self.alerts, [_alert_message(a) for a in alerts])
        self.metrics.observe_batch(result, time.perf_counter() - started)
        self.metrics.observe_alerts(alerts)
        self.liveness.batch_done()

    async def _deliver(self, topic: faust.TopicT, messages: list[_Message]) -> None:
        # Retry until the broker takes them: acking the batch without its dead letters or
        # alerts would lose them, so an outage stalls the stream (visible in /health and
        # metrics) instead.
        attempt = 0
        while True:
            try:
                deliveries = [
                    await topic.send(key=key, value=value, headers=headers)
                    for key, value, headers in messages
                ]
                await asyncio.gather(*deliveries)
                return
            except Exception as exc:
                delay = _RETRY_DELAYS_S[min(attempt, len(_RETRY_DELAYS_S) - 1)]
                attempt += 1
                self.metrics.publish_failures.labels(topic.get_topic_name()).inc()
                logger.error(
                    "publishing %d records to %s failed (attempt %d), retrying in %.1fs: %r",
                    len(messages),
                    topic.get_topic_name(),
                    attempt,
                    delay,
                    exc,
                )
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

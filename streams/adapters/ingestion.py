"""The ingestion step under Faust: a batch of Kafka events through the core, rejects to the DLQ.

Checkpoint order, per batch: (1) decode and validate in the core, (2) publish every rejected
record to the dead-letter topic and wait until the broker has them, (3) count, (4) return, and
only then Faust acks the batch's offsets. So a crash between (1) and (4) replays the batch:
dead letters may be doubled, never lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import faust

from streams.adapters.dead_letter import dead_letter_headers
from streams.adapters.health import StreamLiveness
from streams.adapters.metrics import IngestMetrics
from streams.core.event import RawRecord
from streams.core.ingestor import Ingestor, Rejection

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
        dead_letters: faust.TopicT,
        metrics: IngestMetrics,
        liveness: StreamLiveness,
    ) -> None:
        self.ingestor = ingestor
        self.dead_letters = dead_letters
        self.metrics = metrics
        self.liveness = liveness

    async def process(self, events: Sequence[Any]) -> None:
        started = time.perf_counter()
        result = self.ingestor.ingest(raw_records(events))
        if result.rejected:
            await self._dead_letter(result.rejected)
        self.metrics.observe_batch(result, time.perf_counter() - started)
        self.liveness.batch_done()

    async def _dead_letter(self, rejected: list[Rejection]) -> None:
        # Retry until the broker takes them: acking the batch without its dead letters would
        # lose records, so a DLQ outage stalls the stream (visible in /health and metrics).
        attempt = 0
        while True:
            try:
                await self._publish(rejected)
                return
            except Exception as exc:
                delay = _RETRY_DELAYS_S[min(attempt, len(_RETRY_DELAYS_S) - 1)]
                attempt += 1
                self.metrics.dead_letter_failures.inc()
                logger.error(
                    "publishing %d dead letters failed (attempt %d), retrying in %.1fs: %r",
                    len(rejected),
                    attempt,
                    delay,
                    exc,
                )
                await asyncio.sleep(delay)

    async def _publish(self, rejected: list[Rejection]) -> None:
        deliveries = []
        for rejection in rejected:
            record = rejection.record
            logger.debug(
                "dead-lettering %s[%d]@%d: %s",
                record.source,
                record.partition,
                record.offset,
                rejection.reason,
            )
            deliveries.append(
                await self.dead_letters.send(
                    key=record.key,
                    value=record.value,
                    headers=dead_letter_headers(rejection),
                )
            )
        await asyncio.gather(*deliveries)

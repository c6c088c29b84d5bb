"""Alerts and retraining requests to their Kafka topics, durably (the worker's sink of record).

Keyed by model id, so a model's alerts stay in order on one partition. ``publish`` returns
only once the broker has every record (``DurableWriter``: retried while the error is
retriable), which is what lets the services save their offsets after it.
"""

from __future__ import annotations

import faust
import orjson

from streams.adapters.durable import DurableWriter, Message, alert_message
from streams.core.alerts.retrain_request import RetrainRequest
from streams.core.alerts.sink import AlertBatch

__all__ = ["KafkaAlertSink", "retrain_message"]


class KafkaAlertSink:
    """Alerts to ``alerts``, then retraining requests to ``retrain``, each awaited."""

    def __init__(self, writer: DurableWriter, alerts: faust.TopicT, retrain: faust.TopicT) -> None:
        self.writer = writer
        self.alerts = alerts
        self.retrain = retrain

    async def publish(self, batch: AlertBatch) -> None:
        if batch.alerts:
            await self.writer.publish(self.alerts, [alert_message(a) for a in batch.alerts])
        if batch.retrain_requests:
            requests = [retrain_message(r) for r in batch.retrain_requests]
            await self.writer.publish(self.retrain, requests)

    async def flush(self) -> None:
        # Nothing buffered: publish waited for the broker.
        return None

    async def close(self) -> None:
        return None


def retrain_message(request: RetrainRequest) -> Message:
    """The retrain-requests record of ``request``, keyed by model like its alerts."""
    return request.model_id.encode(), orjson.dumps(request.to_dict()), None

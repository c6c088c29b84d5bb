"""Clients for the two things users do: log predictions and labels, and act on alerts.

``PredictionLogger`` and ``LabelLogger`` publish events keyed by ``model_id`` with
time-ordered ``event_id`` (UUIDv7) and RFC 3339 UTC timestamps, checked by the worker's own
decoders, delivered in the background: ``log()`` never blocks and never raises because Kafka
is slow or down (events are dropped and counted instead). ``AlertConsumer`` iterates typed
alerts and retraining requests, de-duplicated, committed after the caller handled them.

The connection (SASL/TLS included) comes from ``streams/kafka_config.py``, as for the worker.
"""

from __future__ import annotations

from streams.client.alert_consumer import AlertConsumer
from streams.client.drops import DropCounter
from streams.client.event_ids import UuidV7
from streams.client.label_logger import LabelLogger
from streams.client.prediction_logger import PredictionLogger
from streams.client.received_alert import ReceivedAlert
from streams.client.retrain_request import ReceivedRetrainRequest
from streams.core.errors import AccessRefused, InvalidEvent

__all__ = [
    "AccessRefused",
    "AlertConsumer",
    "DropCounter",
    "InvalidEvent",
    "LabelLogger",
    "PredictionLogger",
    "ReceivedAlert",
    "ReceivedRetrainRequest",
    "UuidV7",
]

"""``PredictionLogger``: one call per prediction, from the model's request path."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from streams.client.event_ids import UuidV7
from streams.client.event_logger import EventLogger, Validation, client_settings
from streams.client.events import prediction_event
from streams.client.timestamps import Rfc3339Clock
from streams.kafka_config import KafkaConfig
from streams.settings import Settings

__all__ = ["PredictionLogger"]


class PredictionLogger(EventLogger):
    """Publish prediction events to Driftline without slowing the caller.

    Every event is keyed by ``model_id`` and carries an ``event_id`` (a UUIDv7 unless the
    caller has one) and an RFC 3339 UTC timestamp. ``log()`` encodes, checks and queues; a
    background thread delivers. When the queue is full or Kafka is down, events are dropped
    and counted (``dropped``, ``dropped_by_reason``, one warning line a minute on the
    ``driftline.client`` logger), never raised into the caller.

    Parameters
    ----------
    settings
        Topic names, limits and the Kafka connection; read from ``DRIFTLINE_*`` when neither
        this nor ``kafka`` is given.
    kafka
        The Kafka connection (SASL/TLS included), as the worker builds it; overrides
        ``settings.kafka``.
    topic
        The predictions topic; ``settings.topic_predictions`` unless given.
    validate
        ``"raise"`` (the default: a broken event raises ``InvalidEvent`` in ``log()``, so
        mistakes show in development), ``"drop"`` (counted as ``invalid``) or ``"off"``. The
        check is the worker's own decoder, with its message size and feature limits.
    max_queue
        Events that may wait for delivery; more are dropped (``queue_full``).
    delivery_timeout_s
        How long an event may wait for Kafka before it is dropped (``delivery_failed``).
    close_timeout_s
        How long ``close()`` (and the ``atexit`` flush) waits for delivery.
    producer_options
        More librdkafka settings, applied last.

    Examples
    --------
    >>> with PredictionLogger() as logger:  # doctest: +SKIP
    ...     event_id = logger.log("churn", "v3", {"age": 41, "plan": "gold"}, 1, score=0.83)
    """

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        kafka: KafkaConfig | None = None,
        topic: str | None = None,
        validate: Validation = "raise",
        max_queue: int = 100_000,
        delivery_timeout_s: float = 120.0,
        close_timeout_s: float = 10.0,
        producer_options: dict[str, Any] | None = None,
    ) -> None:
        settings = client_settings(settings, kafka)
        decoder = settings.event_decoder()
        super().__init__(
            topic=topic or settings.topic_predictions,
            decoder=decoder,
            settings=settings,
            kafka=kafka,
            validate=validate,
            max_queue=max_queue,
            delivery_timeout_s=delivery_timeout_s,
            close_timeout_s=close_timeout_s,
            producer_options=producer_options,
        )
        self._new_id = UuidV7()
        self._now = Rfc3339Clock()

    def log(
        self,
        model_id: str,
        model_version: str,
        features: Mapping[str, Any],
        prediction: Any,
        score: float | None = None,
        latency_ms: float | None = None,
        attributes: Mapping[str, Any] | None = None,
        event_id: str | None = None,
        timestamp: datetime | str | None = None,
    ) -> str:
        """Queue one prediction event; its ``event_id``, for the label later.

        ``timestamp`` is an aware ``datetime`` (a naive one is refused: no zone, no guess)
        or an RFC 3339 string; now, unless given.
        """
        event_id = event_id or self._new_id()
        fields = {
            "event_id": event_id,
            "timestamp": self._now() if timestamp is None else timestamp,
            "model_id": model_id,
            "model_version": model_version,
            "features": features,
            "prediction": prediction,
            "score": score,
            "latency_ms": latency_ms,
            "attributes": attributes,
        }
        self._send(model_id, prediction_event, fields)
        return event_id

"""``PredictionLogger``: one call per prediction, from the model's request path."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from streams.client.event_ids import UuidV7
from streams.client.event_logger import EventLogger
from streams.client.events import prediction_event
from streams.core.contract.decoder import EventDecoder
from streams.settings import Settings

__all__ = ["PredictionLogger"]

# One generator for every logger of the process: its ids sort in the order they were made.
_new_id = UuidV7()


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

    @staticmethod
    def _default_topic(settings: Settings) -> str:
        return settings.topic_predictions

    @staticmethod
    def _decoder_of(settings: Settings) -> EventDecoder:
        return settings.event_decoder()

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
        event_id = event_id or _new_id()
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

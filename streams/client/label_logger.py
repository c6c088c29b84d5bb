"""``LabelLogger``: the ground truth of earlier predictions, joined by ``event_id``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from streams.client.event_logger import EventLogger, Validation, client_settings
from streams.client.events import label_event
from streams.client.timestamps import Rfc3339Clock
from streams.core.contract.decoder import LabelDecoder
from streams.kafka_config import KafkaConfig
from streams.settings import Settings

__all__ = ["LabelLogger"]


class LabelLogger(EventLogger):
    """Publish label events with the same guarantees as ``PredictionLogger``.

    Keyed by ``model_id``; ``event_id`` is the one ``PredictionLogger.log`` returned (or the
    caller's own id it passed there). Parameters as ``PredictionLogger``'s, with
    ``settings.topic_labels`` as the default topic.

    Examples
    --------
    >>> with LabelLogger() as labels:  # doctest: +SKIP
    ...     labels.log(event_id, "churn", 0)
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
        super().__init__(
            topic=topic or settings.topic_labels,
            decoder=LabelDecoder(),
            settings=settings,
            kafka=kafka,
            validate=validate,
            max_queue=max_queue,
            delivery_timeout_s=delivery_timeout_s,
            close_timeout_s=close_timeout_s,
            producer_options=producer_options,
        )
        self._now = Rfc3339Clock()

    def log(
        self, event_id: str, model_id: str, label: Any, timestamp: datetime | str | None = None
    ) -> None:
        """Queue the label of the prediction ``event_id``; ``timestamp`` (when the truth was
        known) is now unless given."""
        fields = {
            "event_id": event_id,
            "model_id": model_id,
            "label": label,
            "timestamp": self._now() if timestamp is None else timestamp,
        }
        self._send(model_id, label_event, fields)

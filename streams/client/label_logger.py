"""``LabelLogger``: the ground truth of earlier predictions, joined by ``event_id``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from streams.client.event_logger import EventLogger
from streams.client.events import label_event
from streams.core.contract.decoder import LabelDecoder
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

    @staticmethod
    def _default_topic(settings: Settings) -> str:
        return settings.topic_labels

    @staticmethod
    def _decoder_of(settings: Settings) -> LabelDecoder:
        return LabelDecoder()

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

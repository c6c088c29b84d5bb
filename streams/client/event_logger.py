"""What the prediction and label loggers share: settings, validation, delivery, shutdown."""

from __future__ import annotations

import atexit
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Literal

from streams.client.delivery import BackgroundProducer
from streams.client.drops import DropCounter
from streams.client.events import check, encode
from streams.client.timestamps import Rfc3339Clock
from streams.core.contract.decoder import EventDecoder, LabelDecoder
from streams.kafka_config import KafkaConfig
from streams.settings import Settings

__all__ = ["EventLogger", "Validation", "client_settings"]

#: ``raise``: an event that breaks the contract raises ``InvalidEvent`` in ``log()`` (for
#: development and tests: the mistake shows where it is made); ``drop``: it is dropped and
#: counted (``invalid``); ``off``: not checked (the worker dead-letters it).
Validation = Literal["raise", "drop", "off"]

# The producer settings every logger uses on top of the connection (KafkaConfig.confluent):
# idempotence keeps retried batches in order and single; lz4 is one of the codecs the worker
# reads (aiokafka[lz4]); linger batches a busy service's events into few requests.
_PRODUCER = {"enable.idempotence": True, "acks": "all", "linger.ms": 5,
             "compression.type": "lz4"}  # fmt: skip


def client_settings(settings: Settings | None, kafka: KafkaConfig | None) -> Settings:
    """The settings a client uses: given, or ``Settings()`` beside an explicit ``kafka``,
    or read from ``DRIFTLINE_*`` (a client is its program's entry point into Driftline, so
    it reads the environment the way the CLI does)."""
    if settings is not None:
        return settings
    return Settings() if kafka is not None else Settings.from_env(os.environ)


class EventLogger(ABC):
    """Base of ``PredictionLogger`` and ``LabelLogger``: ``PredictionLogger`` says what the
    parameters mean; each logger names its default topic and its decoder."""

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
        if validate not in ("raise", "drop", "off"):
            raise ValueError(f"validate must be 'raise', 'drop' or 'off', not {validate!r}")
        if max_queue < 1 or delivery_timeout_s <= 0 or close_timeout_s < 0:
            raise ValueError("max_queue and delivery_timeout_s must be positive, "
                             "close_timeout_s not negative")  # fmt: skip
        settings = client_settings(settings, kafka)
        self.topic = topic or self._default_topic(settings)
        self.validate = validate
        self.close_timeout_s = close_timeout_s
        self._decoder = self._decoder_of(settings)
        self._now = Rfc3339Clock()
        self._drops = DropCounter()
        config = (kafka or settings.kafka).confluent(
            {
                **_PRODUCER,
                "queue.buffering.max.messages": max_queue,
                "message.timeout.ms": int(delivery_timeout_s * 1000),
                **(producer_options or {}),
            }
        )
        self._delivery = BackgroundProducer(config, name=type(self).__name__, drops=self._drops)
        atexit.register(self.close)

    @staticmethod
    @abstractmethod
    def _default_topic(settings: Settings) -> str:
        """The topic events go to unless ``topic`` is given."""

    @staticmethod
    @abstractmethod
    def _decoder_of(settings: Settings) -> EventDecoder | LabelDecoder:
        """The worker's decoder of these events, which checks them before they are sent."""

    @property
    def dropped(self) -> int:
        """Events dropped so far, for any reason (``dropped_by_reason`` tells which)."""
        return self._drops.total

    @property
    def dropped_by_reason(self) -> dict[str, int]:
        return self._drops.by_reason()

    @property
    def delivered(self) -> int:
        """Events Kafka has acknowledged."""
        return self._delivery.delivered

    @property
    def pending(self) -> int:
        """Events queued or in flight."""
        return self._delivery.pending

    def close(self, timeout_s: float | None = None) -> int:
        """Deliver what is queued, waiting at most ``timeout_s`` (the logger's
        ``close_timeout_s`` unless given); the number of events left undelivered."""
        atexit.unregister(self.close)
        return self._delivery.close(self.close_timeout_s if timeout_s is None else timeout_s)

    def __enter__(self):
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _send(self, key: object, build: Callable[..., dict[str, Any]], fields: dict) -> None:
        """Build, encode, check and queue one event; under ``validate="raise"`` a mistake in
        the event raises, otherwise nothing does."""
        try:
            value = encode(build(**fields))
            if self.validate != "off":
                check(value, self._decoder)
            key_bytes = key.encode()  # type: ignore[attr-defined]  # the decoder checked it
        except Exception:
            if self.validate == "raise":
                raise
            self._drops.add("invalid")
            return
        self._delivery.send(self.topic, key_bytes, value)

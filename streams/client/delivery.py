"""Background delivery to Kafka that never blocks or raises into the caller.

confluent-kafka's ``Producer`` already is what a logger needs underneath: ``produce()`` only
appends to librdkafka's bounded in-memory queue (``queue.buffering.max.messages``) and
returns; librdkafka's own threads batch and send. What is left to us:

- a full queue raises ``BufferError`` at once: the event is dropped and counted
  (``queue_full``), never waited for;
- delivery reports arrive only through ``poll()``: a daemon thread here polls, so the
  caller never does, and a failed delivery (Kafka down longer than ``message.timeout.ms``,
  or a broker refusal) is counted as ``delivery_failed``, or ``not_authorized`` when an ACL
  is missing;
- librdkafka's errors (broker down, authentication) go to a rate-limited log line instead of
  its default stream of stderr lines.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from streams.client.drops import DropCounter

__all__ = ["BackgroundProducer"]

log = logging.getLogger("driftline.client")

_POLL_S = 0.1
#: Refusals only an operator's grant mends.
_NOT_AUTHORIZED = frozenset(
    {KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.CLUSTER_AUTHORIZATION_FAILED}
)


class BackgroundProducer:
    """A Kafka producer with a polling thread and drop accounting.

    Parameters
    ----------
    config
        The librdkafka configuration (``KafkaConfig.confluent(...)``).
    name
        Names the thread and the log lines (``PredictionLogger``, ``LabelLogger``).
    drops
        Where drops are counted; a fresh ``DropCounter`` unless given.
    producer_factory
        Builds the producer from ``config``; ``confluent_kafka.Producer`` unless given.
    """

    def __init__(
        self,
        config: dict[str, Any],
        *,
        name: str,
        drops: DropCounter | None = None,
        producer_factory: Callable[[dict[str, Any]], Any] = Producer,
    ) -> None:
        self.name = name
        self.drops = drops or DropCounter()
        self.delivered = 0
        self._errors = DropCounter()  # reused for its once-a-minute pacing of error lines
        self._last_error = ""
        self._producer = producer_factory(
            {**config, "error_cb": self._on_error, "log_level": 0}  # errors come via error_cb
        )
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._poll_loop, name=f"{name}-delivery",
                                        daemon=True)  # fmt: skip
        self._thread.start()

    def send(self, topic: str, key: bytes, value: bytes) -> bool:
        """Queue one record; ``False`` (and counted) when it was dropped. Never raises."""
        if self._closed.is_set():
            self.drops.add("closed")
            return False
        try:
            self._producer.produce(topic, value=value, key=key, on_delivery=self._on_delivery)
        except BufferError:
            self.drops.add("queue_full")
            return False
        except (KafkaException, TypeError, ValueError):
            # e.g. MSG_SIZE_TOO_LARGE, or an unknown topic with a cached "no such topic".
            self.drops.add("refused")
            return False
        return True

    @property
    def pending(self) -> int:
        """Records queued or in flight."""
        return len(self._producer)

    def close(self, timeout_s: float = 10.0) -> int:
        """Stop polling, deliver what is queued within ``timeout_s``; the number left unsent
        (counted as dropped, ``closed``). Calling it again does nothing more."""
        if self._closed.is_set():
            return 0
        self._closed.set()
        self._thread.join()
        left = self._producer.flush(max(timeout_s, 0.0))
        if left:
            self.drops.add("closed", left)
        self._log_drops()
        return left

    def _poll_loop(self) -> None:
        while not self._closed.is_set():
            self._producer.poll(_POLL_S)
            self._log_drops()

    def _on_delivery(self, error: KafkaError | None, message: Any) -> None:
        if error is None:
            self.delivered += 1  # only this thread (or close's flush) runs callbacks
        elif error.code() in _NOT_AUTHORIZED:
            self.drops.add("not_authorized")
            self._note_error(
                f"Kafka refuses this principal's writes to topic {message.topic()!r} "
                f"({error.str()}): grant it Write there (`driftline kafka-acl --role logger "
                "--principal User:NAME` prints what a logging service needs)"
            )
        else:
            self.drops.add("delivery_failed")
            self._note_error(f"delivery failed: {error.str()}")

    def _on_error(self, error: KafkaError) -> None:
        self._note_error(error.str())

    def _note_error(self, text: str) -> None:
        self._last_error = text
        self._errors.add("delivery_failed")
        if self._errors.report() is not None:
            log.warning("%s: Kafka error: %s (repeats are logged once a minute)", self.name, text)

    def _log_drops(self) -> None:
        if (line := self.drops.report()) is not None:
            last = f"; last Kafka error: {self._last_error}" if self._last_error else ""
            log.warning("%s: %s%s", self.name, line, last)

"""Records written through librdkafka (confluent-kafka), awaited from the worker's event loop.

The routing stage writes every input record once more, so its producer sits on the hot path.
Faust's own producer (aiokafka, pure Python) cost ~140 us of CPU per forwarded record and cut
the worker's rate to about a third (``BENCHMARKS.md``); librdkafka batches and sends from its
own threads for a few microseconds per record. Its idempotent mode (``enable.idempotence``)
also keeps each partition in order and free of duplicates across its internal retries, which
the routing fence relies on.

A ``ProducedTopic`` has the two methods ``DurableWriter`` uses of a Faust topic
(``get_topic_name`` and ``send``), so it publishes through the same retries and rescues.
A thread polls the producer for delivery reports and settles each record's future on the
loop, a handful at a time.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from functools import partial

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from streams.kafka_config import KafkaConfig

__all__ = ["KafkaProducer", "ProducedTopic"]

logger = logging.getLogger(__name__)
_POLL_S = 0.05
#: How long ``send`` waits for room when librdkafka's queue is full, between attempts.
_QUEUE_FULL_WAIT_S = 0.01

Headers = Sequence[tuple[str, bytes]] | None


class KafkaProducer:
    """One librdkafka producer for a worker, its delivery reports settled as futures.

    Parameters
    ----------
    kafka
        Where the brokers are and how to authenticate (``KafkaConfig.confluent``).
    timeout_s
        How long librdkafka keeps retrying a record before reporting it failed
        (``delivery.timeout.ms``); ``DurableWriter`` then decides whether to send it again.
    max_message_bytes
        The largest record it sends (``message.max.bytes``); a larger one fails at once.
    """

    def __init__(self, kafka: KafkaConfig, *, timeout_s: float, max_message_bytes: int) -> None:
        self._config = kafka.confluent(
            {
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "delivery.timeout.ms": int(timeout_s * 1000),
                "message.max.bytes": max_message_bytes,
                "error_cb": self._on_error,
                "logger": logger,  # librdkafka's own lines, through logging, not stderr
            }
        )
        self._producer = Producer(self._config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._settled: list[tuple[asyncio.Future[None], KafkaError | None]] = []
        self._lock = threading.Lock()
        self._running = False
        self._thread: threading.Thread | None = None
        self._fatal = False

    def topic(self, name: str) -> ProducedTopic:
        return ProducedTopic(self, name)

    async def send(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Headers
    ) -> asyncio.Future[None]:
        """Queue one record; the returned future settles once the broker has it (or it failed).

        Raises ``KafkaException`` if librdkafka refuses it outright (e.g. too large).
        """
        self._start()
        assert self._loop is not None
        if self._fatal:
            self._replace()
        future: asyncio.Future[None] = self._loop.create_future()
        report = partial(self._delivered, future)
        sent: list[tuple[str, str | bytes | None]] | None = (
            [(name, data) for name, data in headers] if headers else None
        )
        while True:
            try:
                self._producer.produce(topic, value, key, headers=sent, on_delivery=report)
                return future
            except BufferError:  # its queue is full: let the poll thread drain it
                await asyncio.sleep(_QUEUE_FULL_WAIT_S)

    async def close(self, timeout_s: float = 5.0) -> None:
        """Deliver what is queued (up to ``timeout_s``), then stop the poll thread."""
        if self._thread is None:
            return
        remaining = await asyncio.to_thread(self._producer.flush, timeout_s)
        if remaining:
            logger.warning("closing with %d record(s) undelivered: their batches were not "
                           "acked and will be read again", remaining)  # fmt: skip
        self._running = False
        await asyncio.to_thread(self._thread.join, 2 * _POLL_S + 1)
        self._thread = None

    def _start(self) -> None:
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._running = True
        self._thread = threading.Thread(target=self._poll, name="kafka-producer", daemon=True)
        self._thread.start()

    def _replace(self) -> None:
        # After a fatal error the idempotent producer refuses everything: start a new one
        # (a new producer id); DurableWriter sends the failed records again, in order.
        logger.error("replacing the Kafka producer after a fatal error")
        self._fatal = False
        self._producer = Producer(self._config)

    def _poll(self) -> None:
        while self._running:
            self._producer.poll(_POLL_S)
            with self._lock:
                settled, self._settled = self._settled, []
            if settled and self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(_settle, settled)

    def _delivered(
        self, future: asyncio.Future[None], error: KafkaError | None, message: Message
    ) -> None:
        # Runs in the poll thread (inside ``poll``); the loop settles the future.
        if error is not None and error.fatal():
            self._fatal = True
        with self._lock:
            self._settled.append((future, error))

    def _on_error(self, error: KafkaError) -> None:
        # Connection-level errors; librdkafka retries by itself. A fatal one (the idempotent
        # producer lost its guarantees) fails every later record: say it loudly.
        if error.fatal():
            logger.critical("the Kafka producer failed fatally: %s", error)
        else:
            logger.debug("Kafka producer: %s", error)


class ProducedTopic:
    """A topic written through a ``KafkaProducer``, shaped like the Faust topic API
    ``DurableWriter`` uses."""

    def __init__(self, producer: KafkaProducer, name: str) -> None:
        self.producer = producer
        self.name = name

    def get_topic_name(self) -> str:
        return self.name

    async def send(
        self, *, key: bytes | None, value: bytes | None, headers: Headers = None
    ) -> asyncio.Future[None]:
        return await self.producer.send(self.name, key, value, headers)


def _settle(settled: list[tuple[asyncio.Future[None], KafkaError | None]]) -> None:
    for future, error in settled:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(KafkaException(error))

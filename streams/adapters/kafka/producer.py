"""Records written through librdkafka (confluent-kafka), awaited from the worker's event loop.

The routing stage writes every input record once more, so its producer sits on the hot path.
Faust's own producer (aiokafka, pure Python) cost ~140 us of CPU per forwarded record and cut
the worker's rate to about a third (``BENCHMARKS.md``); librdkafka batches and sends from its
own threads for a few microseconds per record. Its idempotent mode (``enable.idempotence``)
also keeps each partition in order and free of duplicates across its internal retries, which
the routing fence relies on.

A ``ProducedTopic`` is a ``BatchTopic`` for ``DurableWriter`` (``get_topic_name`` and
``send_all``), so it publishes through the same retries and rescues. A chunk of records is
awaited as one: a thread polls the producer for delivery reports, each report fills in its
record's outcome, and the last one of a chunk settles the chunk's single future on the loop.
A future and a loop wake-up per record cost more than the produce call itself.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from functools import partial
from typing import cast

from confluent_kafka import KafkaError, KafkaException, Producer

from streams.adapters.durable import Message
from streams.kafka_config import KafkaConfig

__all__ = ["KafkaProducer", "ProducedTopic"]

logger = logging.getLogger(__name__)
_POLL_S = 0.05
#: How long ``send`` waits for room when librdkafka's queue is full, between attempts.
_QUEUE_FULL_WAIT_S = 0.01
_Headers = list[tuple[str, str | bytes | None]] | None


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
                # CRC32 of the key, as the default ("consistent_random") for other keys, but
                # an empty key to one partition, not a random one: the router keys records
                # with no readable model id so, and the routing fence finds a re-forwarded
                # copy only in the partition of the original.
                "partitioner": "consistent",
                "linger.ms": 5,
                "delivery.timeout.ms": int(timeout_s * 1000),
                "message.max.bytes": max_message_bytes,
                "error_cb": self._on_error,
                "logger": logger,  # librdkafka's own lines, through logging, not stderr
            }
        )
        self._producer = Producer(self._config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._settled: list[_Chunk] = []
        self._lock = threading.Lock()
        self._running = False
        self._thread: threading.Thread | None = None
        self._fatal = False

    def topic(self, name: str) -> ProducedTopic:
        return ProducedTopic(self, name)

    async def partition_count(self, topic: str, timeout_s: float = 10.0) -> int | None:
        """How many partitions ``topic`` has, from the brokers; None if they do not say."""
        try:
            metadata = await asyncio.to_thread(self._producer.list_topics, topic, timeout_s)
        except KafkaException as exc:
            logger.warning("no partition count for %s: %s", topic, exc)
            return None
        found = metadata.topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            return None
        return len(found.partitions)

    async def send_all(
        self, topic: str, messages: Sequence[Message], partition: int | None = None
    ) -> list[Exception | None]:
        """Queue ``messages`` in order (to ``partition``, else where their key maps); once the
        broker has each (or it failed), the error of each, None where it was delivered. A
        record librdkafka refuses outright (e.g. too large) gets its ``KafkaException`` at
        once."""
        self._start()
        assert self._loop is not None
        if self._fatal:
            self._replace()
        chunk = _Chunk(self._loop.create_future(), len(messages))
        # librdkafka's "unassigned" partition: where the partitioner maps the key.
        where = -1 if partition is None else partition
        for index, (key, value, headers) in enumerate(messages):
            report = partial(self._delivered, chunk, index)
            sent = cast(_Headers, headers)  # list is invariant: bytes values are what it takes
            while True:
                try:
                    self._producer.produce(topic, value, key, where, headers=sent,
                                           on_delivery=report)  # fmt: skip
                    break
                except BufferError:  # its queue is full: let the poll thread drain it
                    await asyncio.sleep(_QUEUE_FULL_WAIT_S)
                except KafkaException as exc:
                    with self._lock:
                        last = chunk.report(index, exc)
                    if last:
                        chunk.future.set_result(None)
                    break
        if messages:
            await chunk.future
        return chunk.errors

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

    def _delivered(self, chunk: _Chunk, index: int, error: KafkaError | None, _: object) -> None:
        # Runs in the poll thread (inside ``poll``); the loop settles the chunk's future.
        if error is not None and error.fatal():
            self._fatal = True
        failure = KafkaException(error) if error is not None else None
        with self._lock:
            if chunk.report(index, failure):
                self._settled.append(chunk)

    def _on_error(self, error: KafkaError) -> None:
        # Connection-level errors; librdkafka retries by itself. A fatal one (the idempotent
        # producer lost its guarantees) fails every later record: say it loudly.
        if error.fatal():
            logger.critical("the Kafka producer failed fatally: %s", error)
        else:
            logger.debug("Kafka producer: %s", error)


class ProducedTopic:
    """A topic written through a ``KafkaProducer``: a ``BatchTopic`` for ``DurableWriter``;
    ``at(p)`` is the same topic with every record sent to partition ``p``."""

    def __init__(self, producer: KafkaProducer, name: str, partition: int | None = None) -> None:
        self.producer = producer
        self.name = name
        self.partition = partition

    def get_topic_name(self) -> str:
        return self.name

    def at(self, partition: int) -> ProducedTopic:
        return ProducedTopic(self.producer, self.name, partition)

    async def partition_count(self) -> int | None:
        return await self.producer.partition_count(self.name)

    async def send_all(self, messages: Sequence[Message]) -> list[Exception | None]:
        return await self.producer.send_all(self.name, messages, self.partition)


class _Chunk:
    """The outcome of each record of one ``send_all``; its future settles with the last."""

    __slots__ = ("errors", "future", "remaining")

    def __init__(self, future: asyncio.Future[None], size: int) -> None:
        self.future = future
        self.errors: list[Exception | None] = [None] * size
        self.remaining = size

    def report(self, index: int, error: Exception | None) -> bool:
        """Record one outcome (under the producer's lock); True if it was the last."""
        self.errors[index] = error
        self.remaining -= 1
        return self.remaining == 0


def _settle(settled: list[_Chunk]) -> None:
    for chunk in settled:
        if not chunk.future.done():  # cancelled while waiting: shutting down
            chunk.future.set_result(None)

"""Faust, with the records of chosen topics handed to an agent one fetched chunk at a time.

Faust moves each fetched record to its stream with several event-loop hops: a
``wait_first`` per record in the consumer's drain loop, then a queue, an ``Event`` and a
passive stream task in ``take_events``. Measured on our 2-core machine that is 165-170 us
of CPU per record, four times what Driftline's whole core costs (BENCHMARKS.md). For the
topics routed here the drain loop keeps Faust's bookkeeping per record (read offsets,
gaps, periodic commits) in a plain loop and puts each fetched chunk, a list of
``ConsumerMessage``, on a Faust channel: one hop per chunk. An agent consumes that
channel and acks the messages (``BatchApp.ack``) once their effects are durable. Records
of every other topic take Faust's own per-record path.

It also shortens how long the broker may hold an empty fetch (``FETCH_MAX_WAIT_MS``):
aiokafka keeps one fetch in flight per broker, so while Faust's 1.5 s long poll waits on
idle partitions, a busy partition whose buffer ran dry cannot be fetched. With one busy
partition of four that stalled the worker for 1 s after every 1 MiB fetched.

Group membership, rebalancing, commits, the producer and the web views stay Faust's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message

__all__ = ["FETCH_MAX_WAIT_MS", "BatchApp"]

#: Short enough to be hidden by the chunks waiting in the channel, long enough that an idle
#: worker sends only a few fetch requests a second.
FETCH_MAX_WAIT_MS = 100


class BatchApp(faust.App):
    """A ``faust.App`` that can route a topic's fetched chunks to a channel of batches."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batch_routes: dict[str, faust.ChannelT] = {}

    def batch_channel(self, topic: faust.TopicT, *, maxsize: int = 4) -> faust.ChannelT:
        """Subscribe to ``topic``; its records arrive on the returned channel as lists.

        ``maxsize`` chunks may wait in the channel; beyond that the drain loop waits, which
        is the backpressure on fetching.
        """
        channel = self.channel(maxsize=maxsize)
        for name in topic.topics:
            self.batch_routes[name] = channel
        self.topics.add(topic)  # no agent iterates the topic itself, so subscribe here
        return channel

    def ack(self, messages: Iterable[Message]) -> None:
        """Mark messages done; Faust commits an offset once all before it are done."""
        ack = self.consumer.ack
        for message in messages:
            ack(message)

    def _new_transport(self) -> faust_aiokafka.Transport:
        return _BatchTransport(self.conf.broker_consumer, self)


class _BatchConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts
        return consumer


class _BatchConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _BatchConsumerThread:
        return _BatchConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher: Any) -> None:  # Faust's loop, chunked
        routes: dict[str, faust.ChannelT] = getattr(self.app, "batch_routes", {})
        consumer_stopped = self._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                chunks: dict[str, list[Message]] = {}
                await self.sleep(0)  # as Faust: getmany may not yield to the loop
                if self.should_stop:
                    break
                async for tp, message in self.getmany(timeout=1.0):
                    if not await self._in_order(tp, message):
                        continue
                    if tp.topic in routes:
                        self._unacked_messages.add(message)  # rebalances wait for these
                        chunks.setdefault(tp.topic, []).append(message)
                    else:
                        await self.wait_first(self.callback(message), self.suspend_flow.wait())
                    self._read_offset[tp] = message.offset
                for topic, messages in chunks.items():
                    await self.wait_first(routes[topic].put(messages), self.suspend_flow.wait())
        except self.consumer_stopped_errors:
            if not self.transport.app.should_stop:
                raise
            self.log.info("Broker stopped consumer, shutting down...")

    async def _in_order(self, tp: TP, message: Message) -> bool:
        # Faust's per-record bookkeeping: skip redelivered offsets, record gaps (compacted or
        # transaction-marker offsets) so commits can pass them, commit every N acks.
        read = self._read_offset[tp]
        if read is not None and message.offset < read:
            return False
        if read and message.offset - read > 1 and self.app.topics.acks_enabled_for(tp.topic):
            await self._add_gap(tp, read + 1, message.offset)
        if self._commit_every is not None and self._n_acked >= self._commit_every:
            self._n_acked = 0
            await self.commit()
        return True


class _BatchTransport(faust_aiokafka.Transport):
    Consumer = _BatchConsumer

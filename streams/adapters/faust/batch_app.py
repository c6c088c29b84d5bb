"""The Faust app of a worker: the topics whose fetched chunks go to agents, their acks, and
a bounded stop.

``BatchApp.batch_channel`` subscribes a topic whose records reach an agent one fetched chunk
at a time (``batch_consumer.py`` says how, and why); ``ack`` marks a chunk done once its
effects are durable, and Faust commits as before. ``on_stop`` lets the chunks in flight
finish for ``DRAIN_S`` and starts no new one. Its transport makes every consumer a
``_BatchConsumer`` and the producer idempotent; its web server serves the app's own pages
only, none of Faust's blueprints.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from typing import Any, cast
from weakref import WeakSet

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.web.drivers import aiohttp as faust_aiohttp

from streams.adapters.faust.batch_consumer import FetchedChunk, _BatchConsumer
from streams.adapters.faust.consumer_thread import StopBudget
from streams.adapters.faust.rewind import StateMarks
from streams.core.errors import AccessRefused

__all__ = ["DRAIN_S", "BatchApp"]

logger = logging.getLogger(__name__)

#: How long a stopping worker lets the chunks in flight finish: a healthy batch takes well
#: under a second, and the whole shutdown must fit Kubernetes' grace period.
DRAIN_S = 5.0


class BatchApp(faust.App):
    """A ``faust.App`` that can route a topic's fetched chunks to a channel."""

    def __init__(self, *args: Any, max_chunk_records: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: A fetch is cut into chunks of at most this many records (events), and chunks
        #: waiting for a busy agent are joined up to it.
        self.max_chunk_records = max_chunk_records
        self.batch_routes: dict[str, faust.ChannelT] = {}
        #: Internal by-model topics: their records carry their sources' places (bundles).
        self.routed_topics: set[str] = set()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._stopping = False
        #: What the stop may wait on Kafka, shared by its steps.
        self.kafka_stop = StopBudget()
        #: Chunks an agent has taken from its channel (the others may be cleared unseen).
        self.taken_chunks: WeakSet[FetchedChunk] = WeakSet()
        #: Agents waiting for another topic's records to be applied (``waiting_for_copies``).
        self.copies_waits = 0
        #: Closed on stop, once no chunk is in flight (e.g. the routing stage's producer).
        self.closing: list[Callable[[], Awaitable[None]]] = []
        #: Why the worker stopped itself: access only an operator can grant (``access_refused``).
        self.refused: AccessRefused | None = None
        #: Per topic, its service's check of committed offsets against the state (``rewind``).
        self.state_marks: dict[str, StateMarks] = {}

    def batch_channel(
        self, topic: faust.TopicT, *, maxsize: int = 4, routed: bool = False
    ) -> faust.ChannelT:
        """Subscribe to ``topic``; its records arrive on the returned channel as chunks.

        ``maxsize`` chunks may wait in the channel; beyond that the drain loop waits, which
        is the backpressure on fetching. While an agent waits for another topic's records
        to be applied (``waiting_for_copies``), its full channel instead pauses only its own
        topic's partitions and its chunks are held, in order, until there is room, so the
        records it waits for are still fetched. ``routed``: an internal
        by-model topic, whose records become ``RawRecord``s of their source
        (``routing.pieces``); headers of any other topic are never trusted.
        """
        channel = self.channel(maxsize=maxsize)
        for name in topic.topics:
            self.batch_routes[name] = channel
            if routed:
                self.routed_topics.add(name)
        self.topics.add(topic)  # no agent iterates the topic itself, so subscribe here
        return channel

    @property
    def batch_consumer(self) -> _BatchConsumer:
        """The consumer, as ``_BatchTransport`` makes every consumer of this app."""
        return cast("_BatchConsumer", self.consumer)

    @contextlib.contextmanager
    def waiting_for_copies(self) -> Iterator[None]:
        """While an agent waits for another topic's records to be applied: its own topic's
        chunks are held (its partitions paused) so that the fetching goes on."""
        self.copies_waits += 1
        try:
            yield
        finally:
            self.copies_waits -= 1

    def take(self, chunk: FetchedChunk) -> None:
        """An agent has the chunk: a rebalance waits for it to be acked (or abandoned)."""
        self.taken_chunks.add(chunk)

    def ack(self, chunk: FetchedChunk) -> None:
        """Mark the chunk done; Faust commits an offset once all before it are done."""
        self.batch_consumer.ack_chunk(chunk)

    async def _consumer_wait_empty(self, consumer: Any, logger: Any) -> None:
        # Faust has just cleared the agents' channels: the chunks no agent took will never be
        # acked, and waiting for them stalled the rebalance for ever (the survivor of
        # loadtest/chaos.py's two_workers_kill). Their records are read again from the
        # committed offsets after the rebalance's seek.
        self.batch_consumer.forget_untaken(self.taken_chunks)
        waiting = super()._consumer_wait_empty(consumer, logger)
        if not self._stopping:
            await waiting
            return
        # Stopping, it ends in a commit, which waits out Kafka's request time-out (and more)
        # when no broker answers: 60 s and over, past Kubernetes' grace period.
        budget_s = self.kafka_stop.left()
        try:
            await asyncio.wait_for(waiting, budget_s)
        except TimeoutError:
            logger.warning("stopping without a last commit (Kafka did not answer within "
                           "%.1f s): the records since the previous one will be read again, "
                           "and the offsets in Redis skip them", budget_s)  # fmt: skip

    async def run_batch(self, work: Coroutine[Any, Any, None]) -> bool:
        """Run one chunk's processing; False if shutting down abandoned it (then the chunk
        must not be acked)."""
        if self._stopping:
            work.close()
            return False
        task = asyncio.ensure_future(work)
        self._in_flight.add(task)
        try:
            await task
        except asyncio.CancelledError:
            if not (self._stopping and task.cancelled()):
                raise  # the agent itself is being cancelled
            return False
        finally:
            self._in_flight.discard(task)
        return True

    async def on_stop(self) -> None:
        """Start no chunk from now on; let those in flight finish for ``DRAIN_S``, abandon
        the rest; then stop.

        No new chunk, because Faust's stop clears the chunks queued for the agent while the
        fetcher may still hand it later ones: applying a later chunk would store offsets past
        records never applied, and the next owner would skip them (found by
        ``loadtest/chaos.py``: 88 to 1,200 records lost per SIGTERM). A chunk stuck on an
        outage (its writes retried until they succeed) would hold shutdown until the outage
        ends, and Kubernetes would SIGKILL the pod. An abandoned chunk is never acked, so
        its records are read again by the next owner and what it had applied is skipped by
        the stored offsets: nothing lost or doubled.
        """
        self._stopping = True
        if self._in_flight:
            _, pending = await asyncio.wait(self._in_flight, timeout=DRAIN_S)
            for task in pending:
                task.cancel()
            if pending:
                logger.warning("shutting down with %d batch(es) unfinished (an outage?): "
                               "their records will be read again", len(pending))  # fmt: skip
        for close in self.closing:
            await close()
        # No await between abandoning and stopping: the fetcher would queue more chunks.
        self.batch_consumer.abandon_unacked()
        await super().on_stop()

    def _new_transport(self) -> faust_aiokafka.Transport:
        return _BatchTransport(self.conf.broker_consumer, self)

    def _new_web(self) -> _PagesOnlyWeb:
        return _PagesOnlyWeb(self)


class _PagesOnlyWeb(faust_aiohttp.Web):
    """Faust's web server with none of Faust's own blueprints: only the app's pages."""

    def _enabled_blueprints(self) -> list:
        return []


class _IdempotentProducer(faust_aiokafka.Producer):
    """Faust's producer (alerts, dead letters, retrain requests) with ``acks=all`` and
    idempotence: a batch retried while a broker fails over is written once, and only once
    every in-sync replica has it (Faust turns idempotence on only inside transactions)."""

    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class _BatchTransport(faust_aiokafka.Transport):
    Consumer = _BatchConsumer
    Producer = _IdempotentProducer

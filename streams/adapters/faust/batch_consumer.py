"""Faust, with the records of chosen topics handed to an agent one fetched chunk at a time.

Faust moves each fetched record to its stream with several event-loop hops: a
``wait_first`` per record in the consumer's drain loop, then a queue, an ``Event`` and a
passive stream task in ``take_events``. Measured on our 2-core machine that is 165-230 us
of CPU per record, more than Driftline's whole core (BENCHMARKS.md). For the topics routed
here the drain loop takes each fetch as it comes (a list of records per partition), keeps
Faust's bookkeeping per partition (read offsets, gaps, periodic commits, rebalance
generations), turns the records into the core's ``RawRecord`` (a by-model bundle into its
events) and puts a ``FetchedChunk`` per topic on a Faust channel, cut where it would pass
``max_chunk_records`` events: one hop per fetch, or a few for a fetch of bundles. An agent
consumes that channel and acks the chunk (``batch_app.BatchApp.ack``) once its effects
are durable; Faust commits as before.
Records of every other topic take Faust's own per-record path.

Its thread (``consumer_thread``) also shortens how long the broker may hold an empty fetch
(``FETCH_MAX_WAIT_MS``): aiokafka keeps one fetch in flight per broker, so while Faust's
1.5 s long poll waits on idle partitions, a busy partition whose buffer ran dry cannot be
fetched. With one busy partition of four that stalled the worker for 1 s after every 1 MiB
fetched.

Group membership, rebalancing and commits stay Faust's. The consumer reaches into private
parts of faust-streaming 0.15.3 and aiokafka 0.14.0 (pinned).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast
from weakref import WeakSet

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from faust.types.tuples import ack_lock
from mode.utils.futures import notify

from streams.adapters.faust.consumer_thread import BatchConsumerThread, StopRoutes
from streams.adapters.faust.rewind import StateMarks, Uncompared, rewind_behind_state
from streams.adapters.kafka.routing import pieces
from streams.core.contract.event import RawRecord

__all__ = ["FetchedChunk"]

logger = logging.getLogger(__name__)

#: How often the fetcher looks again at a full channel: for room, or for its agent starting
#: to wait for another topic's records.
_FULL_POLL_S = 0.02


@dataclass(eq=False, slots=True, weakref_slot=True)
class FetchedChunk:
    """One topic's records from one fetch, and their offsets per partition for the ack."""

    records: list[RawRecord]
    offsets: dict[TP, list[int]] = field(repr=False)
    acked: bool = False
    #: Faust's rebalance logs this for every message it still waits for.
    refcount: int = 1


class ChunkRoutes(StopRoutes, Protocol):
    """What the consumer reads of its app (``batch_app.BatchApp``): how many events a chunk
    may hold, which topics are by-model ones, the chunks an agent has taken, and how many
    agents wait for another topic's records to be applied, and each service's check of its
    topic's committed offsets against its stored state."""

    max_chunk_records: int
    routed_topics: set[str]
    taken_chunks: WeakSet[FetchedChunk]
    copies_waits: int
    state_marks: dict[str, StateMarks]


class _BatchConsumer(faust_aiokafka.Consumer):
    #: Faust's own Messages, and the chunks that stand in for theirs (``refcount``).
    _unacked_messages: WeakSet[Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Per routed topic, the chunk last put on its channel and the generation it is of.
        self._waiting: dict[str, tuple[FetchedChunk, int]] = {}
        #: Per routed topic whose agent is behind, the chunks to hand over, in order.
        self._held: dict[str, list[FetchedChunk]] = {}
        self._hand_overs: set[asyncio.Task[None]] = set()
        #: Partitions not read until their commits are compared with Redis's state.
        self._uncompared: Uncompared | None = None

    async def perform_seek(self) -> None:
        # To the committed offsets, as Faust does; then back where Redis's state is behind.
        if self._uncompared is not None:
            paused, self._uncompared = self._uncompared.cancel(), None
            self.resume_partitions(paused & self.assignment())
        await super().perform_seek()
        self._uncompared = await rewind_behind_state(self, cast(ChunkRoutes, self.app).state_marks)

    async def on_stop(self) -> None:
        if self._uncompared is not None:
            self._uncompared.cancel()
        await super().on_stop()

    def resume_partitions(self, tps: Iterable[TP]) -> None:
        # Faust resumes a partition whose buffer drained: not one still to be compared.
        waiting = set() if self._uncompared is None else self._uncompared.partitions
        super().resume_partitions(set(tps) - waiting)

    def _new_consumer_thread(self) -> BatchConsumerThread:
        return BatchConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def forget_untaken(self, taken: Collection[FetchedChunk]) -> int:
        """Stop waiting for the chunks no agent took; how many there were."""
        with ack_lock:
            chunks = [m for m in self._unacked_messages
                      if isinstance(m, FetchedChunk) and m not in taken]  # fmt: skip
            self._unacked_messages.difference_update(chunks)
        return len(chunks)

    def ack_chunk(self, chunk: FetchedChunk) -> None:
        # Consumer.ack for a whole chunk: the same lists Faust's commit reads, filled at once.
        with ack_lock:
            if chunk.acked:
                return
            chunk.acked = True
            for tp, offsets in chunk.offsets.items():
                committed = self._committed_offset[tp]
                index = self._acked_index[tp]
                fresh = [
                    o for o in offsets if o not in index and (committed is None or o >= committed)
                ]
                index.update(fresh)
                self._acked[tp].extend(fresh)
                self._n_acked += len(fresh)
            self._unacked_messages.discard(chunk)
            notify(self._waiting_for_ack)

    def abandon_unacked(self) -> int:
        """Stop waiting for the chunks not acked yet, without acking them: commits stay
        behind their records. How many there were."""
        with ack_lock:
            chunks = [m for m in self._unacked_messages if isinstance(m, FetchedChunk)]
            self._unacked_messages.difference_update(chunks)
            notify(self._waiting_for_ack)
        return len(chunks)

    async def _drain_messages(self, fetcher: Any) -> None:  # Faust's loop, per fetch
        routes: dict[str, faust.ChannelT] = getattr(self.app, "batch_routes", {})
        app = cast(ChunkRoutes, self.app)
        consumer_stopped = self._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                await self.sleep(0)  # as Faust: fetching may not yield to the loop
                if self.should_stop:
                    break
                chunks = await self._fetch(routes)
                for topic, chunk in chunks:
                    if topic in self._held:
                        self._hold(topic, chunk)
                        continue
                    if self._joined_waiting(topic, chunk):
                        continue
                    self._unacked_messages.add(chunk)  # a rebalance waits for these
                    if len(routes) > 1 and not await self._room_or_copies_wait(app, routes[topic]):
                        # Its agent waits for another topic's records to be applied (the
                        # direct route, for its copies): hold the chunk and pause its
                        # partitions, and go on with the other topics. Waiting here would
                        # stop the fetching of the records it waits for. Otherwise a full
                        # channel makes this loop wait: a hold pauses partitions whose
                        # fetched records aiokafka keeps, and it then fetches nothing from
                        # their broker for 0.1 s at a time (20% fewer events/s, measured).
                        self._hold(topic, chunk)
                        self._hand_over_held(topic, routes[topic])
                        continue
                    await self._hand_over(topic, chunk, routes[topic])
        except self.consumer_stopped_errors:
            if not self.transport.app.should_stop:
                raise
            self.log.info("Broker stopped consumer, shutting down...")

    async def _room_or_copies_wait(self, app: ChunkRoutes, channel: faust.ChannelT) -> bool:
        """Wait until ``channel`` has room (True), or until some agent waits for another
        topic's records while it is full (False: hold its chunks). Looked at again every
        ``_FULL_POLL_S``, so a wait that begins while this one is under way is seen."""
        while _full(channel):
            if app.copies_waits:
                return False
            if self.should_stop or self._stopped.is_set():
                return True  # the put gives up as it does at a stop
            await asyncio.sleep(_FULL_POLL_S)
        return True

    async def _hand_over(self, topic: str, chunk: FetchedChunk, channel: faust.ChannelT) -> bool:
        """Put ``chunk`` on ``channel``; whether it went in."""
        # A chunk travels where Faust's channels carry events (it is no EventT).
        if not await self._handed_over(channel.put(chunk)):  # type: ignore[arg-type]
            # Not handed over: the flow was suspended for a rebalance, which clears the
            # channel (cancelling the put), or we stop. No agent will ack it, and the
            # rebalance waits for every unacked chunk: drop it; its records are read again
            # from the committed offset (found by the chaos suite: a survivor of
            # two_workers_kill waited for such a chunk for ever). Not redundant with
            # ``forget_untaken``: that runs once, as the rebalance starts waiting, while this
            # loop goes on (the fetcher is not stopped) and may add a chunk built across the
            # suspension after it ran.
            self._unacked_messages.discard(chunk)
            return False
        self._waiting[topic] = (chunk, self.app.consumer_generation_id)
        return True

    def _hold(self, topic: str, chunk: FetchedChunk) -> None:
        """Keep ``chunk`` after the ones held for ``topic``, its partitions paused (Faust's
        per-partition buffer flow: fetches skip them until ``on_buffer_drop``)."""
        self._unacked_messages.add(chunk)
        self._held.setdefault(topic, []).append(chunk)
        for tp in chunk.offsets:
            # Faust's own TP: its flow bookkeeping asserts it (a fetch's keys are aiokafka's).
            self.on_buffer_full(TP(tp.topic, tp.partition))

    def _hand_over_held(self, topic: str, channel: faust.ChannelT) -> None:
        async def hand_over() -> None:
            held = self._held[topic]
            try:
                while held:
                    if not await self._hand_over(topic, held[0], channel):
                        for chunk in held:  # the flow stopped: all are read again later
                            self._unacked_messages.discard(chunk)
                        break
                    held.pop(0)
            finally:
                # Every held chunk's partitions were paused by ``_hold``.
                paused = {tp for tp in self._buffered_partitions if tp.topic == topic}
                del self._held[topic]
                assigned = self.assignment()
                for tp in paused:
                    if tp in assigned:
                        self.on_buffer_drop(tp)

        task = asyncio.ensure_future(hand_over())
        self._hand_overs.add(task)
        task.add_done_callback(self._hand_overs.discard)

    def _joined_waiting(self, topic: str, chunk: FetchedChunk) -> bool:
        """Append ``chunk`` to the last chunk put on its channel if no agent has taken that
        one yet (a backlog: the agent is busy) and both fit in ``max_chunk_records``.

        Under load one batch then holds several fetches, and what a batch costs per model
        (detector calls, the state snapshot and its write) is paid once for all of them;
        an idle agent takes each chunk at once, so nothing waits to be joined. Safe without
        a lock: no await between the checks and the append, and an agent reads a chunk's
        records only after ``BatchApp.take``, which ends the joining. A chunk a rebalance
        dropped (``forget_untaken``) or of an older generation is never joined.
        """
        app = cast(ChunkRoutes, self.app)
        waiting, generation = self._waiting.get(topic, (None, None))
        if (
            waiting is None
            or generation != self.app.consumer_generation_id
            or waiting in app.taken_chunks
            or waiting not in self._unacked_messages
            or len(waiting.records) + len(chunk.records) > app.max_chunk_records
        ):
            return False
        waiting.records += chunk.records
        for tp, offsets in chunk.offsets.items():
            waiting.offsets.setdefault(tp, []).extend(offsets)
        return True

    async def _handed_over(self, put: Awaitable[Any]) -> bool:
        """Await ``put`` (into an agent's channel) unless the flow is suspended or the
        consumer stops first; whether it went in.

        Faust's ``wait_first`` would do, but a rebalance clears the channels, which cancels
        a put waiting for room, and ``wait_first`` raises that cancellation as if the fetcher
        itself had been cancelled: Faust then restarts the fetcher through a supervisor it
        does not have, and the worker crashed (the chaos suite's two_workers_kill, under
        load). A cancelled put is only a chunk not handed over.
        """
        putting = asyncio.ensure_future(put)
        waits = [asyncio.ensure_future(e.wait()) for e in (self.suspend_flow, self._stopped)]
        try:
            await asyncio.wait([putting, *waits], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pending in (putting, *waits):
                pending.cancel()  # no-op on the done ones
        if not putting.done() or putting.cancelled():
            return False
        putting.result()  # any other failure of the put is raised
        return True

    async def _fetch(self, routes: dict[str, faust.ChannelT]) -> list[tuple[str, FetchedChunk]]:
        # Consumer.getmany, a partition at a time instead of a record at a time; each
        # topic's records in chunks of at most ``max_chunk_records`` events, in order.
        fetched, active = await self._wait_next_records(1.0)
        if fetched is None or self.should_stop:
            return []
        if not self.flow_active:
            await self._seek_back()
            return []
        generation = self.app.consumer_generation_id
        chunks: dict[str, list[FetchedChunk]] = {}
        app = cast(ChunkRoutes, self.app)
        most = app.max_chunk_records if app.max_chunk_records > 0 else sys.maxsize
        for tp, records in fetched.items():
            if self.app.consumer_generation_id != generation:
                break  # a rebalance happened meanwhile: these may no longer be ours
            if active is not None and tp not in active and tp not in self._buffered_partitions:
                continue
            self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
            ordered = await self._in_order(tp, records)
            if not ordered:
                continue
            # What Faust's per-record stream notes on each event: without it, its liveness
            # check logs "Stream has not started processing" at ERROR for every partition
            # with a backlog, every few seconds, while the chunks flow.
            self.app.monitor.stream_inbound_time[tp] = time.monotonic()
            if tp.topic not in routes:
                for record in ordered:
                    message = self._to_message(tp, record)
                    await self._handed_over(self.callback(message))
                continue
            topic_chunks = chunks.setdefault(tp.topic, [])
            routed = tp.topic in app.routed_topics
            for offsets, raw in pieces(tp.topic, tp.partition, ordered, routed, most):
                if not topic_chunks or len(topic_chunks[-1].records) + len(raw) > most:
                    topic_chunks.append(FetchedChunk([], {}))
                topic_chunks[-1].records += raw
                topic_chunks[-1].offsets.setdefault(tp, []).extend(offsets)
        return [(topic, chunk) for topic, listed in chunks.items() for chunk in listed]

    async def _in_order(self, tp: TP, records: Sequence[Any]) -> Sequence[Any]:
        # Faust's per-record bookkeeping, per partition: drop offsets read already, record
        # gaps (compacted or transaction-marker offsets) so commits can pass them.
        read = self._read_offset[tp]
        if read is not None and records[0].offset < read:
            records = [record for record in records if record.offset >= read]
            if not records:
                return records
        if self.app.topics.acks_enabled_for(tp.topic):
            previous = read
            if records[-1].offset - records[0].offset + 1 != len(records) or (
                read and records[0].offset - read > 1
            ):
                for record in records:
                    if previous and record.offset - previous > 1:
                        await self._add_gap(tp, previous + 1, record.offset)
                    previous = record.offset
        if self._commit_every is not None and self._n_acked >= self._commit_every:
            self._n_acked = 0
            await self.commit()
        self._read_offset[tp] = records[-1].offset
        return records

    async def _seek_back(self) -> None:
        # As Faust's getmany when flow is suspended: return to the committed offsets.
        try:
            await self.perform_seek()
        except Exception as exc:
            self.log.warning("exception performing seek when flow not active %r", exc)


def _full(channel: faust.ChannelT) -> bool:
    """Whether the agent iterating ``channel`` has no room for another chunk. A put goes to
    the queue of each of the channel's subscribers (the agents' clones of it), never to its
    own: that one stays empty, and waiting on a full subscriber's put stopped the fetching
    of every topic (found with the direct route waiting for its copies: no by-model record
    was fetched until that wait gave up)."""
    return any(subscriber.queue.full() for subscriber in channel._subscribers)  # type: ignore[attr-defined]

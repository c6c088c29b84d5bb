"""The routing stage: input records forwarded, unchanged, to an internal topic keyed by model.

Monitor state has one owner per model only if all of a model's events reach one consumer.
Producers key records as they like (by request id, or not at all), so the worker does not
monitor the input topic itself: for each fetched chunk it reads only each record's
``model_id`` and produces the record's value to ``<app_id>-predictions-by-model`` (likewise
labels) with the model id as key (Faust's ``group_by``, on the batch route). The monitoring
stage consumes that topic; the owner of a by-model partition owns its models' state.

Each forwarded record carries its source coordinates, which dead letters report and which
fence re-forwarded copies (``applied_offsets``): in its bundle's framing (``bundles``: the
records of a chunk bound for one by-model partition, sent together) or, for a record larger
than a bundle and when bundles are off, in the headers of its own copy
(``SOURCE_HEADERS``). A record whose model id cannot be read is forwarded under the empty
key, always to the same partition, and is dead-lettered there by the decoder. The chunk is
acked once the broker has every record.

With a ``DirectRoute`` the records already on the partition their model maps to, at offsets
their partition's roads (``roads.py``) route direct, are not copied: the router applies them
itself (``direct_routing.py``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, Protocol

import orjson

from streams.adapters.durable import BatchTopic, DurableWriter, Message
from streams.adapters.kafka.bundles import (
    BUNDLE_HEADER,
    bundle_value,
    framed_size,
    is_bundle,
    unbundled,
)
from streams.adapters.kafka.dead_letter import rescue
from streams.adapters.kafka.direct_routing import DirectRoute, DirectRouting
from streams.adapters.kafka.partition_count import CachedCount
from streams.adapters.kafka.roads import Roads, direct_road, home_partition
from streams.core.contract.event import RawRecord

__all__ = ["SOURCE_HEADERS", "PartitionedTopic", "Router",
           "model_key", "partition_messages", "pieces", "routed_record", "routed_records",
           "source_headers"]  # fmt: skip

logger = logging.getLogger(__name__)

SOURCE_HEADERS = ("driftline.source.topic", "driftline.source.partition",
                  "driftline.source.offset", "driftline.source.timestamp")  # fmt: skip
_KEY = "driftline.source.key"
#: The key of records with no readable model id: one partition for them all, so that a
#: re-forwarded copy meets the fence of the original.
NO_MODEL = b""


def model_key(value: bytes | None, *, max_bytes: int | None = None) -> bytes:
    """The record's ``model_id`` as key bytes; ``NO_MODEL`` if it has none that can be read
    (not JSON, not an object, no string id, or longer than ``max_bytes``, which the decoder
    then rejects anyway: not worth parsing)."""
    if not value or (max_bytes is not None and len(value) > max_bytes):
        return NO_MODEL
    # Parsing the whole record is most of a router's work per record; the id is usually the
    # only "model_id" in it, as a plain string. Then it is the top-level id of any event the
    # decoder accepts; a record that it finds elsewhere is rejected downstream, and needs
    # only a key that is the same each time it is forwarded.
    at = value.find(_MODEL_ID_NAME)
    if at >= 0 and value.find(_MODEL_ID_NAME, at + len(_MODEL_ID_NAME)) < 0:
        plain = _PLAIN_ID_VALUE.match(value, at + len(_MODEL_ID_NAME))
        if plain is not None:
            return plain[1]
    try:
        event = orjson.loads(value)
    except orjson.JSONDecodeError:
        return NO_MODEL
    model_id = event.get("model_id") if isinstance(event, dict) else None
    return model_id.encode() if isinstance(model_id, str) and model_id else NO_MODEL


#: How often a router with a direct route asks again for a partition count the brokers
#: have not given yet.
_COUNT_RETRY_S = 0.5
#: After how many asks in a row the wait is logged (its records wait with it).
_COUNT_WARN_AFTER = 20
_COUNT_WAIT = (
    "routing waits for the brokers to give %s's partition count (asked %d times): its "
    "records wait too"
)
_MODEL_ID_NAME = b'"model_id"'
# A colon and a string of the decoder's identifier characters, JSON whitespace around.
_PLAIN_ID_VALUE = re.compile(rb'[ \t\n\r]*:[ \t\n\r]*"([A-Za-z0-9._-]{1,64})"')


def source_headers(record: RawRecord) -> list[tuple[str, bytes]]:
    """Where ``record`` was read: its topic, partition, offset, timestamp (and key)."""
    # Once per forwarded record: bytes formatting, not str() then encode().
    topic, partition, offset, timestamp = SOURCE_HEADERS
    headers = [
        (topic, record.source.encode()),
        (partition, b"%d" % record.partition),
        (offset, b"%d" % record.offset),
        (timestamp, b"%d" % record.timestamp_ms),
    ]
    if record.key is not None:
        headers.append((_KEY, record.key))
    return headers


def routed_record(
    topic: str, partition: int, offset: int, record_timestamp: int, value: bytes | None,
    key: bytes | None, headers: Sequence[tuple[str, bytes]] | None,
) -> RawRecord:  # fmt: skip
    """The input record a by-model record at ``topic[partition]@offset`` is a copy of.

    A record without the routing headers (not written by a router) keeps its own place.
    """
    found = dict(headers or ())
    try:
        source = found[SOURCE_HEADERS[0]].decode()
        at = [int(found[name]) for name in SOURCE_HEADERS[1:]]
    except (KeyError, ValueError, UnicodeDecodeError):
        return RawRecord(value, record_timestamp, topic, partition, offset, key)
    return RawRecord(value, at[2], source, at[0], at[1], found.get(_KEY), (partition, offset))


def routed_records(
    topic: str, partition: int, offset: int, record_timestamp: int, value: bytes | None,
    key: bytes | None, headers: Sequence[tuple[str, bytes]] | None,
) -> list[RawRecord]:  # fmt: skip
    """The input records a by-model record at ``topic[partition]@offset`` holds: those of
    its bundle, or the one it is a copy of (``routed_record``)."""
    if value and is_bundle(headers):
        source = dict(headers or ()).get(SOURCE_HEADERS[0], b"").decode(errors="replace")
        found = unbundled(value, source, (partition, offset))
        if found is not None:
            return found
    return [routed_record(topic, partition, offset, record_timestamp, value, key, headers)]


def pieces(
    topic: str, partition: int, records: Sequence[Any], routed: bool, most: int
) -> Iterator[tuple[list[int], list[RawRecord]]]:
    """Consumer records of ``topic[partition]`` (aiokafka's) as the core's records, in
    pieces of at most ``most`` (a bundle holding more is a piece of its own), each with the
    offsets of the consumer records it holds: a piece never splits a bundle, whose records
    share its offset. ``routed``: ``topic`` is a by-model topic (``routed_records``)."""
    if not routed:
        raw = [RawRecord(r.value, r.timestamp, topic, partition, r.offset, r.key)
               for r in records]  # fmt: skip
        offsets = [r.offset for r in records]
        for start in range(0, len(raw), most):
            yield offsets[start : start + most], raw[start : start + most]
        return
    offsets, raw = [], []
    for r in records:
        held = routed_records(topic, partition, r.offset, r.timestamp, r.value, r.key, r.headers)
        if raw and len(raw) + len(held) > most:
            yield offsets, raw
            offsets, raw = [], []
        offsets.append(r.offset)
        raw += held
    if raw:
        yield offsets, raw


def partition_messages(
    records: Sequence[RawRecord], keys: Sequence[bytes], partitions: int, bundle_bytes: int
) -> dict[int, list[Message]]:
    """What to send to each by-model partition: its records in their order, in bundles of
    at most ``bundle_bytes``; a record too large for one goes as a copy of its own, in its
    place, on its ``home_partition``."""
    grouped: dict[int, list[tuple[RawRecord, bytes]]] = {}
    for record, key in zip(records, keys, strict=True):
        grouped.setdefault(home_partition(key, partitions), []).append((record, key))
    return {p: _messages(pairs, bundle_bytes) for p, pairs in grouped.items()}


def _messages(pairs: list[tuple[RawRecord, bytes]], bundle_bytes: int) -> list[Message]:
    messages: list[Message] = []
    bundle: list[RawRecord] = []
    size = 0

    def close_bundle() -> None:
        nonlocal size
        if bundle:
            messages.append((None, bundle_value(bundle), _bundle_headers(bundle[0].source)))
            bundle.clear()
            size = 0

    for record, key in pairs:
        framed = framed_size(record)
        if framed > bundle_bytes:
            close_bundle()
            messages.append((key, record.value, source_headers(record)))
            continue
        if size + framed > bundle_bytes or (bundle and bundle[0].source != record.source):
            close_bundle()
        bundle.append(record)
        size += framed
    close_bundle()
    return messages


def _bundle_headers(source: str) -> list[tuple[str, bytes]]:
    return [(BUNDLE_HEADER, b"1"), (SOURCE_HEADERS[0], source.encode())]


def _rescue(message: Message, exc: BaseException) -> Message | None:
    # A bundle cut short would read back as one record of garbage: none instead (counted
    # and logged as lost). Bundles stay under the topic's limit unless it was lowered.
    return None if is_bundle(message[2]) else rescue(message, exc)


class PartitionedTopic(BatchTopic, Protocol):
    """A ``BatchTopic`` that knows its partitions and can send to one of them."""

    def at(self, partition: int) -> BatchTopic: ...

    async def partition_count(self) -> int | None: ...


class Router:
    """Forward each chunk of input records to ``target``, keyed by model id."""

    def __init__(
        self,
        target: PartitionedTopic,
        writer: DurableWriter,
        *,
        max_bytes: int | None = None,
        oversized: Callable[[list[RawRecord]], Awaitable[None]] | None = None,
        bundle_bytes: int = 0,
        direct: DirectRoute | None = None,
    ) -> None:
        """Records over ``max_bytes`` go to ``oversized`` (which dead-letters them) instead
        of being copied: the decoder would refuse them anyway, and the by-model topic might
        not take them, so a truncated copy would lose the original's length and digest.
        ``bundle_bytes`` 0: a copy per record, which workers older than bundles can read.
        ``direct``: records on their model's partition, at offsets their partition's roads
        route direct, are applied, not copied (with bundles only)."""
        self.target = target
        self.writer = writer
        self.max_bytes = max_bytes
        self.oversized = oversized
        self.bundle_bytes = bundle_bytes
        self._direct = None if direct is None else DirectRouting(direct, writer)
        self._partitions = CachedCount(target.partition_count, target.get_topic_name())
        self._input_partitions = (
            None if direct is None else CachedCount(direct.partition_count, "the input topic")
        )

    async def forward(self, records: Sequence[RawRecord]) -> None:
        """Return once the broker has every record, in order per partition (see
        ``DurableWriter``)."""
        large: list[RawRecord] = []
        limit = self.max_bytes
        if limit is not None and self.oversized is not None:
            large = [r for r in records if len(r.value or b"") > limit]
            if large:
                await self.oversized(large)
                records = [r for r in records if len(r.value or b"") <= limit]
        keys: Sequence[bytes] = [model_key(r.value, max_bytes=limit) for r in records]
        # With a direct route the roads decide, bundles or not: stored roads a partition's
        # records must keep (direct ones claimed before), and a claim where that changes.
        placed = self.bundle_bytes or self._direct is not None
        partitions = await self._known(self._partitions) if placed else None
        if partitions is None:
            messages: list[Message] = [
                (key, r.value, source_headers(r)) for key, r in zip(keys, records, strict=True)
            ]
            await self.writer.publish(self.target, messages, rescue=rescue, in_order=True)
            return
        if self._direct is None or self._input_partitions is None:
            await asyncio.gather(*self._publishing(records, keys, partitions))
            return
        copartitioned = await self._known(self._input_partitions) == partitions
        publishing = functools.partial(self._publishing, partitions=partitions)
        shared = partitions if copartitioned else None
        await self._direct.send(records, keys, shared, publishing, dead_lettered=large)

    def _publishing(
        self, records: Sequence[RawRecord], keys: Sequence[bytes], partitions: int
    ) -> list[Awaitable[None]]:
        planned = partition_messages(records, keys, partitions, self.bundle_bytes)
        return [
            self.writer.publish(self.target.at(p), messages, rescue=_rescue, in_order=True)
            for p, messages in planned.items()
        ]

    async def direct_road_now(self) -> str | None:
        """The direct road this router sends records on (``direct_road`` of the partition
        count), or None while it copies every record (no direct route, or the two topics'
        counts differ): as ``forward`` decides, so waited for as ``forward`` waits for the
        counts. At a worker's start the brokers may not have said yet."""
        if self._input_partitions is None:
            return None
        partitions = await self._known(self._partitions)
        if partitions is None or await self._known(self._input_partitions) != partitions:
            return None
        return direct_road(partitions)

    async def _known(self, count: CachedCount) -> int | None:
        """``count``'s value; with a direct route, waited for while the brokers do not say:
        which road a record takes depends on it, and where records are applied they are
        checked against the road it gives (``direct_road_now``), so a record copied for
        want of it would later be taken for a stale router's and skipped."""
        value, asks = await count.get(), 1
        while value is None and self._direct is not None:
            if asks == _COUNT_WARN_AFTER:
                logger.warning(_COUNT_WAIT, count.topic, asks)
            await asyncio.sleep(_COUNT_RETRY_S)
            value, asks = await count.get(), asks + 1
        return value

    def held_roads(self, partition: int) -> Roads | None:
        """The roads this router routes ``partition`` by; None before it read them."""
        return None if self._direct is None else self._direct.held(partition)

    def forget(self) -> None:
        """After a rebalance: another worker may have claimed a road meanwhile."""
        if self._direct is not None:
            self._direct.forget()

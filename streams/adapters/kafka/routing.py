"""The routing stage: input records forwarded, unchanged, to an internal topic keyed by model.

Monitor state has one owner per model only if all of a model's events reach one consumer.
Producers key records as they like (by request id, or not at all), so the worker does not
monitor the input topic itself: for each fetched chunk it reads only each record's
``model_id`` and produces the record's value to ``<app_id>-predictions-by-model`` (likewise
labels) with the model id as key (Faust's ``group_by``, on the batch route). The monitoring
stage consumes that topic; the owner of a by-model partition owns its models' state.

Each forwarded record carries its source coordinates in headers (``SOURCE_HEADERS``), which
dead letters report and which fence re-forwarded copies (``applied_offsets``). A record whose
model id cannot be read is forwarded under the empty key, always to the same partition, and
is dead-lettered there by the decoder. The chunk is acked once the broker has every record.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence

import orjson

from streams.adapters.durable import BatchTopic, DurableWriter, Message
from streams.adapters.kafka.dead_letter import rescue
from streams.core.contract.event import RawRecord

__all__ = ["SOURCE_HEADERS", "Router", "model_key", "routed_record", "source_headers"]

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


class Router:
    """Forward each chunk of input records to ``target``, keyed by model id."""

    def __init__(
        self,
        target: BatchTopic,
        writer: DurableWriter,
        *,
        max_bytes: int | None = None,
        oversized: Callable[[list[RawRecord]], Awaitable[None]] | None = None,
    ) -> None:
        """Records over ``max_bytes`` go to ``oversized`` (which dead-letters them) instead
        of being copied: the decoder would refuse them anyway, and the by-model topic might
        not take them, so a truncated copy would lose the original's length and digest."""
        self.target = target
        self.writer = writer
        self.max_bytes = max_bytes
        self.oversized = oversized

    async def forward(self, records: Sequence[RawRecord]) -> None:
        """Return once the broker has every record, in order (see ``DurableWriter``)."""
        limit = self.max_bytes
        if limit is not None and self.oversized is not None:
            large = [r for r in records if len(r.value or b"") > limit]
            if large:
                await self.oversized(large)
                records = [r for r in records if len(r.value or b"") <= limit]
        messages: list[Message] = [
            (model_key(r.value, max_bytes=limit), r.value, source_headers(r)) for r in records
        ]
        await self.writer.publish(self.target, messages, rescue=rescue, in_order=True)

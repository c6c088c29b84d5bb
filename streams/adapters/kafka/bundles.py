"""Many input records in one by-model record: the routing stage's copies, framed.

Forwarding each input record as a record of its own cost the worker as much again as
monitoring it: a produce call and a delivery report per record, then a consumer record, a
headers dict and a ``RawRecord`` when it is read back (BENCHMARKS.md, "routing bundles").
The router now groups a chunk's records by the by-model partition their model maps to and
sends each partition's records, in their order, as bundles of up to ``bundle_bytes``.

A bundle's value is its records one after another, each a fixed header (``_FRAME``: source
partition, offset and timestamp, key and value lengths, -1 for none) then its key and value
bytes; its Kafka headers say it is a bundle and name the source topic. The records of one
source partition stay in source order within a by-model partition, across bundles too (one
in-order publish per partition), which the routing fence relies on (``applied_offsets``).
Every record of a bundle is read back with the bundle's place as ``read_at``.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from streams.core.contract.event import RawRecord

__all__ = ["BUNDLE_HEADER", "bundle_value", "framed_size", "is_bundle", "unbundled"]

BUNDLE_HEADER = "driftline.bundle"
_FRAME = struct.Struct(">iqqii")
_NONE = -1


def bundle_value(records: Sequence[RawRecord]) -> bytes:
    """``records`` framed one after another (see the module's text)."""
    pack = _FRAME.pack
    parts: list[bytes] = []
    for r in records:
        key, value = r.key, r.value
        parts.append(pack(r.partition, r.offset, r.timestamp_ms,
                          _NONE if key is None else len(key),
                          _NONE if value is None else len(value)))  # fmt: skip
        if key:
            parts.append(key)
        if value:
            parts.append(value)
    return b"".join(parts)


def framed_size(record: RawRecord) -> int:
    """The bytes ``record`` takes in a bundle."""
    return _FRAME.size + len(record.key or b"") + len(record.value or b"")


def is_bundle(headers: Sequence[tuple[str, bytes]] | None) -> bool:
    """Whether a by-model record's headers mark it a bundle (else it is one record)."""
    return any(name == BUNDLE_HEADER for name, _ in headers or ())


def unbundled(value: bytes, source: str, read_at: tuple[int, int]) -> list[RawRecord] | None:
    """The records framed in ``value``, each read at ``read_at``; None if it is not a whole
    bundle (cut or not one), for the caller to treat as the one record it is."""
    records = []
    at, end, size, unpack = 0, len(value), _FRAME.size, _FRAME.unpack_from
    try:
        while at < end:
            partition, offset, timestamp, key_length, value_length = unpack(value, at)
            at += size
            key = None if key_length == _NONE else value[at : at + key_length]
            at += max(key_length, 0)
            record_value = None if value_length == _NONE else value[at : at + value_length]
            at += max(value_length, 0)
            if at > end or key_length < _NONE or value_length < _NONE:
                return None
            records.append(RawRecord(record_value, timestamp, source, partition, offset, key,
                                     read_at))  # fmt: skip
    except struct.error:
        return None
    return records

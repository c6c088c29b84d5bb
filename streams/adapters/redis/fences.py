"""Which records a fence covers: the arithmetic of ``AppliedOffsets``, without Redis.

A fence is the last offset applied per partition read from, and, for records read from a
by-model topic, per source (``(partition read from, source topic, source partition)``): a
copy re-forwarded after a crash has a new offset there but its old source offset.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import groupby
from operator import attrgetter

from streams.core.contract.event import RawRecord

__all__ = ["Fence", "SourceKey", "last_offsets", "unapplied", "unapplied_events"]

#: ``(partition read from, source topic, source partition)``.
SourceKey = tuple[int, str, int]
#: A model's fence: applied offsets per partition read from, and source offsets.
Fence = tuple[dict[int, int], dict[SourceKey, int]]


def unapplied(
    records: Sequence[RawRecord],
    offsets: Mapping[int, int],
    sources: Mapping[SourceKey, int],
) -> list[RawRecord]:
    """The records of ``records`` not applied yet, given the last applied ``offsets`` (per
    partition read from) and ``sources`` (source offsets): a copy of a record that came
    earlier in the same batch is dropped as well."""
    seen = dict(sources)
    return [record for record in records if not _covered(record, offsets, seen)]


def unapplied_events(
    models: Sequence[str],
    positions: Sequence[tuple[int, int]],
    records: Sequence[RawRecord],
    fences: Mapping[str, Fence],
) -> list[int]:
    """Indexes of the decoded events (``models[i]`` decoded from the record of ``records``
    at ``positions[i]``, its ``(partition, offset)`` as the decoder gives it: the source's
    for a routed record) that their model's fence does not cover: the ones to apply.

    >>> r = [RawRecord(b"", 0, "t", 0, o) for o in (5, 6)]
    >>> unapplied_events(["a", "b"], [(0, 5), (0, 6)], r, {"a": ({0: 5}, {}), "b": ({}, {})})
    [1]
    """
    seen = {model: dict(sources) for model, (_, sources) in fences.items()}
    keep = []
    for i, (model, record) in enumerate(zip(models, _records_of(positions, records), strict=True)):
        applied = fences[model][0] if model in fences else {}
        if not _covered(record, applied, seen.setdefault(model, {})):
            keep.append(i)
    return keep


def _covered(record: RawRecord, applied: Mapping[int, int], seen: dict[SourceKey, int]) -> bool:
    """Whether ``applied`` (offsets per partition read from) or ``seen`` (source offsets,
    which a routed record not covered raises) covers ``record``."""
    partition, offset = record.position
    if offset <= applied.get(partition, -1):
        return True
    if record.read_at is not None:
        key = (partition, record.source, record.partition)
        if record.offset <= seen.get(key, -1):
            return True
        seen[key] = record.offset
    return False


def _records_of(
    positions: Sequence[tuple[int, int]], records: Sequence[RawRecord]
) -> list[RawRecord]:
    """The record each position was decoded from. The decoded events keep the records'
    order, so each is matched to the next record at its position: copies of one routed
    record (same source position) are told apart by their order."""
    found, at = [], 0
    for position in positions:
        start = at
        while at < len(records) and (records[at].partition, records[at].offset) != position:
            at += 1
        if at == len(records):  # not in order after all: the first record there
            at = start
            found.append(next(r for r in records if (r.partition, r.offset) == position))
            continue
        found.append(records[at])
        at += 1
    return found


def last_offsets(records: Sequence[RawRecord]) -> tuple[dict[int, int], dict[SourceKey, int]]:
    """The last offset per partition read from, and per source of the routed records."""
    offsets: dict[int, int] = {}
    sources: dict[SourceKey, int] = {}
    # A batch is runs of records read at one position (a bundle's) or from one partition:
    # a step per run, the records' offsets compared in C.
    for (read_at, source, partition), run in groupby(records, _RUN):
        last = max(map(_OFFSET, run))
        if read_at is None:
            offsets[partition] = max(offsets.get(partition, -1), last)
            continue
        at, offset = read_at
        offsets[at] = max(offsets.get(at, -1), offset)
        key = (at, source, partition)
        sources[key] = max(sources.get(key, -1), last)
    return offsets, sources


_RUN, _OFFSET = attrgetter("read_at", "source", "partition"), attrgetter("offset")
